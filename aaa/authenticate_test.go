package aaa

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

type mapDir map[string]User

func (d mapDir) LookupUser(name string) (User, bool) { u, ok := d[name]; return u, ok }

// countKDF counts key derivations until the test ends.
func countKDF(t *testing.T) *int {
	n := new(int)
	orig := kdf
	kdf = func(pw, salt []byte, time, mem uint32, threads uint8, keyLen uint32) []byte {
		*n++
		return orig(pw, salt, time, mem, threads, keyLen)
	}
	t.Cleanup(func() { kdf = orig })
	return n
}

func TestAuthenticate(t *testing.T) {
	const pw = "s3cret-Pass"
	adminHash, _ := Hash(pw)
	monHash, _ := HashWithParams(pw, fastParams)
	dir := mapDir{
		"admin":  {Name: "admin", Roles: []string{AdminRole}, PasswordHash: adminHash},
		"mon":    {Name: "mon", Roles: []string{MonitorRole}, PasswordHash: monHash},
		"both":   {Name: "both", Roles: []string{MonitorRole, "custom"}, PasswordHash: monHash},
		"off":    {Name: "off", Roles: []string{AdminRole}, State: StateInactive, PasswordHash: monHash},
		"nopw":   {Name: "nopw", Roles: []string{AdminRole}},
		"badh":   {Name: "badh", Roles: []string{AdminRole}, PasswordHash: "$argon2id$junk"},
		"norole": {Name: "norole", Roles: []string{"ghostRole"}, PasswordHash: monHash},
	}
	var logs []string
	roles := roleMap{"custom": {Name: "custom", ReadWriteFeatures: []string{FeatureUsers}}}
	a := &Authenticator{Dir: dir, Roles: roles, Logf: func(f string, args ...any) { logs = append(logs, fmt.Sprintf(f, args...)) }}
	remote := netip.MustParseAddr("198.18.0.7")
	ctx := context.Background()

	for _, tc := range []struct {
		user, pw string
		role     string // "" = refused
		reason   string
	}{
		{"admin", pw, AdminRole, ""},
		{"mon", pw, MonitorRole, ""},
		{"both", pw, MonitorRole + ",custom", ""},
		{"off", pw, "", "user is inactive"},
		{"admin", "Wr0ng!pw", "", "wrong password"},
		{"admin", "", "", "empty password"},
		{"ghost", pw, "", "unknown user"},
		{"ghost", "", "", "unknown user"},
		{"Admin", pw, "", "invalid user name"},
		{"nopw", pw, "", "user has no password set"},
		{"nopw", "", "", "user has no password set"},
		{"badh", pw, "", "stored password hash is unusable"},
		{"norole", pw, "", `user's roles are unusable: unknown role "ghostRole"`},
	} {
		n := countKDF(t)
		logs = nil
		p, err := a.Authenticate(ctx, tc.user, tc.pw, remote)
		if *n != 1 {
			t.Errorf("%s/%q: %d key derivations, want 1 (timing parity)", tc.user, tc.pw, *n)
		}
		if len(logs) != 1 {
			t.Errorf("%s: %d log lines, want 1", tc.user, len(logs))
		}
		for _, l := range logs {
			if tc.pw != "" && strings.Contains(l, tc.pw) {
				t.Errorf("log line %q holds the password", l)
			}
		}
		if tc.role != "" {
			if err != nil || p.User != tc.user || p.Role.Name != tc.role || p.Provider != ProviderLocal {
				t.Errorf("%s: got %+v, %v", tc.user, p, err)
			}
			continue
		}
		var f *Failure
		if !errors.Is(err, ErrAuthFailed) || !errors.As(err, &f) || err.Error() != "authentication failed" {
			t.Errorf("%s/%q: err %v, want authentication failed", tc.user, tc.pw, err)
			continue
		}
		wantUser := tc.user
		if tc.reason == "unknown user" || tc.reason == "invalid user name" {
			wantUser = "" // not a user: never named in a log
		}
		if !strings.HasPrefix(f.Reason, tc.reason) || f.Remote != remote || f.User != wantUser {
			t.Errorf("%s: failure %+v, want reason %q", tc.user, f, tc.reason)
		}
		if p.User != "" || p.Role.Name != "" {
			t.Errorf("%s: refused login returned principal %+v", tc.user, p)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Authenticate(cctx, "admin", pw, remote); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if _, err := (&Authenticator{}).Authenticate(ctx, "admin", pw, netip.Addr{}); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("no directory: %v", err)
	}
}

func TestDummyHashHasDefaultParams(t *testing.T) {
	if p, err := ParamsOf(dummyHash); err != nil || p != DefaultParams() {
		t.Fatalf("dummy hash params %+v, %v", p, err)
	}
}

type roleMap map[string]Role

func (m roleMap) LookupRole(name string) (Role, bool) {
	if r, ok := m[name]; ok {
		return r, true
	}
	return LookupRole(name)
}

// A password typed into the name field must not reach the log: a name
// that is not a user is logged as "unknown user".
func TestFailedLoginNeverLogsANonUserName(t *testing.T) {
	monHash, _ := HashWithParams("s3cret-Pass", fastParams)
	var logs []string
	a := &Authenticator{Dir: mapDir{"mon": {Name: "mon", Roles: []string{MonitorRole}, PasswordHash: monHash}},
		Logf: func(f string, args ...any) { logs = append(logs, fmt.Sprintf(f, args...)) }}
	for _, name := range []string{"Tr0ub4dor&3", "correcthorsebatterystaple", "Mon"} {
		logs = nil
		_, err := a.Authenticate(context.Background(), name, "x", netip.MustParseAddr("198.18.0.9"))
		var f *Failure
		if !errors.As(err, &f) {
			t.Fatalf("%q: %v", name, err)
		}
		for _, text := range append(logs, f.Detail(), f.LogUser(), err.Error()) {
			if strings.Contains(text, name) {
				t.Errorf("%q appears in %q", name, text)
			}
		}
		if !strings.Contains(f.Detail(), "unknown user") {
			t.Errorf("detail %q does not say unknown user", f.Detail())
		}
	}
	logs = nil
	_, err := a.Authenticate(context.Background(), "mon", "wrong", netip.Addr{})
	var f *Failure
	if !errors.As(err, &f) || f.LogUser() != `user "mon"` || !strings.Contains(logs[0], `user "mon"`) {
		t.Errorf("a real user's failure should name it: %v %q", err, logs)
	}
}

// A login that cannot get a derivation slot before its deadline gives up
// with the context's error instead of waiting on.
func TestLoginGivesUpWaitingForAHashSlot(t *testing.T) {
	monHash, _ := HashWithParams("s3cret-Pass", fastParams)
	a := &Authenticator{Dir: mapDir{"mon": {Name: "mon", Roles: []string{MonitorRole}, PasswordHash: monHash}}}
	// Take every slot, as a burst of logins would.
	for range cap(kdfSlots) {
		kdfSlots <- struct{}{}
	}
	defer func() {
		for range cap(kdfSlots) {
			<-kdfSlots
		}
	}()
	n := countKDF(t)
	for _, user := range []string{"mon", "ghost"} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		_, err := a.Authenticate(ctx, user, "s3cret-Pass", netip.Addr{})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrAuthFailed) {
			t.Errorf("%s: err %v, want the deadline (not a failed login)", user, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: gave up after %v", user, d)
		}
	}
	if *n != 0 {
		t.Errorf("%d derivations ran without a slot", *n)
	}
}
