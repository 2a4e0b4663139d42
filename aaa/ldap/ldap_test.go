package ldap

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/domain"
	"github.com/orchd/orchd/aaa/ldap/slapdtest"
)

var (
	good  = netip.MustParseAddr("127.0.0.1") // named by the server certificate
	wrong = netip.MustParseAddr("127.0.0.2") // same server, not in its certificate
)

func startSlapd(t *testing.T) *slapdtest.Server {
	t.Helper()
	if err := slapdtest.Lookup(); err != nil {
		t.Skip(err)
	}
	s, err := slapdtest.Start(t.TempDir(), []netip.Addr{good, wrong}, []netip.Addr{good}, []slapdtest.User{
		{CN: "alice", Password: "alice-pw", AVPairs: []string{"shell:msc-roles=adminRole"}, Groups: []string{"admins"}},
		{CN: "bob", Password: "bob-pw", Groups: []string{"viewers"}},
		{CN: "x*", Password: "star-pw"},
		{CN: "twin", Password: "pw", AVPairs: []string{"shell:msc-roles=adminRole"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func client(t *testing.T, s *slapdtest.Server, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Host: good.String(), Port: s.Port, BaseDN: slapdtest.Suffix, BindDN: slapdtest.RootDN,
		BindPassword: []byte(slapdtest.RootPW), Timeout: 2 * time.Second, CAFile: s.CAFile}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAgainstSlapd(t *testing.T) {
	s := startSlapd(t)
	ctx := context.Background()
	groupMaps := []GroupMap{
		{DN: "CN=admins, OU=groups, DC=orchd, DC=test", Roles: []string{"adminRole"}},
		{DN: slapdtest.GroupDN("viewers"), Roles: []string{"monitorRole"}},
	}
	t.Run("av-pair", func(t *testing.T) {
		res, err := client(t, s, nil).Authenticate(ctx, "alice", "alice-pw")
		if err != nil || !slices.Equal(res.Values, []string{"shell:msc-roles=adminRole"}) {
			t.Fatalf("alice: %+v, %v", res, err)
		}
	})
	t.Run("group-map", func(t *testing.T) {
		c := client(t, s, func(c *Config) { c.Authorization, c.GroupMaps = AuthzGroupMap, groupMaps })
		for user, want := range map[string]string{"alice": "adminRole", "bob": "monitorRole"} {
			res, err := c.Authenticate(ctx, user, user+"-pw")
			if err != nil || !res.GroupMap || !slices.Equal(res.GroupRoles, []string{want}) {
				t.Errorf("%s: %+v, %v; want roles [%s]", user, res, err, want)
			}
		}
	})
	t.Run("rejected", func(t *testing.T) {
		c := client(t, s, nil)
		for _, tt := range []struct{ user, pw, want string }{
			{"alice", "wrong", "invalid credentials"},
			{"nobody", "pw", "no entry"},
			{"alice", "", "empty password"},
			{"*", "alice-pw", "no entry"}, // escaped: not a wildcard
			{"x*", "alice-pw", "invalid"}, // the one entry named x*, wrong password
		} {
			_, err := c.Authenticate(ctx, tt.user, tt.pw)
			if !errors.Is(err, aaa.ErrRejected) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%q/%q: %v; want a rejection containing %q", tt.user, tt.pw, err, tt.want)
			}
		}
		// A name no entry matches may be a password typed into the name
		// field: the error (which reaches the log) does not carry it.
		const typed = "Hunter2-typed-in-name"
		if _, err := c.Authenticate(ctx, typed, "pw"); !errors.Is(err, aaa.ErrRejected) || strings.Contains(err.Error(), typed) {
			t.Errorf("no entry: %v; want a rejection without the typed name", err)
		}
		// A filter matching several entries is refused: exactly one.
		c = client(t, s, func(c *Config) { c.Filter = "(|(cn={username})(cn=twin))" })
		if _, err := c.Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, aaa.ErrRejected) || !strings.Contains(err.Error(), "more than one") {
			t.Errorf("two entries: %v", err)
		}
	})
	t.Run("tls", func(t *testing.T) {
		for _, tt := range []struct {
			name       string
			ssl, valid string
			host       netip.Addr
			ok         bool
		}{
			{"ldaps restrictive", SSLLDAPS, Restrictive, good, true},
			{"starttls restrictive", SSLStartTLS, Restrictive, good, true},
			{"ldaps restrictive wrong name", SSLLDAPS, Restrictive, wrong, false},
			{"starttls restrictive wrong name", SSLStartTLS, Restrictive, wrong, false},
			{"ldaps permissive wrong name", SSLLDAPS, Permissive, wrong, true},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := client(t, s, func(c *Config) {
					c.SSL, c.Validation, c.Host = tt.ssl, tt.valid, tt.host.String()
					if tt.ssl == SSLLDAPS {
						c.Port = s.LDAPSPort
					}
				})
				_, err := c.Authenticate(ctx, "alice", "alice-pw")
				switch {
				case tt.ok && err != nil:
					t.Fatalf("refused: %v", err)
				case !tt.ok && (err == nil || errors.Is(err, aaa.ErrRejected) || !strings.Contains(err.Error(), "certificate")):
					t.Fatalf("err = %v; want a certificate failure (could not ask)", err)
				case !tt.ok && domain.Cause(err) != "TLS failure":
					t.Fatalf("cause of %v = %q; want the client told of a TLS failure", err, domain.Cause(err))
				}
			})
		}
		// Restrictive without the test CA: the system roots do not know it.
		c := client(t, s, func(c *Config) { c.SSL, c.Port, c.CAFile = SSLLDAPS, s.LDAPSPort, "" })
		if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err == nil {
			t.Fatal("restrictive accepted a certificate from an unknown CA")
		}
	})
	t.Run("service account refused", func(t *testing.T) {
		c := client(t, s, func(c *Config) { c.BindPassword = []byte("nope") })
		if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err == nil || errors.Is(err, aaa.ErrRejected) {
			t.Fatalf("wrong bind password: %v; want could-not-ask", err)
		}
	})
}

func TestUnreachable(t *testing.T) {
	c, err := New(Config{Host: "127.0.0.1", Port: 1, BaseDN: "dc=x", BindDN: "cn=y", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(context.Background(), "alice", "pw"); err == nil || errors.Is(err, aaa.ErrRejected) {
		t.Fatalf("%v; want could-not-ask", err)
	}
}

func TestConfigChecks(t *testing.T) {
	base := Config{Host: "h", BaseDN: "dc=x", BindDN: "cn=y"}
	for _, mod := range []func(*Config){
		func(c *Config) { c.Filter = "(cn=fixed)" },
		func(c *Config) { c.Filter = "(cn={username}" },
		func(c *Config) { c.Filter = "(|(cn={username})(uid={username}))" },
		func(c *Config) { c.SSL = "tls" },
		func(c *Config) { c.Validation = "lax" },
		func(c *Config) { c.BaseDN = "" },
		func(c *Config) { c.SSL, c.CAFile = SSLLDAPS, "/nonexistent" },
	} {
		cfg := base
		mod(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	c, err := New(Config{Host: "h", BaseDN: "dc=x", BindDN: "cn=y", SSL: SSLLDAPS})
	if err != nil || c.URL() != "ldaps://h:636" || c.Filter("a*(b)") != `(cn=a\2a\28b\29)` {
		t.Errorf("defaults: %v %s %s", err, c.URL(), c.Filter("a*(b)"))
	}
}

func TestMatchGroups(t *testing.T) {
	maps := []GroupMap{{DN: "cn=a,dc=x", Roles: []string{"r1", "r2"}}, {DN: "CN=B, DC=X", Roles: []string{"r2", "r3"}}}
	got := MatchGroups(maps, []string{"cn=b,dc=x", "cn=a,dc=x", "cn=c,dc=x", "not a dn"})
	if !slices.Equal(got, []string{"r2", "r3", "r1"}) {
		t.Errorf("got %q", got)
	}
}
