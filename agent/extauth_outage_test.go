package agent_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/domain"
	"github.com/orchd/orchd/agent"
	"github.com/orchd/orchd/clishdcmd/testroot"
	"github.com/orchd/orchd/config"
	"github.com/sirupsen/logrus"
)

// answer is what a fake provider says; ctx is the login's.
type answer func(ctx context.Context) (aaa.ProviderResult, error)

type fakeProvider struct{ answer answer }

func (f fakeProvider) Authenticate(ctx context.Context, _, _ string) (aaa.ProviderResult, error) {
	return f.answer(ctx)
}

// outageAgent is a daemon whose login domain EXT has providers p1
// (priority 1) and p2 (priority 2), answering as providers says.
func outageAgent(t *testing.T, providers map[string]answer) (*agent.Agent, *syncBuffer) {
	t.Helper()
	layout := testroot.Init(t, t.TempDir(), "1_1", "--orchestrators", "1_1,1_2", "--mgmt-address", "127.0.0.1",
		"--set", "sync.internal.interface=orchd-nx-int", "--set", "sync.external.interface=orchd-nx-ext")
	cfg, err := config.Load(layout.ConfigFile(), nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	lg := logrus.New()
	lg.SetOutput(logs)
	a, err := agent.New(agent.Options{Layout: layout, Config: cfg, Log: lg})
	if err != nil {
		t.Fatal(err)
	}
	agent.SetTestSecrets(&memSecrets{m: map[string][]byte{}})
	agent.SetTestProvider(func(pc domain.ProviderConfig) domain.Provider { return fakeProvider{providers[pc.Name]} })
	t.Cleanup(func() { agent.SetTestSecrets(nil); agent.SetTestProvider(nil) })
	for _, line := range []string{
		"add aaa provider p1 type radius host 127.0.0.1 prompt-secret",
		"add aaa provider p2 type radius host 127.0.0.2 prompt-secret",
		"add aaa login-domain EXT realm radius",
		"add aaa login-domain EXT provider p1 priority 1",
		"add aaa login-domain EXT provider p2 priority 2",
	} {
		if out, code := a.Clish(line, map[string]string{"secret": "Shared-secret1"}); code != 0 {
			t.Fatalf("%s: exit %d %s", line, code, out)
		}
	}
	return a, logs
}

// An external login counts for the per-address lockout only when a
// server said no (or accepted a name whose roles are unusable); a login no
// server could decide is audited as "error", tells the client which
// providers could not be asked, and never locks the address out. A name no
// provider accepted never reaches the log or the audit.
func TestExternalOutageIsNotAFailedLogin(t *testing.T) {
	// What a password typed into the name field looks like.
	const typed = "Hunter2-typed-in-name"
	var abandon context.CancelFunc // cancels the login being asked
	fail := func(err error) answer {
		return func(context.Context) (aaa.ProviderResult, error) { return aaa.ProviderResult{}, err }
	}
	var (
		timeout = fail(fmt.Errorf("radius 127.0.0.1:1812: %w", os.ErrDeadlineExceeded))
		refused = fail(fmt.Errorf("tacacs 127.0.0.2:49: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}))
		badTLS  = fail(fmt.Errorf("ldap ldaps://127.0.0.1:636: %w", x509.UnknownAuthorityError{}))
		reject  = fail(fmt.Errorf("%w: Access-Reject", aaa.ErrRejected))
		ghost   = func(context.Context) (aaa.ProviderResult, error) {
			return aaa.ProviderResult{Values: []string{"shell:msc-roles=ghostRole"}}, nil
		}
		gaveUp = func(ctx context.Context) (aaa.ProviderResult, error) {
			abandon() // the client went away while the server was being asked
			<-ctx.Done()
			return aaa.ProviderResult{}, fmt.Errorf("radius 127.0.0.1:1812: %w", ctx.Err())
		}
	)
	for _, tc := range []struct {
		name    string
		p1, p2  answer
		counted bool
		result  string // of the audit record
		message string // part of the client's message; "" for none
		named   bool   // the typed name may be logged
	}{
		{name: "rejected", p1: reject, p2: reject, counted: true, result: "refused"},
		{name: "first server down, the next rejects", p1: timeout, p2: reject, counted: true, result: "refused"},
		{name: "accepted with unusable roles", p1: ghost, p2: ghost, counted: true, result: "refused", named: true},
		{name: "every server down", p1: timeout, p2: refused, result: "error",
			message: `login domain EXT: no authentication server could be asked: p1 (no answer in time), p2 (connection refused); try again later, or log in as a local user (Local\NAME)`},
		{name: "TLS failure", p1: badTLS, p2: badTLS, result: "error", message: "p1 (TLS failure), p2 (TLS failure)"},
		{name: "login abandoned while asking", p1: gaveUp, p2: gaveUp, result: "error", message: "p1 (login abandoned)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, logs := outageAgent(t, map[string]answer{"p1": tc.p1, "p2": tc.p2})
			from := netip.MustParseAddr("198.18.7.7")
			// One more than failed-attempts-allowed (default 4).
			for i := range 5 {
				ctx, cancel := context.WithCancel(context.Background())
				abandon = cancel
				_, err := a.Auth().Authenticate(ctx, `EXT\`+typed, "Some-password1", from)
				cancel()
				if !errors.Is(err, aaa.ErrAuthFailed) {
					t.Fatalf("attempt %d: %v, want a refusal", i+1, err)
				}
				if i > 0 && tc.counted {
					continue // later attempts may meet the lock
				}
				var un *aaa.Unavailable
				if got := errors.As(err, &un); got != (tc.message != "") {
					t.Fatalf("attempt %d: %T %v: unavailable = %v, want %v", i+1, err, err, got, tc.message != "")
				}
				if un != nil && !strings.Contains(un.UserMessage(), tc.message) {
					t.Errorf("client message %q, want it to contain %q", un.UserMessage(), tc.message)
				}
				b, _ := os.ReadFile(a.AuditPath())
				if rec := lastLine(b); !strings.Contains(rec, `"type":"login"`) || !strings.Contains(rec, `"result":"`+tc.result+`"`) {
					t.Errorf("audit %s, want result %q", rec, tc.result)
				}
			}
			locked := a.Auth().Lockout.Check(from) != nil
			if locked != tc.counted {
				t.Errorf("after 5 attempts locked = %v, want %v", locked, tc.counted)
			}
			b, _ := os.ReadFile(a.AuditPath())
			if leaked := strings.Contains(string(b), typed) || strings.Contains(logs.String(), typed); leaked != tc.named {
				t.Errorf("typed name in the audit or the log = %v, want %v\naudit:\n%s\nlog:\n%s", leaked, tc.named, b, logs)
			}
		})
	}
}

// Every refusal of an external login that no provider accepted keeps the
// typed text (name, and domain part) out of the log and the audit, as
// local logins do: it may be a password typed into the wrong field.
func TestExternalRefusalsDoNotLogTypedNames(t *testing.T) {
	const typed = "Hunter2-typed"
	reject := func(context.Context) (aaa.ProviderResult, error) {
		return aaa.ProviderResult{}, fmt.Errorf("%w: Access-Reject", aaa.ErrRejected)
	}
	for _, tc := range []struct {
		name, login, setup, reason string
	}{
		{"unknown login domain", typed + `\alice`, "", "no such login domain"},
		{"unknown login domain (user@DOMAIN)", "alice@" + typed, "", "no such login domain"},
		{"invalid user name", `EXT\` + typed + " with spaces", "", "invalid user name"},
		{"rejected by the server", `EXT\` + typed, "", "Access-Reject"},
		{"inactive domain", `EXT\` + typed, "set aaa login-domain EXT state inactive", "login domain inactive"},
		{"inactive Local", `Local\` + typed, "set aaa login-domain Local state inactive", "login domain Local is inactive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, logs := outageAgent(t, map[string]answer{"p1": reject, "p2": reject})
			if tc.setup != "" {
				if out, code := a.Clish(tc.setup, nil); code != 0 {
					t.Fatalf("%s: exit %d %s", tc.setup, code, out)
				}
			}
			_, err := a.Auth().Authenticate(context.Background(), tc.login, "Some-password1", netip.MustParseAddr("198.18.7.8"))
			if !errors.Is(err, aaa.ErrAuthFailed) {
				t.Fatalf("%s: %v, want a refusal", tc.login, err)
			}
			b, _ := os.ReadFile(a.AuditPath())
			rec := lastLine(b)
			if !strings.Contains(rec, `"result":"refused"`) || !strings.Contains(rec, tc.reason) {
				t.Errorf("audit %s, want a refusal for %q", rec, tc.reason)
			}
			if strings.Contains(string(b), typed) || strings.Contains(logs.String(), typed) {
				t.Errorf("the typed text reached the audit or the log\naudit:\n%s\nlog:\n%s", b, logs)
			}
			if !strings.Contains(logs.String(), "login refused for unknown user") {
				t.Errorf("log does not say \"unknown user\":\n%s", logs)
			}
		})
	}
}

// The name trust logs in with authenticates the same user on a target
// whose default login domain is not Local: a bare "admin" would reach the
// domain's servers there instead of the local admin.
func TestTrustLoginOnTargetWithAnotherDefaultDomain(t *testing.T) {
	accept := func(context.Context) (aaa.ProviderResult, error) {
		return aaa.ProviderResult{Values: []string{"shell:msc-roles=adminRole"}}, nil
	}
	a, _ := outageAgent(t, map[string]answer{"p1": accept, "p2": accept})
	const pw = "Local-admin-pw1"
	for _, line := range []string{"add user admin role adminRole", "set user admin password", "set aaa default-login-domain EXT"} {
		if out, code := a.Clish(line, map[string]string{"password": pw}); code != 0 {
			t.Fatalf("%s: exit %d %s", line, code, out)
		}
	}
	from := netip.MustParseAddr("198.18.7.9")
	if p, err := a.Auth().Authenticate(context.Background(), "admin", pw, from); err != nil || p.Domain != "EXT" {
		t.Fatalf("bare admin: %+v %v; want the EXT domain's admin (the mistake trust must not make)", p, err)
	}
	for _, tc := range []struct{ user, dom, wantUser, wantDomain string }{
		{"admin", "", "admin", ""},
		{"alice@EXT", "EXT", "alice@EXT", "EXT"},
	} {
		login, err := agent.TrustLogin(tc.user, tc.dom)
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.Auth().Authenticate(context.Background(), login, pw, from)
		if err != nil || p.User != tc.wantUser || p.Domain != tc.wantDomain {
			t.Errorf("trust login %q: %+v %v; want user %s of domain %q", login, p, err, tc.wantUser, tc.wantDomain)
		}
	}
}
