// Package domain owns login domains (DESIGN §8.5): the configuration of
// external providers and of the domains that use them, the login-name
// forms that pick a domain, and the Router that asks a domain's providers
// by priority with failover and dead time. The providers themselves live
// in aaa/radius, aaa/tacacs and aaa/ldap; their secrets in the sealed
// store, never here.
package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Local is the built-in domain of local users: it cannot be deleted, only
// deactivated.
const Local = "Local"

// Provider types (a domain's realm is one of them).
const (
	TypeRADIUS = "radius"
	TypeTACACS = "tacacs"
	TypeLDAP   = "ldap"
)

// Limits.
const (
	MinTimeout, MaxTimeout   = 1, 60
	MinAttempts, MaxAttempts = 1, 10
	MinPriority, MaxPriority = 1, 100
)

// Config is the external-authentication part of the configuration.
type Config struct {
	Providers []ProviderConfig `json:"providers,omitempty"`
	Domains   []DomainConfig   `json:"domains,omitempty"`
	// Default is the domain of a bare login name; "" means Local.
	Default string `json:"default_domain,omitempty"`
	// LocalInactive deactivates the Local domain.
	LocalInactive bool `json:"local_inactive,omitempty"`
}

// ProviderConfig is one external server. Its secret (shared secret or
// bind password) is in the sealed store under SecretName(Name).
type ProviderConfig struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Host     string `json:"host"`
	Port     int    `json:"port,omitempty"`     // 0: the type's default
	Protocol string `json:"protocol,omitempty"` // radius: pap or chap
	Timeout  int    `json:"timeout,omitempty"`  // seconds; 0: 3
	Attempts int    `json:"attempts,omitempty"` // 0: 1
	// LDAP only.
	BaseDN        string     `json:"base_dn,omitempty"`
	BindDN        string     `json:"bind_dn,omitempty"`
	SSL           string     `json:"ssl,omitempty"`
	Validation    string     `json:"validation,omitempty"`
	CAFile        string     `json:"ca_file,omitempty"`
	Filter        string     `json:"filter,omitempty"`
	Authorization string     `json:"authorization,omitempty"`
	Attribute     string     `json:"attribute,omitempty"`
	GroupMaps     []GroupMap `json:"group_maps,omitempty"`
}

// GroupMap grants Roles to the members of the LDAP group DN.
type GroupMap struct {
	DN    string   `json:"dn"`
	Roles []string `json:"roles"`
}

// DomainConfig is one login domain.
type DomainConfig struct {
	Name     string         `json:"name"`
	Realm    string         `json:"realm"`
	Inactive bool           `json:"inactive,omitempty"`
	Members  []MemberConfig `json:"providers,omitempty"`
}

// MemberConfig puts a provider in a domain at a priority.
type MemberConfig struct {
	Provider string `json:"provider"`
	Priority int    `json:"priority"`
}

// SecretName is the sealed-store name of a provider's secret.
func SecretName(provider string) string { return "aaa/provider/" + provider }

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,31}$`)

// ValidateName checks a provider or domain name.
func ValidateName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid %s name %q: expected 1-32 characters, a letter first, then letters, digits, _ or -", kind, name)
	}
	return nil
}

// Clone returns a deep copy.
func (c Config) Clone() Config {
	c.Providers = slices.Clone(c.Providers)
	for i := range c.Providers {
		c.Providers[i].GroupMaps = slices.Clone(c.Providers[i].GroupMaps)
		for j := range c.Providers[i].GroupMaps {
			c.Providers[i].GroupMaps[j].Roles = slices.Clone(c.Providers[i].GroupMaps[j].Roles)
		}
	}
	c.Domains = slices.Clone(c.Domains)
	for i := range c.Domains {
		c.Domains[i].Members = slices.Clone(c.Domains[i].Members)
	}
	return c
}

// Normalize sorts providers and domains by name and members by priority.
func (c *Config) Normalize() {
	slices.SortStableFunc(c.Providers, func(a, b ProviderConfig) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(c.Domains, func(a, b DomainConfig) int { return strings.Compare(a.Name, b.Name) })
	for i := range c.Domains {
		slices.SortStableFunc(c.Domains[i].Members, func(a, b MemberConfig) int { return a.Priority - b.Priority })
	}
}

// Provider returns the provider called name.
func (c *Config) Provider(name string) (*ProviderConfig, bool) {
	for i := range c.Providers {
		if c.Providers[i].Name == name {
			return &c.Providers[i], true
		}
	}
	return nil, false
}

// Domain returns the domain called name (case-insensitive, as logins
// name it); Local is not stored and is never returned.
func (c *Config) Domain(name string) (*DomainConfig, bool) {
	for i := range c.Domains {
		if strings.EqualFold(c.Domains[i].Name, name) {
			return &c.Domains[i], true
		}
	}
	return nil, false
}

func (c *Config) providerNames() string {
	var n []string
	for _, p := range c.Providers {
		n = append(n, p.Name)
	}
	if len(n) == 0 {
		return "none configured"
	}
	return strings.Join(n, ", ")
}

func (c *Config) domainNames() string {
	n := []string{Local}
	for _, d := range c.Domains {
		n = append(n, d.Name)
	}
	return strings.Join(n, ", ")
}

func (c *Config) mustProvider(name string) (*ProviderConfig, error) {
	if p, ok := c.Provider(name); ok {
		return p, nil
	}
	return nil, fmt.Errorf("no provider %q: expected one of %s", name, c.providerNames())
}

func (c *Config) mustDomain(name string) (*DomainConfig, error) {
	if strings.EqualFold(name, Local) {
		return nil, fmt.Errorf("domain %s has no providers: it is the local users", Local)
	}
	if d, ok := c.Domain(name); ok {
		return d, nil
	}
	return nil, fmt.Errorf("no login domain %q: expected one of %s", name, c.domainNames())
}

// AddProvider adds p (validated).
func (c *Config) AddProvider(p ProviderConfig) error {
	if err := ValidateName("provider", p.Name); err != nil {
		return err
	}
	if _, ok := c.Provider(p.Name); ok {
		return fmt.Errorf("provider %q already exists: expected a new name (delete aaa provider %s first to change it)", p.Name, p.Name)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	c.Providers = append(c.Providers, p)
	return nil
}

// AddGroupMap adds (or replaces) the group map of an LDAP provider.
func (c *Config) AddGroupMap(provider, dn string, roles []string) error {
	p, err := c.mustProvider(provider)
	if err != nil {
		return err
	}
	if p.Type != TypeLDAP {
		return fmt.Errorf("provider %s is %s: group maps are for ldap providers", provider, p.Type)
	}
	gm := GroupMap{DN: dn, Roles: slices.Clone(roles)}
	if err := gm.validate(); err != nil {
		return err
	}
	for i := range p.GroupMaps {
		if strings.EqualFold(p.GroupMaps[i].DN, dn) {
			p.GroupMaps[i] = gm
			return nil
		}
	}
	p.GroupMaps = append(p.GroupMaps, gm)
	return nil
}

// DeleteProvider removes a provider no domain uses.
func (c *Config) DeleteProvider(name string) error {
	if _, err := c.mustProvider(name); err != nil {
		return err
	}
	var users []string
	for _, d := range c.Domains {
		for _, m := range d.Members {
			if m.Provider == name {
				users = append(users, d.Name)
			}
		}
	}
	if len(users) > 0 {
		return fmt.Errorf("provider %s is used by login domain %s: delete aaa login-domain %s provider %s first",
			name, strings.Join(users, ", "), users[0], name)
	}
	c.Providers = slices.DeleteFunc(c.Providers, func(p ProviderConfig) bool { return p.Name == name })
	return nil
}

// AddDomain adds an empty, active domain of realm.
func (c *Config) AddDomain(name, realm string) error {
	if err := ValidateName("login domain", name); err != nil {
		return err
	}
	if strings.EqualFold(name, Local) {
		return fmt.Errorf("login domain %s is built in: expected another name", Local)
	}
	if d, ok := c.Domain(name); ok {
		return fmt.Errorf("login domain %q already exists (as %s): expected a new name (names ignore case)", name, d.Name)
	}
	if err := validateType("realm", realm); err != nil {
		return err
	}
	c.Domains = append(c.Domains, DomainConfig{Name: name, Realm: realm})
	return nil
}

// AddMember puts provider in domain at priority (unique in the domain).
func (c *Config) AddMember(domain, provider string, priority int) error {
	d, err := c.mustDomain(domain)
	if err != nil {
		return err
	}
	p, err := c.mustProvider(provider)
	if err != nil {
		return err
	}
	if p.Type != d.Realm {
		return fmt.Errorf("provider %s is %s but login domain %s has realm %s: expected a %s provider", provider, p.Type, d.Name, d.Realm, d.Realm)
	}
	if priority < MinPriority || priority > MaxPriority {
		return fmt.Errorf("invalid priority %d: expected %d-%d", priority, MinPriority, MaxPriority)
	}
	for _, m := range d.Members {
		switch {
		case m.Provider == provider:
			return fmt.Errorf("provider %s is already in login domain %s (priority %d): delete it first to change its priority", provider, d.Name, m.Priority)
		case m.Priority == priority:
			return fmt.Errorf("priority %d is taken by provider %s in login domain %s: expected a unique priority", priority, m.Provider, d.Name)
		}
	}
	d.Members = append(d.Members, MemberConfig{Provider: provider, Priority: priority})
	return nil
}

// DeleteMember takes provider out of domain.
func (c *Config) DeleteMember(domain, provider string) error {
	d, err := c.mustDomain(domain)
	if err != nil {
		return err
	}
	n := len(d.Members)
	d.Members = slices.DeleteFunc(d.Members, func(m MemberConfig) bool { return m.Provider == provider })
	if len(d.Members) == n {
		return fmt.Errorf("provider %q is not in login domain %s", provider, d.Name)
	}
	return nil
}

// SetActive activates or deactivates a domain, Local included.
func (c *Config) SetActive(domain string, active bool) error {
	if strings.EqualFold(domain, Local) {
		c.LocalInactive = !active
		return nil
	}
	d, err := c.mustDomain(domain)
	if err != nil {
		return err
	}
	d.Inactive = !active
	return nil
}

// SetDefault makes domain the default for bare login names.
func (c *Config) SetDefault(domain string) error {
	if strings.EqualFold(domain, Local) {
		c.Default = ""
		return nil
	}
	d, err := c.mustDomain(domain)
	if err != nil {
		return err
	}
	c.Default = d.Name
	return nil
}

// DefaultDomain names the default domain (Local unless set).
func (c *Config) DefaultDomain() string {
	if c.Default == "" {
		return Local
	}
	return c.Default
}

// DeleteDomain removes a domain; Local never, the default only after
// another default is set.
func (c *Config) DeleteDomain(name string) error {
	if strings.EqualFold(name, Local) {
		return fmt.Errorf("login domain %s cannot be deleted: deactivate it instead (set aaa login-domain %s state inactive)", Local, Local)
	}
	d, err := c.mustDomain(name)
	if err != nil {
		return err
	}
	if strings.EqualFold(c.Default, d.Name) {
		return fmt.Errorf("login domain %s is the default: set aaa default-login-domain to another domain first", d.Name)
	}
	dn := d.Name
	c.Domains = slices.DeleteFunc(c.Domains, func(x DomainConfig) bool { return x.Name == dn })
	return nil
}

// Validate checks the whole configuration (on load and after each change).
func (c Config) Validate() error {
	seen := map[string]bool{}
	for _, p := range c.Providers {
		if err := ValidateName("provider", p.Name); err != nil {
			return err
		}
		if seen[p.Name] {
			return fmt.Errorf("provider %q appears twice", p.Name)
		}
		seen[p.Name] = true
		if err := p.Validate(); err != nil {
			return fmt.Errorf("provider %s: %w", p.Name, err)
		}
	}
	doms := map[string]bool{}
	for _, d := range c.Domains {
		if err := ValidateName("login domain", d.Name); err != nil {
			return err
		}
		key := strings.ToLower(d.Name)
		if doms[key] || key == strings.ToLower(Local) {
			return fmt.Errorf("login domain %q appears twice (names ignore case)", d.Name)
		}
		doms[key] = true
		if err := validateType("realm", d.Realm); err != nil {
			return fmt.Errorf("login domain %s: %w", d.Name, err)
		}
		prios, provs := map[int]bool{}, map[string]bool{}
		for _, m := range d.Members {
			p, ok := c.Provider(m.Provider)
			switch {
			case !ok:
				return fmt.Errorf("login domain %s: no provider %q", d.Name, m.Provider)
			case p.Type != d.Realm:
				return fmt.Errorf("login domain %s: provider %s is %s, the realm is %s", d.Name, p.Name, p.Type, d.Realm)
			case prios[m.Priority] || provs[m.Provider]:
				return fmt.Errorf("login domain %s: priority %d or provider %s appears twice", d.Name, m.Priority, m.Provider)
			case m.Priority < MinPriority || m.Priority > MaxPriority:
				return fmt.Errorf("login domain %s: priority %d: expected %d-%d", d.Name, m.Priority, MinPriority, MaxPriority)
			}
			prios[m.Priority], provs[m.Provider] = true, true
		}
	}
	if c.Default != "" {
		if _, ok := c.Domain(c.Default); !ok {
			return fmt.Errorf("default login domain %q does not exist", c.Default)
		}
	}
	return nil
}

// Validate checks one provider's settings.
func (p ProviderConfig) Validate() error {
	if err := validateType("type", p.Type); err != nil {
		return err
	}
	if err := ValidateHost(p.Host); err != nil {
		return err
	}
	if p.Port < 0 || p.Port > 65535 {
		return fmt.Errorf("invalid port %d: expected 1-65535", p.Port)
	}
	if p.Timeout != 0 && (p.Timeout < MinTimeout || p.Timeout > MaxTimeout) {
		return fmt.Errorf("invalid timeout %d: expected %d-%d seconds", p.Timeout, MinTimeout, MaxTimeout)
	}
	if p.Attempts != 0 && (p.Attempts < MinAttempts || p.Attempts > MaxAttempts) {
		return fmt.Errorf("invalid attempts %d: expected %d-%d", p.Attempts, MinAttempts, MaxAttempts)
	}
	ldapOnly := p.BaseDN != "" || p.BindDN != "" || p.SSL != "" || p.Validation != "" || p.CAFile != "" ||
		p.Filter != "" || p.Authorization != "" || p.Attribute != "" || len(p.GroupMaps) > 0
	switch p.Type {
	case TypeRADIUS:
		if p.Protocol != "" && p.Protocol != "pap" && p.Protocol != "chap" {
			return fmt.Errorf("invalid protocol %q: expected pap or chap", p.Protocol)
		}
	case TypeTACACS:
		if p.Protocol != "" {
			return fmt.Errorf("protocol is for radius providers; tacacs authenticates with PAP")
		}
	case TypeLDAP:
		if p.Protocol != "" {
			return fmt.Errorf("protocol is for radius providers")
		}
		ldapOnly = false
		if p.BaseDN == "" || p.BindDN == "" {
			return fmt.Errorf("ldap provider needs base-dn DN and bind-dn DN")
		}
		if err := oneOf("ssl", p.SSL, "off", "starttls", "ldaps"); err != nil {
			return err
		}
		if err := oneOf("validation", p.Validation, "permissive", "restrictive"); err != nil {
			return err
		}
		if err := oneOf("authorization", p.Authorization, "av-pair", "group-map"); err != nil {
			return err
		}
		if p.Filter != "" && strings.Count(p.Filter, "{username}") != 1 {
			return fmt.Errorf("invalid filter %q: expected {username} exactly once, such as (cn={username})", p.Filter)
		}
		if p.CAFile != "" && !strings.HasPrefix(p.CAFile, "/") {
			return fmt.Errorf("invalid ca-file %q: expected an absolute path", p.CAFile)
		}
		for _, g := range p.GroupMaps {
			if err := g.validate(); err != nil {
				return err
			}
		}
	}
	if ldapOnly {
		return fmt.Errorf("base-dn, bind-dn, ssl, validation, ca-file, filter, authorization, attribute and group maps are for ldap providers")
	}
	return nil
}

func (g GroupMap) validate() error {
	if g.DN == "" || !strings.Contains(g.DN, "=") || strings.ContainsAny(g.DN, "\n\r") {
		return fmt.Errorf("invalid group DN %q: expected a DN such as cn=admins,ou=groups,dc=example,dc=com", g.DN)
	}
	if len(g.Roles) == 0 {
		return fmt.Errorf("group map %s names no role", g.DN)
	}
	return nil
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.:-]{0,252})$`)

// ValidateHost checks a host name or IP address.
func ValidateHost(h string) error {
	if !hostRE.MatchString(h) {
		return fmt.Errorf("invalid host %q: expected a host name or an IP address", h)
	}
	return nil
}

func validateType(what, t string) error {
	return oneOf(what, t, TypeRADIUS, TypeTACACS, TypeLDAP)
}

func oneOf(what, v string, allowed ...string) error {
	if v == "" && what != "type" && what != "realm" {
		return nil
	}
	if !slices.Contains(allowed, v) {
		return fmt.Errorf("invalid %s %q: expected %s", what, v, strings.Join(allowed, ", "))
	}
	return nil
}

// Commands returns the shell commands that recreate c (no secret: each
// provider line ends in prompt-secret, which asks for it again).
func (c Config) Commands() []string {
	var out []string
	for _, p := range c.Providers {
		out = append(out, p.Command())
		for _, g := range p.GroupMaps {
			out = append(out, fmt.Sprintf("add aaa provider %s group-map %s roles %s", p.Name, quote(g.DN), strings.Join(g.Roles, ",")))
		}
	}
	for _, d := range c.Domains {
		out = append(out, fmt.Sprintf("add aaa login-domain %s realm %s", d.Name, d.Realm))
		for _, m := range d.Members {
			out = append(out, fmt.Sprintf("add aaa login-domain %s provider %s priority %d", d.Name, m.Provider, m.Priority))
		}
		if d.Inactive {
			out = append(out, fmt.Sprintf("set aaa login-domain %s state inactive", d.Name))
		}
	}
	if c.LocalInactive {
		out = append(out, "set aaa login-domain "+Local+" state inactive")
	}
	if c.Default != "" {
		out = append(out, "set aaa default-login-domain "+c.Default)
	}
	return out
}

// Command is the `add aaa provider` line for p.
func (p ProviderConfig) Command() string {
	w := []string{"add aaa provider", p.Name, "type", p.Type, "host", p.Host}
	opt := func(k, v string) {
		if v != "" {
			w = append(w, k, v)
		}
	}
	num := func(k string, v int) {
		if v != 0 {
			w = append(w, k, strconv.Itoa(v))
		}
	}
	num("port", p.Port)
	opt("protocol", p.Protocol)
	num("timeout", p.Timeout)
	num("attempts", p.Attempts)
	if p.Type == TypeLDAP {
		w = append(w, "base-dn", quote(p.BaseDN), "bind-dn", quote(p.BindDN))
		opt("ssl", p.SSL)
		opt("validation", p.Validation)
		opt("ca-file", quote(p.CAFile))
		opt("filter", quote(p.Filter))
		opt("authorization", p.Authorization)
		opt("attribute", p.Attribute)
	}
	w = append(w, "prompt-secret")
	return strings.Join(w, " ")
}

func quote(s string) string {
	if s == "" || !strings.ContainsAny(s, " \t\"'") {
		return s
	}
	return strconv.Quote(s)
}

// IsZero reports an empty configuration (nothing to save).
func (c Config) IsZero() bool {
	return len(c.Providers) == 0 && len(c.Domains) == 0 && c.Default == "" && !c.LocalInactive
}
