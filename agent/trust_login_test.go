package agent

import (
	"crypto/ed25519"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/orchd/orchd/aaa"
	"golang.org/x/crypto/ssh"
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

// fakeTarget is an SSH server that counts the password checks it makes, as
// the target's lockout would count refusals.
type fakeTarget struct {
	password, code string
	banner         string // sent with a refused password ("" none)
	checks         atomic.Int32
}

func (f *fakeTarget) serve(t *testing.T, conn net.Conn) {
	_, key, _ := ed25519.GenerateKey(nil)
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Error(err)
		return
	}
	check := func(pw string) (*ssh.Permissions, error) {
		f.checks.Add(1)
		switch {
		case pw != f.password && f.banner != "":
			return nil, &ssh.BannerError{Err: errors.New("refused"), Message: f.banner + "\n"}
		case pw != f.password:
			return nil, errors.New("refused")
		case f.code == "":
			return &ssh.Permissions{}, nil
		}
		return nil, &ssh.PartialSuccessError{Next: ssh.ServerAuthCallbacks{
			KeyboardInteractiveCallback: func(_ ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
				ans, err := client("", "", []string{"Verification code: "}, []bool{false})
				if err != nil || len(ans) != 1 || ans[0] != f.code {
					return nil, errors.New("wrong code")
				}
				return &ssh.Permissions{}, nil
			}}}
	}
	cfg := &ssh.ServerConfig{
		BannerCallback:   func(ssh.ConnMetadata) string { return "greeting\n" },
		PasswordCallback: func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) { return check(string(pw)) },
		KeyboardInteractiveCallback: func(_ ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			ans, err := client("", "", []string{"Password: "}, []bool{false})
			if err != nil || len(ans) != 1 {
				return nil, errors.New("no answer")
			}
			return check(ans[0])
		},
	}
	cfg.AddHostKey(signer)
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() {
		for nc := range chans {
			nc.Reject(ssh.Prohibited, "test")
		}
	}()
	sc.Close()
}

// One trust login with a wrong password is one failed login at the target,
// not two: the password is not sent again by keyboard-interactive.
func TestTrustClientSendsThePasswordOnce(t *testing.T) {
	who := trustUser{Login: `Local\admin`, User: "admin", Domain: "Local"}
	for _, tc := range []struct {
		name    string
		target  *fakeTarget
		pw      string
		ok      bool
		refusal string
	}{
		{name: "right password", target: &fakeTarget{password: "Right-pw1"}, pw: "Right-pw1", ok: true},
		{name: "wrong password", target: &fakeTarget{password: "Right-pw1"}, pw: "wrong"},
		{name: "wrong password, target says why", target: &fakeTarget{password: "Right-pw1", banner: "login domain Local is inactive"}, pw: "wrong",
			refusal: "login domain Local is inactive"},
		{name: "right password and code", target: &fakeTarget{password: "Right-pw1", code: "123456"}, pw: "Right-pw1", ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Loopback TCP, not net.Pipe: both SSH sides write their
			// version first, which an unbuffered pipe deadlocks on.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			done := make(chan struct{})
			go func() { defer close(done); tc.target.serve(t, s) }()
			kbd := ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
				ans := make([]string, len(qs))
				for i, q := range qs {
					ans[i] = tc.pw
					if strings.Contains(q, "Verification code") {
						ans[i] = tc.target.code
					}
				}
				return ans, nil
			})
			login := &trustClient{}
			sc, _, _, err := ssh.NewClientConn(c, "target", login.config(who, tc.pw, kbd, ssh.InsecureIgnoreHostKey()))
			if sc != nil {
				sc.Close()
			}
			c.Close()
			<-done
			if (err == nil) != tc.ok {
				t.Fatalf("login: %v, want ok = %v", err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, errPasswordRefused) {
				t.Errorf("login: %v, want errPasswordRefused", err)
			}
			if n := tc.target.checks.Load(); n != 1 {
				t.Errorf("the target checked a password %d times, want 1", n)
			}
			if login.refusal != tc.refusal {
				t.Errorf("refusal %q, want %q (the greeting is not a reason)", login.refusal, tc.refusal)
			}
		})
	}
}
