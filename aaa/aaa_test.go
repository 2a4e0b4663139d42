package aaa

import (
	"regexp"
	"slices"
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
	u := User{Name: "alice", Roles: []string{MonitorRole}, PasswordHash: "$argon2id$secret"}
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

func TestUnion(t *testing.T) {
	dir := roleMap{
		"authView":  {Name: "authView", ReadWriteFeatures: []string{FeatureUsers}, ReadOnlyFeatures: []string{FeatureMaestroAuth}},
		"authAdmin": {Name: "authAdmin", ReadWriteFeatures: []string{FeatureMaestroAuth, FeatureExpert}},
	}
	for _, tc := range []struct {
		roles    []string
		name     string
		rw, ro   []string
		expert   bool
		errMatch string
	}{
		{roles: []string{"authView"}, name: "authView", rw: []string{FeatureUsers}, ro: []string{FeatureMaestroAuth}},
		{roles: []string{"authView", "authAdmin"}, name: "authView,authAdmin",
			rw: []string{FeatureMaestroAuth, FeatureUsers, FeatureExpert}, ro: []string{}, expert: true},
		{roles: []string{MonitorRole, "authView"}, name: "monitorRole,authView", rw: []string{FeatureUsers},
			ro: []string{FeatureMaestroAuth, FeatureRBA, FeaturePasswordControls, FeatureAAA, FeatureSecurity, FeatureManagement, FeatureConfig, FeatureAudit}},
		{roles: nil, errMatch: "no role"},
		{roles: []string{"authView", "ghost"}, errMatch: `unknown role "ghost"`},
	} {
		r, err := ResolveRoles(dir, tc.roles)
		if tc.errMatch != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errMatch) {
				t.Errorf("%v: err %v, want %q", tc.roles, err, tc.errMatch)
			}
			continue
		}
		if err != nil || r.Name != tc.name || !slices.Equal(r.ReadWriteFeatures, tc.rw) || !slices.Equal(r.ReadOnlyFeatures, tc.ro) || r.Expert != tc.expert {
			t.Errorf("%v: got %+v, %v; want name %s rw %v ro %v expert %v", tc.roles, r, err, tc.name, tc.rw, tc.ro, tc.expert)
		}
	}
}

func TestValidateEmail(t *testing.T) {
	for s, ok := range map[string]bool{
		"admin@example.com": true, "a.b+c@sub.example.org": true, "x@localhost": true,
		"": false, "admin": false, "Admin <admin@example.com>": false, "<a@b.c>": false, "a b@c.d": false,
		"a@b.c\n": false, "@example.com": false, strings.Repeat("a", 250) + "@b.cd": false,
	} {
		if err := ValidateEmail(s); (err == nil) != ok {
			t.Errorf("ValidateEmail(%q) = %v, want ok=%v", s, err, ok)
		}
	}
}
