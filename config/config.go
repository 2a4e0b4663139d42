// Package config owns clishd's configuration: its keys, defaults, the file /
// CLISHD_* environment / flag layering (viper) and the validation that turns
// a bad value into one error naming the key and the expected form.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Roles of the two sync ports.
const (
	RoleInternal = "internal"
	RoleExternal = "external"
)

// SyncPort is one configured sync interface.
type SyncPort struct {
	Role      string
	Interface string
	// Network is the sync network; addresses of every orchestrator on it are
	// derived from their IDs unless Address overrides ours.
	Network netip.Prefix
	// Address, when valid, overrides the derived address of this orchestrator.
	Address netip.Prefix
}

// AddressFor returns the address orchestrator id has on this port: the
// network base plus site*256 + member, with the network's prefix length.
// For ourselves use Config.PortAddress, which honours the override.
func (p SyncPort) AddressFor(id identity.ID) (netip.Prefix, error) {
	return DeriveAddress(p.Network, id)
}

// DeriveAddress places id in network: base + site*256 + member.
func DeriveAddress(network netip.Prefix, id identity.ID) (netip.Prefix, error) {
	base := network.Masked().Addr()
	if !base.Is4() {
		return netip.Prefix{}, fmt.Errorf("network %s is not IPv4", network)
	}
	b := base.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(id.Site)<<8 | uint32(id.Member)
	a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	if !network.Contains(a) {
		return netip.Prefix{}, fmt.Errorf("address for %s (%s) falls outside network %s", id, a, network)
	}
	return netip.PrefixFrom(a, network.Bits()), nil
}

// Config is a validated clishd configuration.
type Config struct {
	ID identity.ID
	// Orchestrators is the expected topology, ourselves included.
	Orchestrators []identity.ID
	SyncTCPPort   int
	Internal      SyncPort
	External      SyncPort
	// MgmtAddress is where the SSH server listens; invalid means all addresses.
	MgmtAddress netip.Addr
	SSHPort     int
	// ManagementPort is the trusted manager API's HTTPS port on MgmtAddress
	// (DESIGN §10); 0 turns the API off.
	ManagementPort int

	CertValidity time.Duration
	RenewBefore  time.Duration
	Heartbeat    time.Duration
	DeadAfter    time.Duration

	LogLevel  string
	LogFormat string
	// StateRefresh is how often the state file is rewritten even without a
	// change, so readers can tell a live daemon from a stuck one.
	StateRefresh time.Duration
	// LockoutMinute is how long a "minute" of failed-lock-duration lasts:
	// always 1m in service; tests shorten it (key test.lockout_minute) to
	// see a lock expire without waiting minutes.
	LockoutMinute time.Duration

	// File is the config file that was read ("" if none existed).
	File string
}

// Port returns the sync port of role.
func (c *Config) Port(role string) SyncPort {
	if role == RoleExternal {
		return c.External
	}
	return c.Internal
}

// PortAddress returns our own address on port p.
func (c *Config) PortAddress(p SyncPort) (netip.Prefix, error) {
	if p.Address.IsValid() {
		return p.Address, nil
	}
	return p.AddressFor(c.ID)
}

// PeerPort says over which sync port we reach peer: same site → internal.
func (c *Config) PeerPort(peer identity.ID) SyncPort {
	if peer.Site == c.ID.Site {
		return c.Internal
	}
	return c.External
}

// Peers returns the expected peers: the topology without ourselves.
func (c *Config) Peers() []identity.ID {
	var out []identity.ID
	for _, id := range c.Orchestrators {
		if id != c.ID {
			out = append(out, id)
		}
	}
	return out
}

// Defaults are the values used when neither file, environment nor flag sets a key.
var Defaults = map[string]any{
	"id":                      "",
	"topology.orchestrators":  "",
	"sync.port":               7443,
	"sync.internal.interface": "sync-int",
	"sync.internal.network":   "198.18.0.0/16",
	"sync.internal.address":   "",
	"sync.external.interface": "sync-ext",
	"sync.external.network":   "198.19.0.0/17",
	"sync.external.address":   "",
	"mgmt.address":            "",
	"ssh.port":                22,
	"management.port":         8443,
	"auth.cert_validity":      "8760h",
	"auth.renew_before":       "720h",
	"peers.heartbeat":         "250ms",
	"peers.dead_after":        "750ms",
	"log.level":               "info",
	"log.format":              "auto",
	"state.refresh":           "1s",
	"test.lockout_minute":     "1m",
}

// KeyError is a bad configuration value: which key, what was there, what is expected.
type KeyError struct {
	Key, Value, Expected string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("config key %s: invalid value %q: expected %s", e.Key, e.Value, e.Expected)
}

// Load reads configuration from file (if it exists; "" means none), CLISHD_*
// environment variables and flags (bound by their key names), in rising
// precedence, and validates it.
func Load(file string, flags *pflag.FlagSet) (*Config, error) {
	var m map[string]any
	used := ""
	if file != "" {
		if _, err := os.Stat(file); err == nil {
			raw, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("reading config file: %w", err)
			}
			if m, err = parseYAML(raw); err != nil {
				return nil, fmt.Errorf("config file %s: %w", file, err)
			}
			used = file
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading config file: %w", err)
		}
	}
	c, err := load(m, flags)
	if err != nil {
		return nil, err
	}
	c.File = used
	return c, nil
}

// Parse validates the YAML config document doc on its own (no environment,
// no flags): what `clishd init` checks before writing anything.
func Parse(doc []byte) (*Config, error) {
	m, err := parseYAML(doc)
	if err != nil {
		return nil, err
	}
	v := viper.New()
	for k, d := range Defaults {
		v.SetDefault(k, d)
	}
	if err := v.MergeConfigMap(m); err != nil {
		return nil, err
	}
	if err := unknownKeys(v); err != nil {
		return nil, err
	}
	return fromViper(v)
}

func load(m map[string]any, flags *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	for k, d := range Defaults {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix("CLISHD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if m != nil {
		if err := v.MergeConfigMap(m); err != nil {
			return nil, fmt.Errorf("merging config file: %w", err)
		}
	}
	if flags != nil {
		flags.VisitAll(func(f *pflag.Flag) {
			if _, ok := Defaults[f.Name]; ok {
				v.BindPFlag(f.Name, f)
			}
		})
	}
	if err := unknownKeys(v); err != nil {
		return nil, err
	}
	return fromViper(v)
}

func unknownKeys(v *viper.Viper) error {
	for _, k := range v.AllKeys() {
		if _, ok := Defaults[k]; !ok && k != "root" {
			return &KeyError{Key: k, Value: fmt.Sprint(v.Get(k)), Expected: "no such key (known keys: " + strings.Join(knownKeys(), ", ") + ")"}
		}
	}
	return nil
}

func knownKeys() []string {
	var ks []string
	for k := range Defaults {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// getter accumulates the first validation error so fromViper reads straight.
type getter struct {
	v   *viper.Viper
	err error
}

func (g *getter) fail(key, val, expected string) {
	if g.err == nil {
		g.err = &KeyError{Key: key, Value: val, Expected: expected}
	}
}

func (g *getter) str(key string) string {
	switch x := g.v.Get(key).(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(x)
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, fmt.Sprint(e))
		}
		return strings.Join(parts, ",")
	case []string:
		return strings.Join(x, ",")
	default:
		return fmt.Sprint(x)
	}
}

func (g *getter) intIn(key string, lo, hi int) int {
	s := g.str(key)
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		g.fail(key, s, fmt.Sprintf("an integer from %d to %d", lo, hi))
	}
	return n
}

func (g *getter) duration(key string, lo, hi time.Duration) time.Duration {
	s := g.str(key)
	d, err := time.ParseDuration(s)
	if err != nil || d < lo || d > hi {
		g.fail(key, s, fmt.Sprintf("a duration from %v to %v such as %q", lo, hi, Defaults[key]))
	}
	return d
}

func (g *getter) network(key string) netip.Prefix {
	s := g.str(key)
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Bits() > 24 || p.Masked() != p {
		g.fail(key, s, "an IPv4 network of /24 or larger such as "+fmt.Sprint(Defaults[key]))
	}
	return p
}

func (g *getter) optPrefix(key string) netip.Prefix {
	s := g.str(key)
	if s == "" {
		return netip.Prefix{}
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Bits() == 0 || p.Bits() > 30 {
		g.fail(key, s, "an IPv4 address with prefix length such as 198.18.1.1/24, or empty to derive it from the ID")
	}
	return p
}

func (g *getter) iface(key string) string {
	s := g.str(key)
	if s == "" || len(s) > 15 || strings.ContainsAny(s, "/ \t\n:") || s == "." || s == ".." {
		g.fail(key, s, "a Linux interface name of 1-15 characters without '/', ':' or spaces")
	}
	return s
}

func (g *getter) oneOf(key string, opts ...string) string {
	s := g.str(key)
	for _, o := range opts {
		if s == o {
			return s
		}
	}
	g.fail(key, s, "one of "+strings.Join(opts, ", "))
	return s
}

func fromViper(v *viper.Viper) (*Config, error) {
	g := &getter{v: v}
	c := &Config{}
	idStr := g.str("id")
	if idStr == "" {
		g.fail("id", "", "this orchestrator's ID S_M such as 1_1 (run clishd init --id S_M)")
	} else if id, err := identity.ParseID(idStr); err != nil {
		g.fail("id", idStr, "this orchestrator's ID S_M such as 1_2")
	} else {
		c.ID = id
	}
	if topo := g.str("topology.orchestrators"); topo != "" {
		ids, err := identity.ParseIDList(strings.ReplaceAll(topo, " ", ""))
		if err != nil {
			g.fail("topology.orchestrators", topo, "a list of orchestrator IDs such as 1_1,1_2,2_1,2_2 ("+err.Error()+")")
		}
		c.Orchestrators = ids
	}
	c.SyncTCPPort = g.intIn("sync.port", 1, 65535)
	c.Internal = SyncPort{Role: RoleInternal, Interface: g.iface("sync.internal.interface"),
		Network: g.network("sync.internal.network"), Address: g.optPrefix("sync.internal.address")}
	c.External = SyncPort{Role: RoleExternal, Interface: g.iface("sync.external.interface"),
		Network: g.network("sync.external.network"), Address: g.optPrefix("sync.external.address")}
	if s := g.str("mgmt.address"); s != "" {
		a, err := netip.ParseAddr(s)
		if err != nil {
			g.fail("mgmt.address", s, "an IP address such as 198.19.129.1, or empty for all addresses")
		}
		c.MgmtAddress = a
	}
	c.SSHPort = g.intIn("ssh.port", 1, 65535)
	c.ManagementPort = g.intIn("management.port", 0, 65535)
	c.CertValidity = g.duration("auth.cert_validity", time.Minute, 10*365*24*time.Hour)
	c.RenewBefore = g.duration("auth.renew_before", time.Second, 10*365*24*time.Hour)
	c.Heartbeat = g.duration("peers.heartbeat", 10*time.Millisecond, time.Minute)
	c.DeadAfter = g.duration("peers.dead_after", 50*time.Millisecond, 10*time.Minute)
	c.LogLevel = g.oneOf("log.level", "debug", "info", "warn", "error")
	c.LogFormat = g.oneOf("log.format", "auto", "text", "json")
	c.StateRefresh = g.duration("state.refresh", 100*time.Millisecond, time.Minute)
	c.LockoutMinute = g.duration("test.lockout_minute", time.Second, time.Minute)
	if g.err != nil {
		return nil, g.err
	}
	// Cross-key rules, checked once every key parsed.
	switch {
	case c.RenewBefore >= c.CertValidity:
		g.fail("auth.renew_before", g.str("auth.renew_before"), fmt.Sprintf("less than auth.cert_validity (%v)", c.CertValidity))
	case c.DeadAfter <= c.Heartbeat:
		g.fail("peers.dead_after", g.str("peers.dead_after"), fmt.Sprintf("longer than peers.heartbeat (%v)", c.Heartbeat))
	case c.Internal.Interface == c.External.Interface:
		g.fail("sync.external.interface", c.External.Interface, "an interface other than sync.internal.interface")
	}
	if g.err == nil && len(c.Orchestrators) > 0 {
		found := false
		for _, id := range c.Orchestrators {
			if id == c.ID {
				found = true
			}
		}
		if !found {
			g.fail("topology.orchestrators", g.str("topology.orchestrators"), "a list that includes this orchestrator's own ID "+c.ID.String())
		}
	}
	if g.err == nil {
		for _, p := range []SyncPort{c.Internal, c.External} {
			key := "sync." + p.Role + ".network"
			for _, id := range append([]identity.ID{c.ID}, c.Orchestrators...) {
				if _, err := p.AddressFor(id); err != nil {
					g.fail(key, p.Network.String(), "a network large enough for site*256+member of every orchestrator ("+err.Error()+")")
					break
				}
			}
		}
	}
	if g.err != nil {
		return nil, g.err
	}
	if len(c.Orchestrators) == 0 {
		c.Orchestrators = []identity.ID{c.ID}
	}
	return c, nil
}
