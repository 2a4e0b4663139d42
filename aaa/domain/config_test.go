package domain

import (
	"strings"
	"testing"
)

func TestConfigOperations(t *testing.T) {
	var c Config
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	refuse := func(err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v; want %q", err, want)
		}
	}
	must(c.AddProvider(ProviderConfig{Name: "rad1", Type: TypeRADIUS, Host: "198.18.0.1", Protocol: "chap"}))
	must(c.AddProvider(ProviderConfig{Name: "rad2", Type: TypeRADIUS, Host: "198.18.0.2"}))
	must(c.AddProvider(ProviderConfig{Name: "dir", Type: TypeLDAP, Host: "ldap.example", BaseDN: "dc=x", BindDN: "cn=svc,dc=x", SSL: "ldaps"}))
	refuse(c.AddProvider(ProviderConfig{Name: "rad1", Type: TypeRADIUS, Host: "h"}), "already exists")
	refuse(c.AddProvider(ProviderConfig{Name: "bad", Type: TypeRADIUS, Host: "h", BaseDN: "dc=x"}), "for ldap providers")
	refuse(c.AddProvider(ProviderConfig{Name: "bad", Type: TypeLDAP, Host: "h"}), "base-dn")
	refuse(c.AddProvider(ProviderConfig{Name: "bad", Type: "kerberos", Host: "h"}), `invalid type "kerberos"`)
	refuse(c.AddProvider(ProviderConfig{Name: "bad", Type: TypeRADIUS, Host: "h", Timeout: 99}), "invalid timeout 99")
	refuse(c.AddProvider(ProviderConfig{Name: "1bad", Type: TypeRADIUS, Host: "h"}), "invalid provider name")
	must(c.AddGroupMap("dir", "cn=admins,dc=x", []string{"adminRole"}))
	refuse(c.AddGroupMap("rad1", "cn=admins,dc=x", []string{"adminRole"}), "for ldap providers")

	must(c.AddDomain("RAD", TypeRADIUS))
	refuse(c.AddDomain("rad", TypeRADIUS), "already exists")
	refuse(c.AddDomain("local", TypeRADIUS), "built in")
	must(c.AddMember("RAD", "rad1", 1))
	refuse(c.AddMember("RAD", "rad2", 1), "priority 1 is taken by provider rad1")
	refuse(c.AddMember("RAD", "dir", 2), "realm radius")
	must(c.AddMember("rad", "rad2", 2))
	refuse(c.DeleteProvider("rad1"), "used by login domain RAD")
	must(c.SetDefault("rad"))
	refuse(c.DeleteDomain("RAD"), "is the default")
	refuse(c.DeleteDomain("Local"), "cannot be deleted")
	must(c.SetActive("Local", false))
	must(c.Validate())
	c.Normalize()
	got := strings.Join(c.Commands(), "\n")
	want := `add aaa provider dir type ldap host ldap.example base-dn dc=x bind-dn cn=svc,dc=x ssl ldaps prompt-secret
add aaa provider dir group-map cn=admins,dc=x roles adminRole
add aaa provider rad1 type radius host 198.18.0.1 protocol chap prompt-secret
add aaa provider rad2 type radius host 198.18.0.2 prompt-secret
add aaa login-domain RAD realm radius
add aaa login-domain RAD provider rad1 priority 1
add aaa login-domain RAD provider rad2 priority 2
set aaa login-domain Local state inactive
set aaa default-login-domain RAD`
	if got != want {
		t.Errorf("commands:\n%s\nwant:\n%s", got, want)
	}
	must(c.SetDefault("Local"))
	must(c.DeleteMember("RAD", "rad1"))
	must(c.DeleteProvider("rad1"))
	must(c.DeleteDomain("rad"))
	must(c.Validate())
}

func TestSplitLoginForms(t *testing.T) {
	// The forms live in aaa.SplitLogin; the domain lookup ignores case.
	c := Config{Domains: []DomainConfig{{Name: "RAD", Realm: TypeRADIUS}}}
	if d, ok := c.Domain("rad"); !ok || d.Name != "RAD" {
		t.Fatal("case-insensitive domain lookup failed")
	}
}
