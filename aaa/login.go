package aaa

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// Limiter is the per-source-address lockout as the Authenticator uses it
// (aaa/lockout implements it).
type Limiter interface {
	// Check refuses, before any password hash, while addr is locked.
	Check(addr netip.Addr) error
	// Failure counts a failed login; user is "" when the name tried is
	// not a user.
	Failure(addr netip.Addr, user string)
	// Success resets addr's count.
	Success(addr netip.Addr)
}

// Two-factor methods (DESIGN §8.4).
const (
	TwoFactorTOTP  = "totp"
	TwoFactorEmail = "email"
)

// TwoFactor is a user's second factor. A TOTP secret lives in the secret
// store ("aaa/totp/<USER>"), never here.
type TwoFactor struct {
	Method string `json:"method"`          // TwoFactorTOTP or TwoFactorEmail
	Email  string `json:"email,omitempty"` // where email codes go
}

// String names the method as `show users` does: "totp", "email (ADDRESS)".
func (t *TwoFactor) String() string {
	switch {
	case t == nil:
		return "off"
	case t.Method == TwoFactorEmail:
		return fmt.Sprintf("email (%s)", t.Email)
	}
	return t.Method
}

// SecondFactor checks the codes of users who have two-factor on (aaa/mfa
// implements it).
type SecondFactor interface {
	// Challenge starts the second step after a right password: an email
	// code is sent now. An error (the secret store is sealed, the mail
	// server cannot be reached) refuses the login without counting it as
	// a failure: the user did nothing wrong.
	Challenge(ctx context.Context, u User) error
	// Verify checks code; an error is a failed login, except one matching
	// ErrCannotCheck: the code could not be checked at all (the seed is
	// unreadable), which is not the user's doing.
	Verify(ctx context.Context, u User, code string) error
}

// ErrCannotCheck marks a second-factor check that could not run. Only a
// wrong code counts for the lockout (DESIGN §8.3, §8.4): an outage that
// counted would lock administrators out for something they did not do.
var ErrCannotCheck = errors.New("the verification code cannot be checked now")

// CodePrompt is what a user with two-factor on is asked after the
// password, over SSH (keyboard-interactive) and on the console alike.
const CodePrompt = "Verification code: "

// CodeNeeded is what Authenticate returns when the password was right and
// the user has two-factor on: the login completes only through Verify. It
// matches ErrAuthFailed, so a caller that does not know about second
// factors refuses the login.
type CodeNeeded struct {
	User   string
	Method string
	a      *Authenticator
	u      User
	p      Principal
	remote netip.Addr
}

func (c *CodeNeeded) Error() string        { return "verification code needed" }
func (c *CodeNeeded) Is(target error) bool { return target == ErrAuthFailed }

// Prompt is the question to ask.
func (c *CodeNeeded) Prompt() string { return CodePrompt }

// Verify checks the code and completes the login. A wrong code is a failed
// login for the lockout; a locked address is refused before checking.
func (c *CodeNeeded) Verify(ctx context.Context, code string) (Principal, error) {
	a := c.a
	if err := a.admit(c.remote); err != nil {
		return Principal{}, err
	}
	if err := a.SecondFactor.Verify(ctx, c.u, code); err != nil {
		f := &Failure{User: c.u.Name, Remote: c.remote, Provider: c.p.Provider, Reason: "second factor (" + c.Method + "): " + err.Error()}
		a.logf("%s", f.Detail())
		if errors.Is(err, ErrCannotCheck) {
			a.refused(f, "error")
			return Principal{}, &Unavailable{Failure: f, Message: "Two-factor authentication unavailable: " + err.Error() + "\n"}
		}
		a.refused(f, "refused")
		a.failed(f)
		return Principal{}, f
	}
	if a.Lockout != nil {
		a.Lockout.Success(c.remote)
	}
	a.logf("login accepted for user %q from %s (%s and %s code, role %s)", c.u.Name, remoteString(c.remote), c.p.Provider, c.Method, c.p.Role.Name)
	return c.p, nil
}

// Unavailable refuses a login that nothing could decide: its second step
// cannot run (the secret store is sealed, the mail server failed), or no
// server of its login domain could be asked (down, unreachable, TLS
// failure). Not the user's fault, so not counted for the lockout; the
// audit result is "error". UserMessage tells the client why.
type Unavailable struct {
	*Failure
	Message string
}

// UserMessage is shown to the client before the refusal.
func (u *Unavailable) UserMessage() string { return u.Message }

// LockedOut refuses a login from a locked-out address before any password
// hash. It matches ErrAuthFailed; UserMessage says when to try again.
type LockedOut struct {
	Remote netip.Addr
	Err    error // from the Limiter
}

func (l *LockedOut) Error() string        { return "authentication failed: " + l.Err.Error() }
func (l *LockedOut) Is(target error) bool { return target == ErrAuthFailed }
func (l *LockedOut) Unwrap() error        { return l.Err }

// UserMessage is the Limiter's message for the client, if it has one.
func (l *LockedOut) UserMessage() string {
	var um interface{ UserMessage() string }
	if errors.As(l.Err, &um) {
		return um.UserMessage()
	}
	return "Too many failed logins from your address: try again later.\n"
}

// admit asks the lockout whether remote may try at all.
func (a *Authenticator) admit(remote netip.Addr) error {
	if a.Lockout == nil || !remote.IsValid() {
		return nil
	}
	if err := a.Lockout.Check(remote); err != nil {
		a.logf("login from %s refused before any password check: %v", remoteString(remote), err)
		return &LockedOut{Remote: remote, Err: err}
	}
	return nil
}

// failed counts a refused login for the lockout.
func (a *Authenticator) failed(f *Failure) {
	if a.Lockout != nil && f.Remote.IsValid() {
		a.Lockout.Failure(f.Remote, f.User)
	}
}

// accepted finishes a login whose password was right: at once, or through
// a CodeNeeded when u has two-factor on.
func (a *Authenticator) accepted(ctx context.Context, u User, p Principal, remote netip.Addr) (Principal, error) {
	if u.TwoFactor == nil {
		if a.Lockout != nil && remote.IsValid() {
			a.Lockout.Success(remote)
		}
		a.logf("login accepted for user %q from %s (%s, role %s)", u.Name, remoteString(remote), p.Provider, p.Role.Name)
		return p, nil
	}
	refuse := func(why, msg string) (Principal, error) {
		f := &Failure{User: u.Name, Remote: remote, Provider: p.Provider, Reason: why}
		a.logf("%s", f.Detail())
		a.refused(f, "error")
		return Principal{}, &Unavailable{Failure: f, Message: msg}
	}
	if a.SecondFactor == nil {
		return refuse("two-factor is on but cannot be checked here", "Two-factor authentication cannot be checked: login refused.\n")
	}
	if err := a.SecondFactor.Challenge(ctx, u); err != nil {
		return refuse("second factor ("+u.TwoFactor.Method+") unavailable: "+err.Error(), "Two-factor authentication unavailable: "+err.Error()+"\n")
	}
	a.logf("password accepted for user %q from %s (%s): asking for the %s code", u.Name, remoteString(remote), p.Provider, u.TwoFactor.Method)
	return Principal{}, &CodeNeeded{User: u.Name, Method: u.TwoFactor.Method, a: a, u: u, p: p, remote: remote}
}

// external counts an external provider's answer for the lockout: a
// success resets the count and a definite refusal (*Failure: the server
// said no, no such domain, unusable roles) counts. An outage (*Unavailable:
// no server could be asked) or a refusal by configuration (*RefusedError:
// an inactive domain) is not the user's doing and does not count. The name
// is not recorded: it may not be a user at all.
func (a *Authenticator) external(p Principal, err error, remote netip.Addr) (Principal, error) {
	if a.Lockout == nil || !remote.IsValid() {
		return p, err
	}
	var (
		un *Unavailable
		f  *Failure
	)
	switch {
	case err == nil:
		a.Lockout.Success(remote)
	case errors.As(err, &un):
		// Checked first: an Unavailable carries a *Failure for the log.
	case errors.As(err, &f):
		a.Lockout.Failure(remote, "")
	}
	return p, err
}
