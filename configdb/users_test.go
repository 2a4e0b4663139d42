package configdb

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/policy"
	"github.com/orchd/orchd/aaa/rba"
)

func TestUserOps(t *testing.T) {
	h := fastHash(t, "pw")
	h2 := fastHash(t, "pw2")
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	now = func() time.Time { return t0 }
	defer func() { now = func() time.Time { return time.Now().UTC().Truncate(time.Second) } }()
	view, err := rba.NewRole("authView", "System", "users", "maestro-auth")
	if err != nil {
		t.Fatal(err)
	}
	var d Doc
	steps := []struct {
		name string
		op   func() error
		want string // "" = success, else error text
	}{
		{"delete none", func() error { return d.DeleteUser("ghost") }, `no user "ghost": expected an existing user, and there are none`},
		{"add admin", func() error { return d.AddUser("admin", aaa.AdminRole) }, ""},
		{"add bad name", func() error { return d.AddUser("Alice", aaa.MonitorRole) }, `invalid user name "Alice": expected 1-32 characters, a lowercase letter or _ first, then lowercase letters, digits, _ . -`},
		{"add bad role", func() error { return d.AddUser("alice", "godRole") }, `unknown role "godRole": expected one of adminRole, monitorRole`},
		{"add no role", func() error { return d.AddUser("alice") }, `no role: expected at least one of adminRole, monitorRole`},
		{"add role twice", func() error { return d.AddUser("alice", aaa.MonitorRole, aaa.MonitorRole) }, `role monitorRole listed twice`},
		{"add alice", func() error { return d.AddUser("alice", aaa.MonitorRole) }, ""},
		{"add duplicate", func() error { return d.AddUser("alice", aaa.AdminRole) }, `user "alice" already exists: expected a new name (set user alice role R changes its roles)`},
		{"delete last admin", func() error { return d.DeleteUser("admin") }, `cannot delete "admin": it is the last user with adminRole`},
		{"demote last admin", func() error { return d.SetRole("admin", aaa.MonitorRole) }, `cannot change the roles of "admin" to monitorRole: it is the last user with adminRole`},
		{"custom role unknown yet", func() error { return d.SetRoles("alice", "authView") }, `unknown role "authView"`},
		{"add custom role", func() error { return d.AddRole(view) }, ""},
		{"add custom role twice", func() error { return d.AddRole(view) }, "role authView already exists"},
		{"two roles", func() error { return d.SetRoles("alice", aaa.MonitorRole, "authView") }, ""},
		{"delete held role", func() error { return d.DeleteRole("authView") }, "role authView is held by alice"},
		{"delete built-in role", func() error { return d.DeleteRole(aaa.MonitorRole) }, "role monitorRole is built in"},
		{"inactive", func() error { return d.SetState("alice", aaa.StateInactive) }, ""},
		{"last active admin", func() error { return d.SetState("admin", aaa.StateInactive) }, `cannot make "admin" inactive: it is the last active user with adminRole`},
		{"bad state", func() error { return d.SetState("alice", "asleep") }, `invalid state "asleep": expected active or inactive`},
		{"email", func() error { return d.SetEmail("alice", "alice@example.com") }, ""},
		{"bad email", func() error { return d.SetEmail("alice", "alice at example") }, `invalid email address "alice at example"`},
		{"back to one role", func() error { return d.SetRoles("alice", aaa.MonitorRole) }, ""},
		{"delete free role", func() error { return d.DeleteRole("authView") }, ""},
		{"active", func() error { return d.SetState("alice", aaa.StateActive) }, ""},
		{"re-set admin role", func() error { return d.SetRole("admin", aaa.AdminRole) }, ""},
		{"set unknown", func() error { return d.SetRole("bob", aaa.AdminRole) }, `no user "bob": expected one of admin, alice`},
		{"bad hash", func() error { return d.SetPassword("alice", "hunter2") }, `password of user "alice": malformed password hash`},
		{"password", func() error { return d.SetPassword("alice", h2) }, ""},
		{"password again", func() error { return d.SetPassword("alice", h) }, ""},
		{"control", func() error { return d.SetPasswordControl("history-length", "5") }, ""},
		{"bad control", func() error { return d.SetPasswordControl("history-length", "9") }, `invalid history-length "9": expected an integer 4-8`},
		{"promote alice", func() error { return d.SetRole("alice", aaa.AdminRole) }, ""},
		{"demote admin", func() error { return d.SetRole("admin", aaa.MonitorRole) }, ""},
		{"delete alice (last admin)", func() error { return d.DeleteUser("alice") }, `cannot delete "alice": it is the last user with adminRole`},
		{"delete admin (monitor)", func() error { return d.DeleteUser("admin") }, ""},
		{"expert bad", func() error { return d.SetExpertPassword("") }, "expert password: malformed password hash"},
		{"expert", func() error { return d.SetExpertPassword(h) }, ""},
	}
	for _, s := range steps {
		err := s.op()
		switch {
		case s.want == "" && err != nil:
			t.Errorf("%s: %v", s.name, err)
		case s.want != "" && (err == nil || !strings.HasPrefix(err.Error(), s.want)):
			t.Errorf("%s: got %v\nwant %s", s.name, err, s.want)
		}
	}
	want := aaa.User{Name: "alice", Roles: []string{aaa.AdminRole}, State: aaa.StateActive, Email: "alice@example.com",
		PasswordHash: h, PasswordHistory: []string{h2}, PasswordChangedAt: t0, Created: t0}
	if len(d.Users) != 1 || !reflect.DeepEqual(d.Users[0], want) || d.ExpertPasswordHash != h || d.PasswordControls.HistoryLength != 5 {
		t.Errorf("final users %+v, expert set %v", d.Users, d.ExpertPasswordHash != "")
	}
}

func TestCommandsGolden(t *testing.T) {
	h := fastHash(t, "pw")
	d := Doc{Roles: []aaa.Role{{Name: "auditor", ReadOnlyFeatures: []string{"audit"}}}, Users: []aaa.User{
		{Name: "zed", Roles: []string{aaa.MonitorRole, "auditor"}, State: aaa.StateInactive, Email: "zed@example.com"},
		{Name: "admin", Roles: []string{aaa.AdminRole}, PasswordHash: h},
		{Name: "alice", Roles: []string{aaa.MonitorRole}, PasswordHash: h},
	}, ExpertPasswordHash: h}
	d.PasswordControls = policy.Defaults()
	d.PasswordControls.Set("password-expiration", "30", time.Now())
	d.PasswordControls.Set("enforce-password-criteria", "on", time.Now())
	want := []string{
		"add rba role auditor domain-type System readonly-features audit",
		"set password-controls password-expiration 30",
		"set password-controls enforce-password-criteria on",
		"add user admin role adminRole",
		"set user admin password-hash <set, not shown>",
		"add user alice role monitorRole",
		"set user alice password-hash <set, not shown>",
		"add user zed role monitorRole,auditor",
		"set user zed state inactive",
		"set user zed email zed@example.com",
		"set expert-password-hash <set, not shown>",
	}
	got := d.Commands()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range append(got, d.String(), d.Users[0].String()) {
		if strings.Contains(s, h) || strings.Contains(s, "argon2") {
			t.Errorf("%q shows a hash", s)
		}
	}
	if got := (Doc{}).Commands(); len(got) != 0 {
		t.Errorf("empty configuration: %q", got)
	}
}
