package testbed

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/identity"
)

// Defaults of Options.
const (
	DefaultSites   = 2
	DefaultPerSite = 2
	DefaultPrefix  = "orch-"
	DefaultDir     = "/var/tmp/orchd-testbed"
	// EnvDir overrides DefaultDir.
	EnvDir = "ORCHD_TESTBED_DIR"
)

var (
	// DefaultMgmtNet is the management network: the host bridge gets its
	// base+1, node S_M gets config.DeriveAddress(MgmtNet, S_M).
	DefaultMgmtNet = netip.MustParsePrefix("198.19.128.0/20")
	// AllowedNet is the only range the testbed ever puts addresses in: the
	// benchmarking range (RFC 2544).
	AllowedNet = netip.MustParsePrefix("198.18.0.0/15")
	// InternalNet and ExternalNet are clishd's default sync networks. The
	// testbed never assigns them (the daemon does); it only reports them.
	InternalNet = netip.MustParsePrefix("198.18.0.0/16")
	ExternalNet = netip.MustParsePrefix("198.19.0.0/17")
)

// Options describe a testbed. The zero value means the defaults.
type Options struct {
	Sites, PerSite int // default 2, 2
	// AdminPassword is passed to `clishd init --admin-password-stdin`; ""
	// means the flag is not passed. It is never written to the journal.
	AdminPassword string
	// Dir holds the journal and the node roots (Dir/nodes/S_M); default
	// $ORCHD_TESTBED_DIR or /var/tmp/orchd-testbed.
	Dir string
	// Prefix names the namespaces and links; default "orch-".
	Prefix string
	// MgmtNet is the management network (default 198.19.128.0/20).
	MgmtNet netip.Prefix
	// BinDir holds clishd, clish, orch_stat and hcp; default the directory
	// of the running executable.
	BinDir string
	// InitArgs are appended to every `clishd init`.
	InitArgs []string
	// Logf receives progress and warnings; nil means silent.
	Logf func(string, ...any)
}

// withDefaults fills unset fields and makes Dir and BinDir absolute.
func (o Options) withDefaults() (Options, error) {
	if o.Sites == 0 {
		o.Sites = DefaultSites
	}
	if o.PerSite == 0 {
		o.PerSite = DefaultPerSite
	}
	if o.Dir == "" {
		o.Dir = os.Getenv(EnvDir)
	}
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if !o.MgmtNet.IsValid() {
		o.MgmtNet = DefaultMgmtNet
	}
	if o.BinDir == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("finding the binary directory: %w (set BinDir)", err)
		}
		o.BinDir = filepath.Dir(exe)
	}
	var err error
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return o, fmt.Errorf("testbed directory %q: %w", o.Dir, err)
	}
	if o.BinDir, err = filepath.Abs(o.BinDir); err != nil {
		return o, fmt.Errorf("binary directory %q: %w", o.BinDir, err)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o, nil
}

// Validate fills in the defaults and checks the options without touching
// the system: sizes, prefix, link name lengths and addresses.
func (o Options) Validate() error {
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	return o.validate()
}

func (o Options) validate() error {
	if o.Sites < 1 || o.Sites > identity.MaxSite {
		return fmt.Errorf("sites %d: expected 1 to %d", o.Sites, identity.MaxSite)
	}
	if o.PerSite < 1 || o.PerSite > identity.MaxMember {
		return fmt.Errorf("orchestrators per site %d: expected 1 to %d", o.PerSite, identity.MaxMember)
	}
	if o.Prefix == "" || strings.Trim(o.Prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
		return fmt.Errorf("prefix %q: expected letters, digits, '-', '_' or '.'", o.Prefix)
	}
	n := names{o.Prefix}
	last := identity.ID{Site: o.Sites, Member: o.PerSite}
	for _, l := range []string{n.vethSwitch('i', last), n.vethNode('i', last), n.mgmtBridge(), n.switchNS()} {
		if len(l) > maxLinkName {
			return fmt.Errorf("prefix %q too long: link name %q has %d characters, the kernel allows %d", o.Prefix, l, len(l), maxLinkName)
		}
	}
	m := o.MgmtNet
	if !m.Addr().Is4() || m.Bits() > 30 || !AllowedNet.Contains(m.Masked().Addr()) || m.Bits() < AllowedNet.Bits() {
		return fmt.Errorf("management network %s: expected an IPv4 network of at least 4 addresses inside %s", m, AllowedNet)
	}
	for _, s := range []netip.Prefix{InternalNet, ExternalNet} {
		if s.Overlaps(m) {
			return fmt.Errorf("management network %s overlaps the sync network %s", m, s)
		}
	}
	for _, net := range []netip.Prefix{m, InternalNet, ExternalNet} {
		if _, err := config.DeriveAddress(net, last); err != nil {
			return fmt.Errorf("%d sites of %d orchestrators: %w", o.Sites, o.PerSite, err)
		}
	}
	return nil
}

// ids lists the orchestrators of the topology, sorted.
func (o Options) ids() []identity.ID {
	var ids []identity.ID
	for s := 1; s <= o.Sites; s++ {
		for m := 1; m <= o.PerSite; m++ {
			ids = append(ids, identity.ID{Site: s, Member: m})
		}
	}
	return ids
}

// hostMgmt is the host bridge's address: MgmtNet base+1.
func (o Options) hostMgmt() netip.Prefix {
	return netip.PrefixFrom(o.MgmtNet.Masked().Addr().Next(), o.MgmtNet.Bits())
}

// JournalFile is where the journal of a testbed in dir lives.
func JournalFile(dir string) string { return filepath.Join(dir, "testbed.json") }

// NodesDir holds the node roots.
func NodesDir(dir string) string { return filepath.Join(dir, "nodes") }
