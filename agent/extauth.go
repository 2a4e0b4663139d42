package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/domain"
	"github.com/orchd/orchd/aaa/ldap"
	"github.com/orchd/orchd/aaa/radius"
	"github.com/orchd/orchd/aaa/tacacs"
	"github.com/orchd/orchd/audit"
)

// providerSecrets is what external authentication needs of the sealed
// store (package secrets): provider secrets by name.
type providerSecrets interface {
	Put(name, owner string, value []byte) error
	Get(name string) ([]byte, error)
	Delete(name string) error
	Sealed() bool
}

// sealedMessage is the store's own sealed error text (DESIGN §9).
const sealedMessage = "the secret store is sealed: run security unseal"

// secretOwner owns provider secrets in the store.
const secretOwner = "aaa"

// extAuth routes logins to login domains (DESIGN §8.5): the aaa.External
// hook of the agent's Authenticator.
type extAuth struct {
	a      *Agent
	router domain.Router
}

// store returns the sealed store, or nil when the daemon has none.
func (x *extAuth) store() providerSecrets { return x.a.providerSecrets() }

// testSecrets replaces the sealed store in unit tests.
var testSecrets providerSecrets

// testProvider replaces the providers built from the configuration in unit
// tests, so they can answer as an outage or a rejection on demand.
var testProvider func(domain.ProviderConfig) domain.Provider

var remoteUserRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$`)

// Login implements aaa.External. A refusal names the user in the log and
// the audit only when a provider accepted the name (the roles were what
// failed): a name nothing accepted may be a password typed into the name
// field. Only a definite refusal (*aaa.Failure) counts for the lockout; a
// login no server could decide is an *aaa.Unavailable, audited as "error".
func (x *extAuth) Login(ctx context.Context, login, password string, remote netip.Addr) (aaa.Principal, string, error) {
	cfg := x.a.db.Running().ExternalAuth
	dom, user := aaa.SplitLogin(login)
	if dom == "" {
		dom = cfg.DefaultDomain()
	}
	source := loginSource(remote)
	log := x.a.log.WithField("part", "aaa")
	// refuse is a definite refusal; named says a provider accepted user.
	refuse := func(domName, provider, reason string, named bool, message string) (aaa.Principal, string, error) {
		f := &aaa.Failure{Remote: remote, Provider: provider, Reason: reason}
		if named {
			f.User = user
		}
		x.a.record(audit.Event{Type: "login", User: f.User, Domain: domName, Provider: provider, Source: source, Result: "refused", Reason: reason})
		log.Infof("login refused for %s in domain %s from %s: %s", f.LogUser(), orDash(domName), source, reason)
		if message != "" {
			return aaa.Principal{}, "", &aaa.RefusedError{Message: message}
		}
		return aaa.Principal{}, "", f
	}
	unavailable := func(domName, provider, reason, message string) (aaa.Principal, string, error) {
		f := &aaa.Failure{Remote: remote, Provider: provider, Reason: reason}
		x.a.record(audit.Event{Type: "login", Domain: domName, Provider: provider, Source: source, Result: "error", Reason: reason})
		log.Warnf("login for %s in domain %s from %s not decided: %s", f.LogUser(), domName, source, reason)
		return aaa.Principal{}, "", &aaa.Unavailable{Failure: f, Message: message + "\n"}
	}
	if strings.EqualFold(dom, domain.Local) {
		if cfg.LocalInactive {
			return refuse(domain.Local, aaa.ProviderLocal, "login domain Local is inactive", false, "login domain Local is inactive")
		}
		return aaa.Principal{}, user, nil
	}
	d, ok := cfg.Domain(dom)
	if !ok {
		// The domain part is typed text too: not logged either.
		return refuse("", "", "no such login domain", false, "")
	}
	if d.Inactive {
		return refuse(d.Name, "", "login domain inactive", false, fmt.Sprintf("login domain %s is inactive", d.Name))
	}
	if !remoteUserRE.MatchString(user) {
		return refuse(d.Name, "", "invalid user name", false, "")
	}
	out, role, err := x.authenticate(ctx, &cfg, d, user, password)
	var (
		se sealedError
		re rolesError
	)
	switch {
	case errors.As(err, &se):
		return unavailable(d.Name, "", "provider secrets unreadable: "+sealedMessage, sealedMessage)
	case errors.As(err, &re):
		return refuse(d.Name, out.Provider, err.Error(), true, "")
	case errors.Is(err, aaa.ErrRejected):
		return refuse(d.Name, out.Provider, err.Error(), false, "")
	case err != nil:
		return unavailable(d.Name, providerNames(out.Unasked()), err.Error(), unaskedMessage(d.Name, out.Unasked()))
	}
	name := user + "@" + d.Name
	x.a.record(audit.Event{Type: "login", User: name, Domain: d.Name, Provider: out.Provider, Source: source, Result: "authenticated",
		Fields: map[string]string{"roles": role.Name, "role_string": out.Result.Raw()}})
	return aaa.Principal{User: name, Role: role, Provider: out.Provider, Domain: d.Name}, "", nil
}

// unaskedMessage tells the client that nothing decided its login and
// which servers could not be asked, with the way in that still works.
func unaskedMessage(dom string, us []domain.Unasked) string {
	if len(us) == 0 {
		return fmt.Sprintf("login domain %s has no authentication server to ask: login refused", dom)
	}
	return fmt.Sprintf("login domain %s: no authentication server could be asked: %s; try again later, or log in as a local user (%s\\NAME)",
		dom, domain.Summary(us), domain.Local)
}

func providerNames(us []domain.Unasked) string {
	names := make([]string, len(us))
	for i, u := range us {
		names[i] = u.Provider
	}
	return strings.Join(names, ",")
}

// rolesError is a login a provider accepted whose roles cannot be granted:
// a definite refusal, and the name is a user of that provider.
type rolesError struct{ err error }

func (e rolesError) Error() string { return e.err.Error() }
func (e rolesError) Unwrap() error { return e.err }

type sealedError struct{}

func (sealedError) Error() string { return sealedMessage }

// authenticate asks d's providers and grants the roles their answer
// names. The Outcome is returned whatever happened, for `test aaa
// login-domain`.
func (x *extAuth) authenticate(ctx context.Context, cfg *domain.Config, d *domain.DomainConfig, user, password string) (domain.Outcome, aaa.Role, error) {
	members, err := x.members(cfg, d)
	if err != nil {
		return domain.Outcome{}, aaa.Role{}, err
	}
	out, err := x.router.Authenticate(ctx, members, user, password)
	if err != nil {
		return out, aaa.Role{}, err
	}
	role, _, err := aaa.Grant(out.Result, x.a.lookupRole)
	if err != nil {
		return out, aaa.Role{}, rolesError{fmt.Errorf("roles from %s: %w", out.Provider, err)}
	}
	return out, role, nil
}

// members builds d's providers from the configuration and their secrets.
func (x *extAuth) members(cfg *domain.Config, d *domain.DomainConfig) ([]domain.Member, error) {
	st := x.store()
	if st == nil || st.Sealed() {
		return nil, sealedError{}
	}
	var out []domain.Member
	for _, m := range d.Members {
		pc, ok := cfg.Provider(m.Provider)
		if !ok {
			continue // Validate forbids it
		}
		secret, err := st.Get(domain.SecretName(pc.Name))
		var p domain.Provider
		switch {
		case testProvider != nil:
			p = testProvider(*pc)
		case err != nil && st.Sealed():
			return nil, sealedError{}
		case err != nil:
			p = failing{fmt.Errorf("provider %s: no usable secret in the store (%v): add the provider again", pc.Name, err)}
		default:
			if p, err = buildProvider(*pc, secret, x.a.cfg.ID.String()); err != nil {
				p = failing{err}
			}
		}
		out = append(out, domain.Member{Name: pc.Name, Priority: m.Priority, Provider: p})
	}
	return out, nil
}

// failing is a provider that cannot be asked (misconfigured, no secret).
type failing struct{ err error }

func (f failing) Authenticate(context.Context, string, string) (aaa.ProviderResult, error) {
	return aaa.ProviderResult{}, f.err
}

func buildProvider(pc domain.ProviderConfig, secret []byte, nasID string) (domain.Provider, error) {
	timeout := time.Duration(pc.Timeout) * time.Second
	switch pc.Type {
	case domain.TypeRADIUS:
		return radius.New(radius.Config{Host: pc.Host, Port: pc.Port, Protocol: pc.Protocol, Timeout: timeout,
			Attempts: pc.Attempts, Secret: secret, NASIdentifier: "orchd-" + nasID})
	case domain.TypeTACACS:
		return tacacs.New(tacacs.Config{Host: pc.Host, Port: pc.Port, Timeout: timeout, Attempts: pc.Attempts, Secret: secret})
	case domain.TypeLDAP:
		var maps []ldap.GroupMap
		for _, g := range pc.GroupMaps {
			maps = append(maps, ldap.GroupMap{DN: g.DN, Roles: g.Roles})
		}
		return ldap.New(ldap.Config{Host: pc.Host, Port: pc.Port, BaseDN: pc.BaseDN, BindDN: pc.BindDN, BindPassword: secret,
			SSL: pc.SSL, Validation: pc.Validation, CAFile: pc.CAFile, Filter: pc.Filter, Authorization: pc.Authorization,
			Attribute: pc.Attribute, GroupMaps: maps, Timeout: timeout, Attempts: pc.Attempts})
	}
	return nil, fmt.Errorf("provider %s: unknown type %q", pc.Name, pc.Type)
}

// lookupRole finds a local role, built-in or custom (add rba role), by
// name for remote users' role strings. Group maps name roles from
// a.roleNames (cmds_users.go).
func (a *Agent) lookupRole(name string) (aaa.Role, bool) { return a.db.LookupRole(name) }

// loginSource names where a login came from in its audit record.
func loginSource(remote netip.Addr) string {
	if remote.IsValid() {
		return remote.String()
	}
	return "console"
}

// auditRefusedLogin records a login the local users refused (DESIGN §8.6:
// every login, with its result and why). f.User is empty unless the name
// is a user, so a password typed into the name field stays out of it.
func (a *Agent) auditRefusedLogin(f *aaa.Failure, result string) {
	a.record(audit.Event{Type: "login", User: f.User, Provider: f.Provider, Source: loginSource(f.Remote), Result: result, Reason: f.Reason})
}
