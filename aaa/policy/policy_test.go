package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa"
)

var fast = aaa.Params{Memory: 64, Time: 1, Threads: 1}

func hash(t testing.TB, pw string) string {
	h, err := aaa.HashWithParams(pw, fast)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDefaults(t *testing.T) {
	d := Defaults()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"enforce-password-criteria": "off", "min-password-length": "8", "require-lowercase": "on", "require-uppercase": "on",
		"require-digit": "on", "require-special": "on", "history-length": "8", "password-expiration": "90",
		"expiration-warning-days": "7", "inactive-user-deletion": "0 (off)", "failed-attempts-allowed": "4",
		"failed-lock-duration": "5", "failed-alarm-threshold": "10",
	}
	for _, s := range Settings() {
		if got := d.Get(s.Name); got != want[s.Name] {
			t.Errorf("default %s = %q, want %q", s.Name, got, want[s.Name])
		}
		delete(want, s.Name)
	}
	if len(want) != 0 {
		t.Errorf("settings missing: %v", want)
	}
	if c := d.Commands(); len(c) != 0 {
		t.Errorf("defaults as commands: %v", c)
	}
}

// TestSet: every range of DESIGN §8.2, at and beyond both ends.
func TestSet(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name, value string
		err         string // "" = accepted
	}{
		{"min-password-length", "8", ""}, {"min-password-length", "64", ""},
		{"min-password-length", "7", `invalid min-password-length "7": expected an integer 8-64 (default 8)`},
		{"min-password-length", "65", "expected an integer 8-64"},
		{"min-password-length", "08", "expected an integer 8-64"},
		{"min-password-length", "+9", "expected an integer 8-64"},
		{"min-password-length", "", "expected an integer 8-64"},
		{"history-length", "4", ""}, {"history-length", "8", ""}, {"history-length", "3", "4-8"}, {"history-length", "9", "4-8"},
		{"password-expiration", "30", ""}, {"password-expiration", "360", ""}, {"password-expiration", "29", "days, an integer 30-360"},
		{"password-expiration", "361", "30-360"}, {"password-expiration", "0", "30-360"},
		{"expiration-warning-days", "5", ""}, {"expiration-warning-days", "30", ""}, {"expiration-warning-days", "4", "5-30"},
		{"expiration-warning-days", "31", "5-30"},
		{"inactive-user-deletion", "0", ""}, {"inactive-user-deletion", "30", ""}, {"inactive-user-deletion", "360", ""},
		{"inactive-user-deletion", "1", "0 (off, default) or an integer 30-360"}, {"inactive-user-deletion", "29", "30-360"},
		{"inactive-user-deletion", "361", "30-360"},
		{"failed-attempts-allowed", "1", ""}, {"failed-attempts-allowed", "100", ""}, {"failed-attempts-allowed", "0", "1-100"},
		{"failed-attempts-allowed", "101", "1-100"},
		{"failed-lock-duration", "1", ""}, {"failed-lock-duration", "1440", ""}, {"failed-lock-duration", "0", "1-1440"},
		{"failed-lock-duration", "1441", "1-1440"},
		{"failed-alarm-threshold", "0", ""}, {"failed-alarm-threshold", "2", ""}, {"failed-alarm-threshold", "1000", ""},
		{"failed-alarm-threshold", "1", "0 (off) or an integer 2-1000"}, {"failed-alarm-threshold", "1001", "2-1000"},
		{"require-lowercase", "off", ""}, {"require-uppercase", "on", ""}, {"require-digit", "off", ""}, {"require-special", "off", ""},
		{"require-digit", "yes", `invalid require-digit "yes": expected on or off`},
		{"enforce-password-criteria", "off", "one-way"},
		{"enforce-password-criteria", "maybe", "expected on or off"},
		{"bogus", "1", `unknown password-controls setting "bogus": expected one of enforce-password-criteria, min-password-length`},
	} {
		c := Defaults()
		err := c.Set(tc.name, tc.value, now)
		if tc.err == "" {
			if err != nil || strings.TrimSuffix(c.Get(tc.name), " (off)") != tc.value {
				t.Errorf("set %s %s: %v (now %s)", tc.name, tc.value, err, c.Get(tc.name))
			}
			if err := c.Validate(); err != nil {
				t.Errorf("set %s %s: invalid after: %v", tc.name, tc.value, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("set %s %q: %v, want %q", tc.name, tc.value, err, tc.err)
		}
		if c != Defaults() {
			t.Errorf("set %s %q failed but changed the controls", tc.name, tc.value)
		}
	}
}

func TestEnforceIsOneWay(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := Defaults()
	if err := c.Set("enforce-password-criteria", "on", now); err != nil || !c.EnforcePasswordCriteria || !c.EnforcedSince.Equal(now) {
		t.Fatalf("on: %v %+v", err, c)
	}
	if err := c.Set("enforce-password-criteria", "on", now.Add(time.Hour)); err != nil || !c.EnforcedSince.Equal(now) {
		t.Errorf("on again moved EnforcedSince: %v %v", err, c.EnforcedSince)
	}
	err := c.Set("enforce-password-criteria", "off", now)
	if err == nil || !strings.Contains(err.Error(), "cannot be turned off: it is one-way") || !c.EnforcePasswordCriteria {
		t.Errorf("off: %v", err)
	}
	if got := c.Commands(); !slices.Equal(got, []string{"set password-controls enforce-password-criteria on"}) {
		t.Errorf("Commands = %v", got)
	}
}

// TestCheckPassword: one row per rule, each alone and together, enforcement
// off (all four classes required) and on (the require-* settings decide).
func TestCheckPassword(t *testing.T) {
	on := Defaults()
	on.EnforcePasswordCriteria = true
	relaxed := on
	relaxed.RequireLowercase, relaxed.RequireUppercase, relaxed.RequireDigit, relaxed.RequireSpecial = false, false, false, false
	offRelaxed := relaxed
	offRelaxed.EnforcePasswordCriteria = false // the require-* settings do not apply while off
	long := Defaults()
	long.MinPasswordLength = 12
	short4 := on
	short4.HistoryLength = 4

	cur := hash(t, "Current-pw1")
	hist := []string{hash(t, "Old-pw-1"), hash(t, "Old-pw-2"), hash(t, "Old-pw-3"), hash(t, "Old-pw-4")}
	for _, tc := range []struct {
		name string
		c    Controls
		pw   string
		want []string
	}{
		{"ok", Defaults(), "Good-pw-1", nil},
		{"length", Defaults(), "Go-pw-1", []string{"needs at least 8 characters"}},
		{"length 12", long, "Good-pw-1", []string{"needs at least 12 characters"}},
		{"length counts characters", Defaults(), "Ünï-cöd1", nil},
		{"lowercase", Defaults(), "GOOD-PW-1", []string{"needs a lowercase letter"}},
		{"uppercase", Defaults(), "good-pw-1", []string{"needs an uppercase letter"}},
		{"digit", Defaults(), "Good-pw-x", []string{"needs a digit"}},
		{"special", Defaults(), "Goodpw12", []string{"needs a special character"}},
		{"space is special", Defaults(), "Good pw 1", nil},
		{"all", Defaults(), "", []string{"needs at least 8 characters", "needs a lowercase letter", "needs an uppercase letter", "needs a digit", "needs a special character"}},
		{"off ignores require-*", offRelaxed, "abcdefgh", []string{"needs an uppercase letter", "needs a digit", "needs a special character"}},
		{"on honours require-*", relaxed, "abcdefgh", nil},
		{"on still needs length", relaxed, "abc", []string{"needs at least 8 characters"}},
		{"history current", on, "Current-pw1", []string{"used in the last 8 passwords"}},
		{"history old", on, "Old-pw-4", []string{"used in the last 8 passwords"}},
		{"not in the history", on, "Old-pw-9", nil},
		{"history length 4 forgets the 4th old one", short4, "Old-pw-4", nil},
		{"history length 4 keeps the 3rd", short4, "Old-pw-3", []string{"used in the last 4 passwords"}},
		{"history off while not enforced", Defaults(), "Current-pw1", nil},
		{"digit and history", on, "Old-pw-", []string{"needs at least 8 characters", "needs a digit"}},
	} {
		err := tc.c.CheckPassword(tc.pw, cur, hist)
		var re *RuleError
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.As(err, &re) || !slices.Equal(re.Broken, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		if tc.pw != "" && strings.Contains(err.Error(), tc.pw) {
			t.Errorf("%s: the error shows the password", tc.name)
		}
	}
	// The message DESIGN §8.2 quotes.
	err := on.CheckPassword("Current-pw", cur, []string{hash(t, "Current-pw")})
	if err == nil || err.Error() != "password refused: needs a digit; used in the last 8 passwords" {
		t.Errorf("design message: %v", err)
	}
}

func TestNewHistory(t *testing.T) {
	h := []string{}
	for i := range 10 {
		h = NewHistory(string(rune('a'+i)), h)
	}
	if !slices.Equal(h, []string{"j", "i", "h", "g", "f", "e", "d", "c"}) {
		t.Errorf("history = %v", h)
	}
	if got := NewHistory("", []string{"x"}); !slices.Equal(got, []string{"x"}) {
		t.Errorf("no previous: %v", got)
	}
}

func TestExpiry(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	on := Defaults()
	on.EnforcePasswordCriteria, on.EnforcedSince = true, t0
	u := aaa.User{Name: "bob", PasswordHash: "h", PasswordChangedAt: t0.Add(-200 * day)}
	for _, tc := range []struct {
		name    string
		c       Controls
		u       aaa.User
		now     time.Time
		expired bool
		warning string
	}{
		{"off never expires", Defaults(), u, t0.Add(1000 * day), false, ""},
		{"counts from enforcement", on, u, t0.Add(89 * day), false, "expires in 1 day"},
		{"expired at 90 days", on, u, t0.Add(90 * day), true, ""},
		{"no warning 8 days before", on, u, t0.Add(82 * day), false, ""},
		{"warning 7 days before", on, u, t0.Add(83 * day), false, "expires in 7 days"},
		{"less than a day", on, u, t0.Add(90*day - time.Hour), false, "in less than a day"},
		{"changed after enforcement", on, aaa.User{PasswordHash: "h", PasswordChangedAt: t0.Add(10 * day)}, t0.Add(95 * day), false, "expires in 5 days"},
		{"no password", on, aaa.User{}, t0.Add(1000 * day), false, ""},
	} {
		if got := tc.c.Expired(tc.u, tc.now); got != tc.expired {
			t.Errorf("%s: expired %v", tc.name, got)
		}
		if w := tc.c.Warning(tc.u, tc.now); tc.warning == "" && w != "" || !strings.Contains(w, tc.warning) {
			t.Errorf("%s: warning %q, want %q", tc.name, w, tc.warning)
		}
	}
	short := on
	short.PasswordExpiration = 30
	if !short.Expired(u, t0.Add(30*day)) || short.Expired(u, t0.Add(30*day-time.Second)) {
		t.Error("password-expiration 30 not honoured")
	}
}

func TestSweep(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(400 * day)
	on := Defaults()
	on.EnforcePasswordCriteria, on.EnforcedSince, on.InactiveUserDeletion = true, t0, 30
	admin := []string{aaa.AdminRole}
	mon := []string{aaa.MonitorRole}
	u := func(name string, roles []string, created time.Time) aaa.User {
		return aaa.User{Name: name, Roles: roles, Created: created}
	}
	for _, tc := range []struct {
		name  string
		c     Controls
		users []aaa.User
		last  map[string]time.Time
		want  []string
	}{
		{"off", Defaults(), []aaa.User{u("a", admin, t0), u("m", mon, t0)}, nil, nil},
		{"days 0 is off", func() Controls { c := on; c.InactiveUserDeletion = 0; return c }(), []aaa.User{u("a", admin, t0), u("m", mon, t0)}, nil, nil},
		{"inactive monitor goes", on, []aaa.User{u("a", admin, t0), u("m", mon, t0)}, map[string]time.Time{"a": now.Add(-day)}, []string{"m"}},
		{"recent login stays", on, []aaa.User{u("a", admin, t0), u("m", mon, t0)}, map[string]time.Time{"a": now, "m": now.Add(-29 * day)}, nil},
		{"exactly 30 days goes", on, []aaa.User{u("a", admin, t0), u("m", mon, t0)}, map[string]time.Time{"a": now, "m": now.Add(-30 * day)}, []string{"m"}},
		{"new account stays", on, []aaa.User{u("a", admin, t0), u("m", mon, now.Add(-day))}, map[string]time.Time{"a": now}, nil},
		{"last admin stays", on, []aaa.User{u("a", admin, t0), u("m", mon, t0)}, nil, []string{"m"}},
		{"the most recent of two inactive admins stays", on, []aaa.User{u("a", admin, t0), u("b", admin, t0), u("m", mon, t0)},
			map[string]time.Time{"a": now.Add(-100 * day), "b": now.Add(-50 * day)}, []string{"a", "m"}},
		{"inactive admins go while an active one holds adminRole", on, []aaa.User{u("a", admin, t0), u("b", admin, t0), u("c", []string{"x", aaa.AdminRole}, t0)},
			map[string]time.Time{"c": now}, []string{"a", "b"}},
	} {
		var got []string
		for _, d := range tc.c.Sweep(tc.users, tc.last, now) {
			got = append(got, d.User)
			if !strings.Contains(d.Reason, "inactive for") {
				t.Errorf("%s: reason %q", tc.name, d.Reason)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: deleted %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzSet: the password-controls parser never panics, refuses without
// changing anything, and what it accepts is in range and shows back the
// value as given.
func FuzzSet(f *testing.F) {
	for _, s := range Settings() {
		f.Add(s.Name, "0")
		f.Add(s.Name, "on")
		f.Add(s.Name, "off")
		f.Add(s.Name, "30")
	}
	f.Add("min-password-length", "-1")
	f.Add("min-password-length", "99999999999999999999")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, name, value string) {
		c := Defaults()
		err := c.Set(name, value, time.Unix(0, 0))
		if err != nil {
			if c != Defaults() {
				t.Fatalf("refused %s %q but changed the controls", name, value)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted %s %q: %v", name, value, err)
		}
		if got := strings.TrimSuffix(c.Get(name), " (off)"); got != value {
			t.Fatalf("set %s %q shows %q", name, value, got)
		}
	})
}

// FuzzCheckPassword: never panics, and a refusal never quotes the password.
func FuzzCheckPassword(f *testing.F) {
	for _, s := range []string{"", "a", "Good-pw-1", "ÜÜÜÜÜÜÜÜ", "\x00\xff", "漢字漢字漢字漢字1!"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, pw string, enforce bool) {
		c := Defaults()
		c.EnforcePasswordCriteria = enforce
		err := c.CheckPassword(pw, "", nil)
		var re *RuleError
		if err != nil && (!errors.As(err, &re) || len(re.Broken) == 0) {
			t.Fatalf("%q: %v", pw, err)
		}
		if err != nil && len(pw) > 3 && strings.Contains(err.Error(), pw) {
			t.Fatalf("%q: error quotes it: %v", pw, err)
		}
	})
}
