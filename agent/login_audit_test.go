package agent_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/orchd/orchd/aaa"
)

// DESIGN §8.6: every login is audited with its result and why, local
// refusals too; a name that is not a user (maybe a password typed into
// the name field) stays out of the audit and the log.
func TestRefusedLocalLoginAudited(t *testing.T) {
	const typed = "Hunter2-typed-in-name"
	a, logs := outageAgent(t, nil)
	for _, line := range []string{"add user alice role adminRole", "set user alice password"} {
		if out, code := a.Clish(line, map[string]string{"password": "Alice-right-pw1"}); code != 0 {
			t.Fatalf("%s: exit %d %s", line, code, out)
		}
	}
	from := netip.MustParseAddr("198.18.7.8")
	for _, tc := range []struct {
		user, want string
	}{
		{"alice", `"user":"alice","provider":"local","source":"198.18.7.8","result":"refused","reason":"wrong password"`},
		{typed, `"source":"198.18.7.8"`},
	} {
		_, err := a.Auth().Authenticate(context.Background(), tc.user, "Wrong-password1", from)
		if !errors.Is(err, aaa.ErrAuthFailed) {
			t.Fatalf("%s: %v, want a refusal", tc.user, err)
		}
		b, _ := os.ReadFile(a.AuditPath())
		rec := lastLine(b)
		for _, want := range []string{`"type":"login"`, `"result":"refused"`, `"provider":"local"`, `"source":"198.18.7.8"`, tc.want} {
			if !strings.Contains(rec, want) {
				t.Errorf("%s: audit record %s lacks %s", tc.user, rec, want)
			}
		}
	}
	b, _ := os.ReadFile(a.AuditPath())
	if strings.Contains(string(b), typed) || strings.Contains(logs.String(), typed) || strings.Contains(string(b), "Wrong-password1") {
		t.Errorf("the typed name or the password reached the audit or the log:\n%s\n%s", b, logs)
	}
	if n := strings.Count(string(b), `"source":"198.18.7.8"`); n != 2 {
		t.Errorf("%d login records, want 2:\n%s", n, b)
	}
}
