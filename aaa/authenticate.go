package aaa

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// Directory answers user look-ups; the config database implements it on
// its running configuration.
type Directory interface {
	LookupUser(name string) (User, bool)
}

// ProviderLocal names the local user database as an authentication
// provider (DESIGN §8 adds radius, tacacs and ldap).
const ProviderLocal = "local"

// Principal is who a successful login made the session act as.
type Principal struct {
	User     string
	Role     Role
	Provider string // which provider accepted the login, e.g. "local"
	// Domain is the login domain of an external login ("" for local
	// users): its roles came from the server and are not re-read.
	Domain string
}

// ErrAuthFailed is what every refused login matches (errors.Is).
var ErrAuthFailed = errors.New("authentication failed")

// Failure is the error Authenticate returns for a refused login. Its text
// is always "authentication failed", so a client cannot tell an unknown user
// from a wrong password; Reason is for the audit log and the daemon's log
// only. Neither ever holds the password.
type Failure struct {
	// User is the login name when it names a user, "" otherwise: a name
	// that is not a user may be a password typed into the wrong field, so
	// it never reaches a log.
	User     string
	Remote   netip.Addr
	Provider string
	Reason   string // e.g. "unknown user", "wrong password"
}

// Error returns "authentication failed", whatever the reason.
func (f *Failure) Error() string { return ErrAuthFailed.Error() }

// Is makes errors.Is(err, ErrAuthFailed) true.
func (f *Failure) Is(target error) bool { return target == ErrAuthFailed }

// Detail describes the failure for the log: user, source, provider, reason.
func (f *Failure) Detail() string {
	return fmt.Sprintf("login refused for %s from %s (%s): %s", f.LogUser(), remoteString(f.Remote), f.Provider, f.Reason)
}

// LogUser is how the failure names the user in a log: quoted when it is
// a user, "unknown user" otherwise.
func (f *Failure) LogUser() string {
	if f.User == "" {
		return "unknown user"
	}
	return fmt.Sprintf("user %q", f.User)
}

func remoteString(a netip.Addr) string {
	if !a.IsValid() {
		return "local"
	}
	return a.String()
}

// Authenticator logs administrators in. It is the one entry point the SSH
// server, the shell and the trust subsystem call; login domains, external
// providers, TOTP and per-source lockout (DESIGN §8) will be added as
// fields here without changing Authenticate.
type Authenticator struct {
	Dir Directory
	// Roles resolves the roles users hold; nil means the built-in roles
	// only.
	Roles RoleDirectory
	// Logf, when set, receives one line per login attempt (accepted or
	// refused, with the reason). Passwords are never passed to it.
	Logf func(format string, args ...any)
	// External, when set, routes DOMAIN\user and user@DOMAIN logins to
	// their login domain; only Local-domain logins reach the local users.
	External External
	// Lockout refuses locked-out source addresses before any password
	// hash and counts failures (DESIGN §8.3); nil means none (login.go).
	Lockout Limiter
	// SecondFactor checks the codes of users with two-factor on; such a
	// user cannot log in while it is nil (login.go).
	SecondFactor SecondFactor
	// Refused, when set, is told of every refused login this type
	// decides (unknown user, wrong password, wrong code: result
	// "refused"; a second step that could not run: "error") for the audit
	// log (DESIGN §8.6). External's refusals are its own to audit; a
	// locked-out address refused before any check is the lockout's record.
	Refused func(f *Failure, result string)
}

func (a *Authenticator) refused(f *Failure, result string) {
	if a.Refused != nil {
		a.Refused(f, result)
	}
}

// dummyHash has the default parameters and matches no password: unknown
// users are verified against it so that they cost one derivation, as a
// known user does.
var dummyHash = encodeHash(DefaultParams(), make([]byte, saltLen), make([]byte, keyLen))

// Authenticate checks user and password against the directory and returns
// the principal the session acts as. Every refusal returns a *Failure whose
// text is "authentication failed"; unknown users, users without a password
// and malformed stored hashes still cost one key derivation, so a refusal
// takes about the same time whatever its reason (exactly so for users whose
// hash has DefaultParams). An empty password never matches. remote is the
// client's address, or the zero Addr for a local session.
func (a *Authenticator) Authenticate(ctx context.Context, user, password string, remote netip.Addr) (Principal, error) {
	if err := ctx.Err(); err != nil {
		return Principal{}, fmt.Errorf("authenticating: %w", err)
	}
	if err := a.admit(remote); err != nil {
		return Principal{}, err
	}
	if a.External != nil {
		p, local, err := a.External.Login(ctx, user, password, remote)
		if local == "" {
			return a.external(p, err, remote)
		}
		user = local
	}
	known := false
	fail := func(reason string) (Principal, error) {
		f := &Failure{Remote: remote, Provider: ProviderLocal, Reason: reason}
		if known {
			f.User = user
		}
		a.logf("%s", f.Detail())
		a.refused(f, "refused")
		a.failed(f)
		return Principal{}, f
	}
	// A login waits for a derivation slot (see kdfSlots) only until its
	// deadline: a burst of logins must not leave clients hanging past it.
	late := func(err error) (Principal, error) {
		a.logf("login from %s abandoned: %v while waiting for a password check slot", remoteString(remote), err)
		return Principal{}, fmt.Errorf("authenticating: %w", err)
	}
	dummy := func() error { _, err := verifyContext(ctx, dummyHash, password); return err }

	if ValidateUserName(user) != nil {
		if err := dummy(); isCtxErr(err) {
			return late(err)
		}
		return fail("invalid user name")
	}
	var u User
	ok := false
	if a.Dir != nil {
		u, ok = a.Dir.LookupUser(user)
	}
	known = ok
	switch {
	case !ok || u.PasswordHash == "":
		if err := dummy(); isCtxErr(err) {
			return late(err)
		}
		if !ok {
			return fail("unknown user")
		}
		return fail("user has no password set")
	}
	match, err := verifyContext(ctx, u.PasswordHash, password)
	switch {
	case isCtxErr(err):
		return late(err)
	case err != nil:
		if err := dummy(); isCtxErr(err) {
			return late(err)
		}
		return fail("stored password hash is unusable: " + err.Error())
	case password == "":
		return fail("empty password")
	case !match:
		return fail("wrong password")
	}
	if !u.Active() {
		return fail("user is inactive")
	}
	roles := a.Roles
	if roles == nil {
		roles = Builtins
	}
	role, err := ResolveRoles(roles, u.Roles)
	if err != nil {
		return fail("user's roles are unusable: " + err.Error())
	}
	return a.accepted(ctx, u, Principal{User: u.Name, Role: role, Provider: ProviderLocal}, remote)
}

func (a *Authenticator) logf(format string, args ...any) {
	if a.Logf != nil {
		a.Logf(format, args...)
	}
}
