package aaa

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// fakeLimiter records what the Authenticator told it; locked addresses
// are refused.
type fakeLimiter struct {
	locked   map[netip.Addr]bool
	failures []string // "addr user"
	success  []netip.Addr
}

func (f *fakeLimiter) Check(a netip.Addr) error {
	if f.locked[a] {
		return errors.New("locked")
	}
	return nil
}
func (f *fakeLimiter) Failure(a netip.Addr, u string) {
	f.failures = append(f.failures, a.String()+" "+u)
}
func (f *fakeLimiter) Success(a netip.Addr) { f.success = append(f.success, a) }

type fakeFactor struct {
	challengeErr error
	code         string
	challenged   []string
}

func (f *fakeFactor) Challenge(_ context.Context, u User) error {
	f.challenged = append(f.challenged, u.Name)
	return f.challengeErr
}
func (f *fakeFactor) Verify(_ context.Context, u User, code string) error {
	if code != f.code {
		return errors.New("wrong verification code")
	}
	return nil
}

func TestLockoutBeforeAnyHash(t *testing.T) {
	hash, _ := HashWithParams("Right-pass1", fastParams)
	remote, other := netip.MustParseAddr("198.19.128.1"), netip.MustParseAddr("198.19.128.9")
	lim := &fakeLimiter{locked: map[netip.Addr]bool{remote: true}}
	a := &Authenticator{Dir: mapDir{"admin": {Name: "admin", Roles: []string{AdminRole}, PasswordHash: hash}}, Lockout: lim}
	n := countKDF(t)
	_, err := a.Authenticate(context.Background(), "admin", "Right-pass1", remote)
	var lo *LockedOut
	if !errors.As(err, &lo) || !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("locked address: err = %v, want a LockedOut matching ErrAuthFailed", err)
	}
	if *n != 0 {
		t.Errorf("a locked address cost %d key derivations, want 0", *n)
	}
	if lo.UserMessage() == "" {
		t.Error("no message for the client")
	}
	if len(lim.failures) != 0 {
		t.Errorf("a refusal at the lock counted as a failure too: %v", lim.failures)
	}

	for _, tc := range []struct {
		user, pw    string
		wantFailure string
		wantSuccess bool
	}{
		{"admin", "wrong", "198.19.128.9 admin", false},
		{"ghost", "wrong", "198.19.128.9 ", false}, // not a user: no name kept
		{"admin", "Right-pass1", "", true},
	} {
		lim.failures, lim.success = nil, nil
		a.Authenticate(context.Background(), tc.user, tc.pw, other)
		if got := strings.Join(lim.failures, ","); got != tc.wantFailure {
			t.Errorf("%s/%s: failures %q, want %q", tc.user, tc.pw, got, tc.wantFailure)
		}
		if got := len(lim.success) == 1; got != tc.wantSuccess {
			t.Errorf("%s/%s: success recorded %v, want %v", tc.user, tc.pw, got, tc.wantSuccess)
		}
	}
	// The console (no address) is never counted.
	lim.failures = nil
	a.Authenticate(context.Background(), "admin", "wrong", netip.Addr{})
	if len(lim.failures) != 0 {
		t.Errorf("a console failure was counted: %v", lim.failures)
	}
}

func TestSecondFactor(t *testing.T) {
	hash, _ := HashWithParams("Right-pass1", fastParams)
	remote := netip.MustParseAddr("198.19.128.1")
	users := mapDir{
		"totpu": {Name: "totpu", Roles: []string{AdminRole}, PasswordHash: hash, TwoFactor: &TwoFactor{Method: TwoFactorTOTP}},
		"plain": {Name: "plain", Roles: []string{AdminRole}, PasswordHash: hash},
	}
	ctx := context.Background()

	t.Run("right password then right code", func(t *testing.T) {
		lim, ff := &fakeLimiter{}, &fakeFactor{code: "123456"}
		a := &Authenticator{Dir: users, Lockout: lim, SecondFactor: ff}
		_, err := a.Authenticate(ctx, "totpu", "Right-pass1", remote)
		var cn *CodeNeeded
		if !errors.As(err, &cn) || !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("err = %v, want CodeNeeded (matching ErrAuthFailed)", err)
		}
		if len(lim.success) != 0 {
			t.Error("password alone reset the lockout count")
		}
		if cn.Prompt() != "Verification code: " {
			t.Errorf("prompt %q", cn.Prompt())
		}
		if _, err := cn.Verify(ctx, "000000"); err == nil {
			t.Fatal("wrong code accepted")
		}
		if len(lim.failures) != 1 || lim.failures[0] != "198.19.128.1 totpu" {
			t.Errorf("wrong code: failures %v, want one for totpu", lim.failures)
		}
		p, err := cn.Verify(ctx, "123456")
		if err != nil || p.User != "totpu" || p.Role.Name != AdminRole {
			t.Fatalf("right code: %+v, %v", p, err)
		}
		if len(lim.success) != 1 {
			t.Error("a complete login did not reset the count")
		}
	})
	t.Run("wrong password never asks for a code", func(t *testing.T) {
		ff := &fakeFactor{code: "123456"}
		a := &Authenticator{Dir: users, SecondFactor: ff}
		_, err := a.Authenticate(ctx, "totpu", "wrong", remote)
		var cn *CodeNeeded
		if errors.As(err, &cn) || len(ff.challenged) != 0 {
			t.Errorf("wrong password: err %v, challenged %v", err, ff.challenged)
		}
	})
	t.Run("second step unavailable", func(t *testing.T) {
		lim := &fakeLimiter{}
		ff := &fakeFactor{challengeErr: errors.New("the secret store is sealed: run security unseal")}
		a := &Authenticator{Dir: users, Lockout: lim, SecondFactor: ff}
		_, err := a.Authenticate(ctx, "totpu", "Right-pass1", remote)
		var un *Unavailable
		if !errors.As(err, &un) || !strings.Contains(un.UserMessage(), "sealed") || !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("err = %v, want Unavailable naming the sealed store", err)
		}
		if len(lim.failures) != 0 {
			t.Errorf("an unavailable second step counted as a failed login: %v", lim.failures)
		}
		// A user without two-factor still logs in.
		if _, err := a.Authenticate(ctx, "plain", "Right-pass1", remote); err != nil {
			t.Errorf("password-only user refused: %v", err)
		}
	})
	t.Run("no checker configured fails closed", func(t *testing.T) {
		a := &Authenticator{Dir: users}
		if _, err := a.Authenticate(ctx, "totpu", "Right-pass1", remote); err == nil {
			t.Fatal("a two-factor user logged in with no checker")
		}
	})
}
