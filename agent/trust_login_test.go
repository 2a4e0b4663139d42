package agent

import (
	"strings"
	"testing"

	"github.com/orchd/orchd/aaa"
)

func TestTrustLoginFor(t *testing.T) {
	for _, tc := range []struct {
		name, user, dom string
		login, err      string
	}{
		{name: "local user", user: "admin", login: `Local\admin`},
		{name: "local user, domain named", user: "ops", dom: "local", login: `Local\ops`},
		{name: "remote user", user: "alice@RAD", dom: "RAD", login: `RAD\alice`},
		{name: "remote user with @ in the name", user: "alice@corp.example@LDAP1", dom: "LDAP1", login: `LDAP1\alice@corp.example`},
		{name: "no user", err: "no user name"},
		{name: "remote name without its domain", user: "alice", dom: "RAD", err: "cannot name user alice of login domain RAD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := trustLoginFor(tc.user, tc.dom)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil || u.Login != tc.login {
				t.Fatalf("login %q, %v; want %q", u.Login, err, tc.login)
			}
			// The target splits it back into the same domain and user,
			// whatever its default login domain.
			if dom, user := aaa.SplitLogin(u.Login); dom != u.Domain || user != u.User {
				t.Errorf("target reads %q as %s\\%s, want %s\\%s", u.Login, dom, user, u.Domain, u.User)
			}
		})
	}
}

func TestTrustLoginRefused(t *testing.T) {
	local := trustUser{Login: `Local\admin`, User: "admin", Domain: "Local"}
	remote := trustUser{Login: `RAD\alice`, User: "alice", Domain: "RAD"}
	for _, tc := range []struct {
		u      trustUser
		banner string
		want   string
	}{
		// integration/mesh_test.go reads "ID: wrong administrator password".
		{local, "", "wrong administrator password: login as user admin of login domain Local refused"},
		{local, "login domain Local is inactive", "login as user admin of login domain Local refused: login domain Local is inactive"},
		{remote, "", "login as user alice of login domain RAD refused: wrong password at the servers of login domain RAD, or login domain RAD is not configured there"},
		{remote, "login domain RAD: no authentication server could be asked: rad1 (no answer in time)", "refused: login domain RAD: no authentication server could be asked"},
	} {
		if got := trustLoginRefused(tc.u, tc.banner); !strings.HasPrefix(got, tc.want) && !strings.Contains(got, tc.want) {
			t.Errorf("%v / %q: %q, want %q", tc.u, tc.banner, got, tc.want)
		}
	}
}
