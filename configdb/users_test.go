package configdb

import (
	"strings"
	"testing"

	"github.com/orchd/orchd/aaa"
)

func TestUserOps(t *testing.T) {
	h := fastHash(t, "pw")
	var d Doc
	steps := []struct {
		name string
		op   func() error
		want string // "" = success, else error text
	}{
		{"delete none", func() error { return d.DeleteUser("ghost") }, `no user "ghost": expected an existing user, and there are none`},
		{"add admin", func() error { return d.AddUser("admin", aaa.AdminRole) }, ""},
		{"add bad name", func() error { return d.AddUser("Alice", aaa.MonitorRole) }, `invalid user name "Alice": expected 1-32 characters, a lowercase letter or _ first, then lowercase letters, digits, _ . -`},
		{"add bad role", func() error { return d.AddUser("alice", "godRole") }, `unknown role "godRole": expected adminRole or monitorRole`},
		{"add alice", func() error { return d.AddUser("alice", aaa.MonitorRole) }, ""},
		{"add duplicate", func() error { return d.AddUser("alice", aaa.AdminRole) }, `user "alice" already exists: expected a new name (set user alice role R changes its role)`},
		{"delete last admin", func() error { return d.DeleteUser("admin") }, `cannot delete "admin": it is the last user with adminRole`},
		{"demote last admin", func() error { return d.SetRole("admin", aaa.MonitorRole) }, `cannot change the role of "admin" to monitorRole: it is the last user with adminRole`},
		{"re-set admin role", func() error { return d.SetRole("admin", aaa.AdminRole) }, ""},
		{"set unknown", func() error { return d.SetRole("bob", aaa.AdminRole) }, `no user "bob": expected one of admin, alice`},
		{"bad hash", func() error { return d.SetPassword("alice", "hunter2") }, `password of user "alice": malformed password hash`},
		{"password", func() error { return d.SetPassword("alice", h) }, ""},
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
	if len(d.Users) != 1 || d.Users[0] != (aaa.User{Name: "alice", Role: aaa.AdminRole, PasswordHash: h}) || d.ExpertPasswordHash != h {
		t.Errorf("final users %v, expert set %v", d.Users, d.ExpertPasswordHash != "")
	}
}

func TestCommandsGolden(t *testing.T) {
	h := fastHash(t, "pw")
	d := Doc{Users: []aaa.User{
		{Name: "zed", Role: aaa.MonitorRole},
		{Name: "admin", Role: aaa.AdminRole, PasswordHash: h},
		{Name: "alice", Role: aaa.MonitorRole, PasswordHash: h},
	}, ExpertPasswordHash: h}
	want := []string{
		"add user admin role adminRole",
		"set user admin password-hash <set, not shown>",
		"add user alice role monitorRole",
		"set user alice password-hash <set, not shown>",
		"add user zed role monitorRole",
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
