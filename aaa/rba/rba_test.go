package rba

import (
	"slices"
	"strings"
	"testing"

	"github.com/orchd/orchd/aaa"
)

func TestParseFeatures(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "users", want: []string{"users"}},
		{in: "users,maestro-auth", want: []string{"maestro-auth", "users"}},
		{in: "expert,audit,config", want: []string{"config", "audit", "expert"}},
		{in: "", err: "empty feature list"},
		{in: "users,", err: `empty feature in "users,"`},
		{in: ",users", err: "empty feature"},
		{in: "users, rba", err: `unknown feature " rba"`},
		{in: "Users", err: `unknown feature "Users"`},
		{in: "users,users", err: `feature "users" listed twice`},
	} {
		got, err := ParseFeatures(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseFeatures(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseFeatures(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestNewRole(t *testing.T) {
	for _, tc := range []struct {
		name, dt, rw, ro string
		err              string
	}{
		{name: "authView", dt: "System", rw: "users", ro: "maestro-auth"},
		{name: "auditor", dt: "System", ro: "audit,config"},
		{name: "x-1_y", dt: "System", rw: "expert"},
		{name: "adminRole", dt: "System", rw: "users", err: "built in"},
		{name: "monitorRole", dt: "System", ro: "users", err: "built in"},
		{name: "1abc", dt: "System", rw: "users", err: "invalid role name"},
		{name: "", dt: "System", rw: "users", err: "invalid role name"},
		{name: strings.Repeat("a", 65), dt: "System", rw: "users", err: "invalid role name"},
		{name: "a.b", dt: "System", rw: "users", err: "invalid role name"},
		{name: "r", dt: "system", rw: "users", err: `invalid domain-type "system": expected System`},
		{name: "r", dt: "System", err: "has no feature"},
		{name: "r", dt: "System", rw: "users", ro: "users", err: "both read-write and read-only"},
		{name: "r", dt: "System", rw: "bogus", err: `readwrite-features: unknown feature "bogus"`},
		{name: "r", dt: "System", rw: "users", ro: "a,", err: "readonly-features: unknown feature"},
	} {
		r, err := NewRole(tc.name, tc.dt, tc.rw, tc.ro)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NewRole(%q,%q,%q,%q) = %+v, %v; want error %q", tc.name, tc.dt, tc.rw, tc.ro, r, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewRole(%q): %v", tc.name, err)
			continue
		}
		if r.Expert != r.ReadWrite(aaa.FeatureExpert) {
			t.Errorf("%s: Expert %v", tc.name, r.Expert)
		}
		// The line show configuration prints recreates the role.
		var rw, ro string
		if len(r.ReadWriteFeatures) > 0 {
			rw = strings.Join(r.ReadWriteFeatures, ",")
		}
		if len(r.ReadOnlyFeatures) > 0 {
			ro = strings.Join(r.ReadOnlyFeatures, ",")
		}
		again, err := NewRole(r.Name, DomainSystem, rw, ro)
		if err != nil || !slices.Equal(again.ReadWriteFeatures, r.ReadWriteFeatures) || !slices.Equal(again.ReadOnlyFeatures, r.ReadOnlyFeatures) {
			t.Errorf("%s: round trip of %q gave %+v, %v", tc.name, Command(r), again, err)
		}
	}
}

func TestStore(t *testing.T) {
	view, _ := NewRole("authView", "System", "users", "maestro-auth")
	roles, err := Add(nil, view)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Add(roles, view); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("adding twice: %v", err)
	}
	if r, ok := Lookup(roles, "authView"); !ok || !r.ReadWrite("users") || r.ReadWrite("maestro-auth") || !r.Read("maestro-auth") {
		t.Errorf("Lookup = %+v, %v", r, ok)
	}
	if r, ok := Lookup(roles, aaa.AdminRole); !ok || !r.Expert {
		t.Errorf("built-in lookup = %+v", r)
	}
	if got := Names(roles); !slices.Equal(got, []string{"adminRole", "monitorRole", "authView"}) {
		t.Errorf("Names = %v", got)
	}
	for _, tc := range []struct {
		name    string
		holders []string
		err     string
	}{
		{"adminRole", nil, "built in: it cannot be deleted"},
		{"monitorRole", nil, "built in"},
		{"ghost", nil, `no role "ghost": expected one of adminRole, monitorRole, authView`},
		{"authView", []string{"bob", "carol"}, "role authView is held by bob, carol"},
	} {
		if _, err := Delete(roles, tc.name, tc.holders); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Delete(%s): %v, want %q", tc.name, err, tc.err)
		}
	}
	left, err := Delete(roles, "authView", nil)
	if err != nil || len(left) != 0 || len(roles) != 1 {
		t.Errorf("Delete = %v, %v (original %v)", left, err, roles)
	}
}

// FuzzRoleParsers: the feature-list and role parsers never panic, and what
// they accept is valid and prints back to a line that parses the same.
func FuzzRoleParsers(f *testing.F) {
	for _, s := range [][3]string{
		{"authView", "users", "maestro-auth"}, {"r", "", "audit"}, {"adminRole", "users", ""},
		{"r", "users,users", ""}, {"r", ",", ","}, {"r", "users", "users"}, {"é", "expert", ""},
		{"r", "maestro-auth,users,rba,password-controls,aaa,security,management,config,audit,expert", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, name, rw, ro string) {
		if fs, err := ParseFeatures(rw); err == nil {
			for _, x := range fs {
				if !aaa.IsFeature(x) {
					t.Fatalf("ParseFeatures(%q) accepted %q", rw, x)
				}
			}
		}
		r, err := NewRole(name, DomainSystem, rw, ro)
		if err != nil {
			return
		}
		if err := Check(r); err != nil {
			t.Fatalf("NewRole accepted an invalid role %+v: %v", r, err)
		}
		if strings.ContainsAny(Command(r), "\n\t\"") {
			t.Fatalf("role line %q has a character that does not round-trip", Command(r))
		}
	})
}
