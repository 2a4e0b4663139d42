package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/domain"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/shell"
)

// registerProviderCommands adds the external authentication commands
// (DESIGN §8.5): providers, login domains, and the login test.
func (a *Agent) registerProviderCommands(e *shell.Engine, s *adminSession) {
	change := func(fn func(*domain.Config) error) error {
		err := a.db.Update(func(d *configdb.Doc) error { return fn(&d.ExternalAuth) })
		a.markDirty()
		return err
	}
	providers := func() []string {
		var out []string
		for _, p := range a.db.Running().ExternalAuth.Providers {
			out = append(out, p.Name)
		}
		return out
	}
	domains := func() []string {
		out := []string{domain.Local}
		for _, d := range a.db.Running().ExternalAuth.Domains {
			out = append(out, d.Name)
		}
		return out
	}
	common := "[port <port:number:1-65535>] [timeout <timeout:number:1-60>] [attempts <attempts:number:1-10>] [prompt-secret]"
	describe := map[string]string{
		"prompt-secret": "ask for the shared secret or bind password (answer key \"secret\"); required",
		"timeout":       "seconds to wait for each answer (default 3)",
		"attempts":      "tries per login (default 1)",
	}
	addProvider := func(c *shell.Ctx, x shell.Args, typ string) error {
		pc := domain.ProviderConfig{Name: x.String("name"), Type: typ, Host: x.String("host"),
			Port: x.Int("port"), Timeout: x.Int("timeout"), Attempts: x.Int("attempts")}
		if typ == domain.TypeRADIUS {
			pc.Protocol = x.String("protocol")
		}
		if typ == domain.TypeLDAP {
			pc.BaseDN, pc.BindDN, pc.SSL, pc.Validation = x.String("basedn"), x.String("binddn"), x.String("ssl"), x.String("validation")
			pc.CAFile, pc.Filter, pc.Authorization, pc.Attribute = x.String("cafile"), x.String("filter"), x.String("authz"), x.String("attr")
		}
		// Validate before asking anything: a bad line changes nothing.
		cur := a.db.Running().ExternalAuth
		if err := cur.AddProvider(pc); err != nil {
			return err
		}
		if !x.Has("prompt-secret") {
			return fmt.Errorf("missing prompt-secret: expected the provider's %s to be asked (answer key \"secret\")", secretWord(typ))
		}
		st := a.providerSecrets()
		if st == nil || st.Sealed() {
			return errors.New(sealedMessage)
		}
		secret, err := askSecret(c, secretWord(typ))
		if err != nil {
			return err
		}
		if err := st.Put(domain.SecretName(pc.Name), secretOwner, []byte(secret)); err != nil {
			return fmt.Errorf("storing the secret of provider %s: %w", pc.Name, err)
		}
		if err := change(func(d *domain.Config) error { return d.AddProvider(pc) }); err != nil {
			st.Delete(domain.SecretName(pc.Name))
			return err
		}
		fmt.Fprintf(c.Out, "provider %s added (%s %s); its %s is in the sealed store\n", pc.Name, typ, pc.Host, secretWord(typ))
		return nil
	}
	e.Register(shell.Command{Syntax: "add aaa provider <name:text> type radius host <host:text> [protocol <protocol:enum:pap|chap>] " + common,
		Help: "add a RADIUS server (port 1812, PAP unless protocol chap)", Write: true, Feature: aaa.FeatureAAA, Describe: describe,
		Run: func(c *shell.Ctx, x shell.Args) error { return addProvider(c, x, domain.TypeRADIUS) }})
	e.Register(shell.Command{Syntax: "add aaa provider <name:text> type tacacs host <host:text> " + common,
		Help: "add a TACACS+ server (port 49)", Write: true, Feature: aaa.FeatureAAA, Describe: describe,
		Run: func(c *shell.Ctx, x shell.Args) error { return addProvider(c, x, domain.TypeTACACS) }})
	e.Register(shell.Command{Syntax: "add aaa provider <name:text> type ldap host <host:text> [base-dn <basedn:text>] [bind-dn <binddn:text>] " +
		"[ssl <ssl:enum:off|starttls|ldaps>] [validation <validation:enum:permissive|restrictive>] [ca-file <cafile:text>] " +
		"[filter <filter:text>] [authorization <authz:enum:av-pair|group-map>] [attribute <attr:text>] " + common,
		Help: "add an LDAP server (port 389, 636 for ldaps; base-dn and bind-dn required)", Write: true, Feature: aaa.FeatureAAA, Describe: describe,
		Run: func(c *shell.Ctx, x shell.Args) error { return addProvider(c, x, domain.TypeLDAP) }})
	e.Register(shell.Command{Syntax: "add aaa provider <name:text> group-map <dn:text> roles <roles:roles>",
		Help: "grant roles to members of an LDAP group (authorization group-map)", Write: true, Feature: aaa.FeatureAAA,
		Complete: map[string]shell.Completer{"name": providers, "roles": a.roleNames},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return change(func(d *domain.Config) error {
				return d.AddGroupMap(x.String("name"), x.String("dn"), x.Strings("roles"))
			})
		}})
	e.Register(shell.Command{Syntax: "delete aaa provider <name:text>", Help: "delete a provider no login domain uses, and its secret",
		Write: true, Feature: aaa.FeatureAAA, Complete: map[string]shell.Completer{"name": providers},
		Run: func(c *shell.Ctx, x shell.Args) error {
			name := x.String("name")
			if err := change(func(d *domain.Config) error { return d.DeleteProvider(name) }); err != nil {
				return err
			}
			if st := a.providerSecrets(); st != nil {
				if err := st.Delete(domain.SecretName(name)); err != nil {
					fmt.Fprintf(c.Out, "provider %s deleted; its secret stays in the store (%v)\n", name, err)
					return nil
				}
			}
			fmt.Fprintf(c.Out, "provider %s deleted\n", name)
			return nil
		}})
	e.Register(shell.Command{Syntax: "show aaa providers", Help: "external authentication servers (never their secrets)", Feature: aaa.FeatureAAA,
		Run: func(c *shell.Ctx, _ shell.Args) error { a.showProviders(c); return nil }})

	e.Register(shell.Command{Syntax: "add aaa login-domain <name:text> realm <realm:enum:radius|tacacs|ldap>",
		Help: "add a login domain (then add its providers)", Write: true, Feature: aaa.FeatureAAA,
		Run: func(c *shell.Ctx, x shell.Args) error {
			return change(func(d *domain.Config) error { return d.AddDomain(x.String("name"), x.String("realm")) })
		}})
	e.Register(shell.Command{Syntax: "add aaa login-domain <name:text> provider <provider:text> priority <prio:number:1-100>",
		Help: "use a provider in a login domain (lower priority first, unique per domain)", Write: true, Feature: aaa.FeatureAAA,
		Complete: map[string]shell.Completer{"name": domains, "provider": providers},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return change(func(d *domain.Config) error {
				return d.AddMember(x.String("name"), x.String("provider"), x.Int("prio"))
			})
		}})
	e.Register(shell.Command{Syntax: "delete aaa login-domain <name:text> provider <provider:text>",
		Help: "stop using a provider in a login domain", Write: true, Feature: aaa.FeatureAAA,
		Complete: map[string]shell.Completer{"name": domains, "provider": providers},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return change(func(d *domain.Config) error { return d.DeleteMember(x.String("name"), x.String("provider")) })
		}})
	e.Register(shell.Command{Syntax: "set aaa login-domain <name:text> state <state:enum:active|inactive>",
		Help: "activate or deactivate a login domain (Local included)", Write: true, Feature: aaa.FeatureAAA,
		Complete: map[string]shell.Completer{"name": domains},
		Run: func(c *shell.Ctx, x shell.Args) error {
			name, active := x.String("name"), x.String("state") == "active"
			if err := change(func(d *domain.Config) error { return d.SetActive(name, active) }); err != nil {
				return err
			}
			if !active && strings.EqualFold(name, domain.Local) {
				fmt.Fprintln(c.Out, "login domain Local is inactive: local users cannot log in over SSH (root on the console still can)")
			}
			return nil
		}})
	e.Register(shell.Command{Syntax: "set aaa default-login-domain <name:text>", Help: "the domain of a login name without DOMAIN\\ or @DOMAIN",
		Write: true, Feature: aaa.FeatureAAA, Complete: map[string]shell.Completer{"name": domains},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return change(func(d *domain.Config) error { return d.SetDefault(x.String("name")) })
		}})
	e.Register(shell.Command{Syntax: "delete aaa login-domain <name:text>", Help: "delete a login domain (never Local)",
		Write: true, Feature: aaa.FeatureAAA, Complete: map[string]shell.Completer{"name": domains},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return change(func(d *domain.Config) error { return d.DeleteDomain(x.String("name")) })
		}})
	e.Register(shell.Command{Syntax: "show aaa login-domains", Help: "login domains, their providers and state", Feature: aaa.FeatureAAA,
		Run: func(c *shell.Ctx, _ shell.Args) error { a.showLoginDomains(c); return nil }})
	e.Register(shell.Command{Syntax: "test aaa login-domain <name:text> user <user:text>",
		Help:    "try a login (asks the password): which provider answered, how long, the role string, the roles",
		Feature: aaa.FeatureAAA, Complete: map[string]shell.Completer{"name": domains},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return a.testLoginDomain(c, s, x.String("name"), x.String("user"))
		}})
}

func secretWord(typ string) string {
	if typ == domain.TypeLDAP {
		return "bind password"
	}
	return "shared secret"
}

// askSecret asks for a secret twice (once with --input-json, whose
// "secret" answers both).
func askSecret(c *shell.Ctx, what string) (string, error) {
	v, err := c.Prompt("secret", strings.ToUpper(what[:1])+what[1:]+": ", true)
	if err != nil {
		return "", err
	}
	again, err := c.Prompt("secret", "Confirm "+what+": ", true)
	if err != nil {
		return "", err
	}
	switch {
	case v != again:
		return "", fmt.Errorf("the %ss do not match: nothing changed", what)
	case v == "":
		return "", fmt.Errorf("empty %s: nothing changed", what)
	}
	return v, nil
}

func (a *Agent) showProviders(c *shell.Ctx) {
	cfg := a.db.Running().ExternalAuth
	used := map[string][]string{}
	for _, d := range cfg.Domains {
		for _, m := range d.Members {
			used[m.Provider] = append(used[m.Provider], fmt.Sprintf("%s(%d)", d.Name, m.Priority))
		}
	}
	st := a.providerSecrets()
	tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tHOST\tPORT\tSETTINGS\tSECRET\tDOMAINS\tSTATE")
	for _, p := range cfg.Providers {
		secret := "sealed"
		if st != nil && !st.Sealed() {
			secret = "stored"
			if _, err := st.Get(domain.SecretName(p.Name)); err != nil {
				secret = "missing"
			}
		}
		state := "alive"
		if until, dead := a.ext.router.Dead(p.Name); dead {
			state = "dead until " + until.UTC().Format("15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", p.Name, p.Type, p.Host, providerPort(p), providerSettings(p),
			secret, orDash(strings.Join(used[p.Name], ",")), state)
	}
	tw.Flush()
	for _, p := range cfg.Providers {
		for _, g := range p.GroupMaps {
			fmt.Fprintf(c.Out, "group map of %s: %s -> %s\n", p.Name, g.DN, strings.Join(g.Roles, ","))
		}
	}
}

func providerPort(p domain.ProviderConfig) int {
	switch {
	case p.Port != 0:
		return p.Port
	case p.Type == domain.TypeRADIUS:
		return 1812
	case p.Type == domain.TypeTACACS:
		return 49
	case p.SSL == "ldaps":
		return 636
	}
	return 389
}

func providerSettings(p domain.ProviderConfig) string {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	n := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	s := fmt.Sprintf("timeout=%ds attempts=%d", n(p.Timeout, 3), n(p.Attempts, 1))
	switch p.Type {
	case domain.TypeRADIUS:
		s = "protocol=" + def(p.Protocol, "pap") + " " + s
	case domain.TypeLDAP:
		s = fmt.Sprintf("base-dn=%s bind-dn=%s ssl=%s validation=%s filter=%s authorization=%s attribute=%s %s",
			p.BaseDN, p.BindDN, def(p.SSL, "off"), def(p.Validation, "restrictive"), def(p.Filter, "(cn={username})"),
			def(p.Authorization, "av-pair"), def(p.Attribute, map[bool]string{true: "memberOf", false: "ciscoAVPair"}[p.Authorization == "group-map"]), s)
		if p.CAFile != "" {
			s += " ca-file=" + p.CAFile
		}
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *Agent) showLoginDomains(c *shell.Ctx) {
	cfg := a.db.Running().ExternalAuth
	tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREALM\tSTATE\tDEFAULT\tPROVIDERS")
	state := func(inactive bool) string {
		if inactive {
			return "inactive"
		}
		return "active"
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "-"
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", domain.Local, "local", state(cfg.LocalInactive), yes(cfg.Default == ""), "local users")
	for _, d := range cfg.Domains {
		var ps []string
		for _, m := range d.Members {
			p := fmt.Sprintf("%d:%s", m.Priority, m.Provider)
			if _, dead := a.ext.router.Dead(m.Provider); dead {
				p += "(dead)"
			}
			ps = append(ps, p)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Name, d.Realm, state(d.Inactive), yes(strings.EqualFold(cfg.Default, d.Name)), orDash(strings.Join(ps, " ")))
	}
	tw.Flush()
}

// testLoginDomain runs a login through a domain's providers and says what
// happened at each step. It tries a password, so it needs aaa read-write.
func (a *Agent) testLoginDomain(c *shell.Ctx, s *adminSession, name, user string) error {
	if role, err := a.currentRole(s); err != nil || !role.ReadWrite(aaa.FeatureAAA) {
		return fmt.Errorf("test aaa login-domain tries a password: it needs feature %s read-write", aaa.FeatureAAA)
	}
	cfg := a.db.Running().ExternalAuth
	if strings.EqualFold(name, domain.Local) {
		return fmt.Errorf("login domain %s is the local users: it has no provider to test", domain.Local)
	}
	d, ok := cfg.Domain(name)
	if !ok {
		return fmt.Errorf("no login domain %q: expected one of %s", name, strings.Join(append([]string{domain.Local}, domainNames(cfg)...), ", "))
	}
	pw, err := c.Prompt("password", "Password for "+user+": ", true)
	if err != nil {
		return err
	}
	if d.Inactive {
		fmt.Fprintf(c.Out, "note: login domain %s is inactive: real logins are refused; testing its providers anyway\n", d.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, role, err := a.ext.authenticate(ctx, &cfg, d, user, pw)
	if errors.As(err, new(sealedError)) {
		return errors.New(sealedMessage)
	}
	fmt.Fprintf(c.Out, "login domain %s (realm %s), user %s\n", d.Name, d.Realm, user)
	for _, at := range out.Attempts {
		var what string
		switch {
		case at.Err == nil:
			what = "accepted"
		case errors.Is(at.Err, aaa.ErrRejected):
			what = "rejected: " + at.Err.Error()
		default:
			what = "could not ask: " + at.Err.Error()
		}
		dead := ""
		if at.WasDead {
			dead = " (was in its dead time: tried last)"
		}
		fmt.Fprintf(c.Out, "  %s%s: %s after %s\n", at.Provider, dead, what, at.Elapsed.Round(time.Millisecond))
	}
	asked := map[string]bool{}
	for _, at := range out.Attempts {
		asked[at.Provider] = true
	}
	for _, m := range d.Members {
		if until, dead := a.ext.router.Dead(m.Provider); dead && !asked[m.Provider] {
			fmt.Fprintf(c.Out, "  %s: not asked: in its dead time until %s (tried last)\n", m.Provider, until.UTC().Format("15:04:05"))
		}
	}
	if out.Provider == "" {
		return fmt.Errorf("no provider answered: %v", err)
	}
	fmt.Fprintf(c.Out, "answered by: %s in %s\n", out.Provider, out.Elapsed.Round(time.Millisecond))
	if errors.Is(err, aaa.ErrRejected) {
		return fmt.Errorf("login rejected by %s (final: the other providers are not asked)", out.Provider)
	}
	fmt.Fprintf(c.Out, "role string: %s\n", orDash(out.Result.Raw()))
	if err != nil {
		fmt.Fprintf(c.Out, "roles granted: none: %v\n", err)
		return errors.New("the login would be refused: no roles granted")
	}
	fmt.Fprintf(c.Out, "roles granted: %s\n", role.Name)
	return nil
}

func domainNames(cfg domain.Config) []string {
	var out []string
	for _, d := range cfg.Domains {
		out = append(out, d.Name)
	}
	return out
}
