package aaa

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
)

// fakeExternal answers every external login with err.
type fakeExternal struct{ err error }

func (f fakeExternal) Login(context.Context, string, string, netip.Addr) (Principal, string, error) {
	if f.err != nil {
		return Principal{}, "", f.err
	}
	return Principal{User: "alice@RAD", Domain: "RAD"}, "", nil
}

// Only a definite refusal counts for the lockout (DESIGN §8.3): a login
// that no server could decide must not lock an address out.
func TestLockoutCountsOnlyDefiniteRefusals(t *testing.T) {
	remote := netip.MustParseAddr("198.19.128.1")
	outage := &Failure{Remote: remote, Provider: "rad1", Reason: "radius 198.18.0.5:1812: i/o timeout"}
	for _, tc := range []struct {
		name    string
		err     error
		counted bool
		success bool
	}{
		{"accepted", nil, false, true},
		{"rejected by the server", &Failure{Remote: remote, Provider: "rad1", Reason: fmt.Errorf("%w: Access-Reject", ErrRejected).Error()}, true, false},
		{"no server could be asked", &Unavailable{Failure: outage, Message: "login domain RAD: no authentication server could be asked\n"}, false, false},
		{"inactive domain", &RefusedError{Message: "login domain RAD is inactive"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := &fakeLimiter{}
			a := &Authenticator{External: fakeExternal{tc.err}, Lockout: lim}
			for range 5 {
				_, err := a.Authenticate(context.Background(), `RAD\alice`, "pw", remote)
				if (err == nil) != (tc.err == nil) || (err != nil && !errors.Is(err, ErrAuthFailed)) {
					t.Fatalf("err = %v, want %v (matching ErrAuthFailed)", err, tc.err)
				}
			}
			if got := len(lim.failures) > 0; got != tc.counted {
				t.Errorf("counted = %v (%v), want %v", got, lim.failures, tc.counted)
			}
			if got := len(lim.success) > 0; got != tc.success {
				t.Errorf("reset = %v, want %v", got, tc.success)
			}
		})
	}
}

// cannotCheck is a second factor whose seed cannot be read at Verify.
type cannotCheck struct{ fakeFactor }

func (cannotCheck) Verify(context.Context, User, string) error {
	return fmt.Errorf("%w: reading the TOTP seed of totpu: the secret store is sealed: run security unseal", ErrCannotCheck)
}

func TestSecondFactorCannotCheckIsNotAFailure(t *testing.T) {
	hash, _ := HashWithParams("Right-pass1", fastParams)
	remote := netip.MustParseAddr("198.19.128.1")
	users := mapDir{"totpu": {Name: "totpu", Roles: []string{AdminRole}, PasswordHash: hash, TwoFactor: &TwoFactor{Method: TwoFactorTOTP}}}
	for _, tc := range []struct {
		name    string
		factor  SecondFactor
		counted bool
	}{
		{"wrong code", &fakeFactor{code: "123456"}, true},
		{"code cannot be checked", &cannotCheck{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := &fakeLimiter{}
			a := &Authenticator{Dir: users, Lockout: lim, SecondFactor: tc.factor}
			_, err := a.Authenticate(context.Background(), "totpu", "Right-pass1", remote)
			var cn *CodeNeeded
			if !errors.As(err, &cn) {
				t.Fatalf("err = %v, want CodeNeeded", err)
			}
			_, err = cn.Verify(context.Background(), "000000")
			if !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("verify: %v, want a refusal", err)
			}
			if got := len(lim.failures) > 0; got != tc.counted {
				t.Errorf("counted = %v (%v), want %v", got, lim.failures, tc.counted)
			}
			var un *Unavailable
			if !tc.counted && (!errors.As(err, &un) || un.UserMessage() == "") {
				t.Errorf("verify: %v, want Unavailable with a message for the client", err)
			}
		})
	}
}
