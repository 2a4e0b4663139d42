package aaa

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidateUserName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"admin", true},
		{"a", true},
		{"_", true},
		{"_svc", true},
		{"alice.smith-2_x", true},
		{strings.Repeat("a", 32), true},
		{"", false},
		{strings.Repeat("a", 33), false},
		{"Admin", false},
		{"1abc", false},
		{"-abc", false},
		{".abc", false},
		{"ab c", false},
		{"ab@c", false},
		{`dom\user`, false},
		{"user@dom", false},
		{"ålice", false},
		{"a\x00", false},
	} {
		err := ValidateUserName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateUserName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	err := ValidateUserName("Bob")
	want := `invalid user name "Bob": expected 1-32 characters, a lowercase letter or _ first, then lowercase letters, digits, _ . -`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

var userNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*$`)

func FuzzValidateUserName(f *testing.F) {
	for _, s := range []string{"admin", "", "_", "a.b-c_d", "Admin", "1a", strings.Repeat("z", 33), "ü", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateUserName(s)
		want := len(s) <= MaxUserNameLen && userNameRE.MatchString(s)
		if (err == nil) != want {
			t.Fatalf("ValidateUserName(%q) = %v, want ok=%v", s, err, want)
		}
	})
}

func TestUserStringHidesHash(t *testing.T) {
	u := User{Name: "alice", Role: MonitorRole, PasswordHash: "$argon2id$secret"}
	for _, s := range []string{u.String(), sprintV(u), sprintV([]User{u})} {
		if strings.Contains(s, "secret") {
			t.Errorf("%q shows the hash", s)
		}
	}
}

func TestRoles(t *testing.T) {
	admin, ok := LookupRole(AdminRole)
	if !ok || !admin.Expert {
		t.Fatalf("adminRole = %+v, %v", admin, ok)
	}
	mon, ok := LookupRole(MonitorRole)
	if !ok || mon.Expert {
		t.Fatalf("monitorRole = %+v, %v", mon, ok)
	}
	for _, f := range []string{"maestro-auth", "users", "rba", "password-controls", "aaa", "security", "management", "config", "audit", "expert"} {
		if !admin.ReadWrite(f) || !admin.Read(f) {
			t.Errorf("adminRole: %s not read-write", f)
		}
		if f == "expert" {
			if mon.Read(f) {
				t.Errorf("monitorRole: has expert")
			}
			continue
		}
		if mon.ReadWrite(f) || !mon.Read(f) {
			t.Errorf("monitorRole: %s not read-only", f)
		}
	}
	if admin.ReadWrite("nonsense") || mon.Read("nonsense") {
		t.Error("unknown feature granted")
	}
	if err := ValidateRoleName("rootRole"); err == nil || err.Error() != `unknown role "rootRole": expected adminRole or monitorRole` {
		t.Errorf("ValidateRoleName = %v", err)
	}
	// Callers cannot change the built-ins through the returned slices.
	admin.ReadWriteFeatures[0] = "x"
	if again, _ := LookupRole(AdminRole); !again.ReadWrite(FeatureMaestroAuth) {
		t.Error("built-in role mutated through a returned copy")
	}
}
