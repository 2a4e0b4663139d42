package healthcheck

import (
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/state"
)

func TestAdministratorLogins(t *testing.T) {
	until := now.Add(3 * time.Minute)
	tests := []struct {
		name   string
		logins *state.Logins
		want   Status
		texts  []string
	}{
		{"older daemon", nil, Passed, []string{"no login lockout table"}},
		{"nothing", &state.Logins{AlarmThreshold: 10}, Passed, []string{"no source address is locked out"}},
		{"a few failures", &state.Logins{AlarmThreshold: 10, Lockouts: []state.Lockout{{Address: "198.19.128.1", Failures: 2}}}, Passed,
			[]string{"1 source address(es) with recent failed logins"}},
		{"locked", &state.Logins{AlarmThreshold: 10, Lockouts: []state.Lockout{{Address: "198.19.128.1", Failures: 4, LockedUntil: &until, LastUser: "admin"}}}, Warning,
			[]string{"198.19.128.1 is locked out after 4 failed logins, last as user admin", "delete aaa lockout 198.19.128.1"}},
		{"alarm", &state.Logins{AlarmThreshold: 10, Lockouts: []state.Lockout{
			{Address: "198.19.128.1", Failures: 12, LockedUntil: &until, Alarm: true},
			{Address: "2001:db8::/64", Failures: 4, LockedUntil: &until}}}, Failed,
			[]string{"12 failed logins from 198.19.128.1 (alarm threshold 10)", "2001:db8::/64 is locked out"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := healthy()
			f.Logins = tc.logins
			r := runLogins(envFor(t, f))
			if r.Status != tc.want {
				t.Errorf("status %s, want %s: %+v", r.Status, tc.want, r.Findings)
			}
			var all []string
			for _, f := range r.Findings {
				all = append(all, f.Text+" | "+f.Remedy)
				if f.Severity != Passed && f.Remedy == "" {
					t.Errorf("finding without a remedy: %+v", f)
				}
			}
			for _, want := range tc.texts {
				if !strings.Contains(strings.Join(all, "\n"), want) {
					t.Errorf("findings %q lack %q", all, want)
				}
			}
		})
	}
}
