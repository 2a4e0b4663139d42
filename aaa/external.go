package aaa

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/orchd/orchd/aaa/avpair"
)

// Provider names for external logins (Principal.Provider holds the
// configured provider's name; these are the provider types).
const (
	ProviderTypeRADIUS = "radius"
	ProviderTypeTACACS = "tacacs"
	ProviderTypeLDAP   = "ldap"
)

// ErrRejected marks "the server said no" from an external provider (wrong
// password, unknown user, access refused). It is final: a login domain
// never fails over on it. Every other provider error means "we could not
// ask" (timeout, unreachable, a reply we cannot trust) and fails over.
var ErrRejected = errors.New("rejected by the server")

// ProviderResult is what an external provider answered for an accepted
// login, before any role is looked up.
type ProviderResult struct {
	// Values are the role-bearing values as the server sent them: RADIUS
	// Cisco-AVPair, TACACS+ authorization args, the LDAP attribute.
	Values []string
	// Groups are the LDAP memberOf DNs (group-map authorization), and
	// GroupRoles the roles the group maps granted for them (read-write).
	Groups     []string
	GroupRoles []string
	// GroupMap is set when roles come from group maps, not Values.
	GroupMap bool
}

// Raw is the role string as received, for `test aaa login-domain` and the
// audit log.
func (r ProviderResult) Raw() string {
	if r.GroupMap {
		return "memberOf: " + strings.Join(r.Groups, "; ")
	}
	return strings.Join(r.Values, "; ")
}

// Grant turns a provider's answer into the one role a remote session acts
// as: the union of the granted roles, where a role listed read-only grants
// its features read-only (DESIGN §8.5). lookup finds local roles; an
// unknown role, a malformed or mixed role string, or no role at all is an
// error that says why, and the login must be refused.
func Grant(r ProviderResult, lookup func(string) (Role, bool)) (Role, avpair.Roles, error) {
	var granted avpair.Roles
	if r.GroupMap {
		if len(r.GroupRoles) == 0 {
			return Role{}, avpair.Roles{}, fmt.Errorf("no group map matches the user's groups (%s)", orNone(r.Groups))
		}
		granted = avpair.Roles{ReadWrite: slices.Clone(r.GroupRoles)}
	} else {
		var err error
		if granted, err = avpair.ParseAll(r.Values); err != nil {
			return Role{}, avpair.Roles{}, err
		}
	}
	role, err := Combine(granted, lookup)
	return role, granted, err
}

// Combine builds one Role from read-write and read-only role names.
func Combine(g avpair.Roles, lookup func(string) (Role, bool)) (Role, error) {
	var out Role
	var names []string
	add := func(name string, readOnly bool) error {
		r, ok := lookup(name)
		if !ok {
			return fmt.Errorf("the server granted role %q, which does not exist here", name)
		}
		label := name
		if readOnly {
			label += "(read-only)"
			for _, f := range append(slices.Clone(r.ReadWriteFeatures), r.ReadOnlyFeatures...) {
				if !slices.Contains(out.ReadOnlyFeatures, f) {
					out.ReadOnlyFeatures = append(out.ReadOnlyFeatures, f)
				}
			}
		} else {
			for _, f := range r.ReadWriteFeatures {
				if !slices.Contains(out.ReadWriteFeatures, f) {
					out.ReadWriteFeatures = append(out.ReadWriteFeatures, f)
				}
			}
			for _, f := range r.ReadOnlyFeatures {
				if !slices.Contains(out.ReadOnlyFeatures, f) {
					out.ReadOnlyFeatures = append(out.ReadOnlyFeatures, f)
				}
			}
			out.Expert = out.Expert || r.Expert
		}
		names = append(names, label)
		return nil
	}
	for _, n := range g.ReadWrite {
		if err := add(n, false); err != nil {
			return Role{}, err
		}
	}
	for _, n := range g.ReadOnly {
		if err := add(n, true); err != nil {
			return Role{}, err
		}
	}
	if len(names) == 0 {
		return Role{}, errors.New("the server granted no role")
	}
	out.ReadOnlyFeatures = slices.DeleteFunc(out.ReadOnlyFeatures, func(f string) bool { return slices.Contains(out.ReadWriteFeatures, f) })
	out.Name = strings.Join(names, ",")
	return out, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "; ")
}

// External routes a login name to its login domain (DESIGN §8.5). The
// agent implements it over the configured domains and providers.
type External interface {
	// Login handles login ("DOMAIN\user", "user@DOMAIN" or a bare name in
	// the default domain). For the Local domain it returns the bare local
	// user name and no error, and Authenticate carries on with the local
	// users; otherwise it returns the remote principal or the refusal:
	// a *Failure when the refusal is definite (it counts for the lockout),
	// an *Unavailable when no server could be asked (it does not).
	Login(ctx context.Context, login, password string, remote netip.Addr) (p Principal, localUser string, err error)
}

// RefusedError is a refused external login whose reason the client may
// see (a deactivated domain, a sealed secret store): it still matches
// ErrAuthFailed.
type RefusedError struct {
	Message string
}

func (e *RefusedError) Error() string        { return ErrAuthFailed.Error() + ": " + e.Message }
func (e *RefusedError) Is(target error) bool { return target == ErrAuthFailed }

// UserMessage is shown to the SSH client before the refusal.
func (e *RefusedError) UserMessage() string { return e.Message + "\n" }

// SplitLogin splits a login name into domain and user: `DOMAIN\user` and
// `user@DOMAIN` name the domain; a bare name has domain "".
func SplitLogin(login string) (domain, user string) {
	if d, u, ok := strings.Cut(login, `\`); ok {
		return d, u
	}
	if i := strings.LastIndex(login, "@"); i >= 0 {
		return login[i+1:], login[:i]
	}
	return "", login
}
