package agent_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/radius"
	"github.com/orchd/orchd/aaa/tacacs/tacacstest"
	"github.com/orchd/orchd/agent"
	"github.com/orchd/orchd/clishdcmd/testroot"
	"github.com/orchd/orchd/config"
	"github.com/sirupsen/logrus"
	lr "layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// memSecrets is the sealed store for unit tests.
type memSecrets struct {
	mu     sync.Mutex
	m      map[string][]byte
	sealed bool
}

func (s *memSecrets) Put(name, owner string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed {
		return errors.New(agent.SealedMessage)
	}
	s.m[name] = v
	return nil
}

func (s *memSecrets) Get(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed {
		return nil, errors.New(agent.SealedMessage)
	}
	v, ok := s.m[name]
	if !ok {
		return nil, errors.New("no such secret")
	}
	return v, nil
}

func (s *memSecrets) Delete(name string) error {
	s.mu.Lock()
	delete(s.m, name)
	s.mu.Unlock()
	return nil
}
func (s *memSecrets) Sealed() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.sealed }

const radSecret, tacSecret = "rad-shared-Secret1", "tac-shared-Secret2"

// radiusServer answers users (name -> Cisco-AVPair values; password "pw").
func radiusServer(t *testing.T, users map[string][]string) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := func(w lr.ResponseWriter, r *lr.Request) {
		avs, ok := users[rfc2865.UserName_GetString(r.Packet)]
		if !ok || rfc2865.UserPassword_GetString(r.Packet) != "pw" {
			w.Write(r.Response(lr.CodeAccessReject))
			return
		}
		resp := r.Response(lr.CodeAccessAccept)
		for _, v := range avs {
			a, _ := radius.CiscoVSA(v)
			resp.Add(26, a)
		}
		w.Write(resp)
	}
	s := &lr.PacketServer{Handler: lr.HandlerFunc(h), SecretSource: lr.StaticSecretSource([]byte(radSecret)), ErrorLog: log.New(io.Discard, "", 0)}
	go s.Serve(pc)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func testAgent(t *testing.T) (*agent.Agent, *memSecrets) {
	t.Helper()
	root := t.TempDir()
	layout := testroot.Init(t, root, "1_1", "--orchestrators", "1_1,1_2", "--mgmt-address", "127.0.0.1",
		"--set", "sync.internal.interface=orchd-nx-int", "--set", "sync.external.interface=orchd-nx-ext")
	cfg, err := config.Load(layout.ConfigFile(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lg := logrus.New()
	lg.SetOutput(io.Discard)
	a, err := agent.New(agent.Options{Layout: layout, Config: cfg, Log: lg})
	if err != nil {
		t.Fatal(err)
	}
	st := &memSecrets{m: map[string][]byte{}}
	agent.SetTestSecrets(st)
	t.Cleanup(func() { agent.SetTestSecrets(nil) })
	return a, st
}

func clish(t *testing.T, a *agent.Agent, line string, answers map[string]string) (string, int) {
	t.Helper()
	return a.Clish(line, answers)
}

func TestExternalLogins(t *testing.T) {
	a, st := testAgent(t)
	// rad1 never answers (a bound UDP socket that reads nothing).
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	rad2 := radiusServer(t, map[string][]string{
		"alice": {"shell:msc-roles=adminRole"},
		"bob":   {"shell:msc-roles=adminRole,monitorRole/"},
		"eve":   {"shell:msc-roles=ghostRole"},
	})
	tac, err := tacacstest.Start("127.0.0.1:0", []byte(tacSecret), map[string]tacacstest.User{
		"carol": {Password: "pw", Args: []string{"priv-lvl=1", "shell:domains=orchall//adminRole"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tac.Close()
	_, tacPort, _ := net.SplitHostPort(tac.Addr)

	rsec := map[string]string{"secret": radSecret}
	for _, tc := range []struct {
		line    string
		answers map[string]string
		code    int
		out     string
	}{
		{"add aaa provider rad1 type radius host 127.0.0.1 port " + strconv.Itoa(dead.LocalAddr().(*net.UDPAddr).Port) + " timeout 1 prompt-secret", rsec, 0, "provider rad1 added"},
		{"add aaa provider rad2 type radius host 127.0.0.1 port " + strconv.Itoa(rad2) + " prompt-secret", rsec, 0, ""},
		{"add aaa provider tac1 type tacacs host 127.0.0.1 port " + tacPort + " prompt-secret", map[string]string{"secret": tacSecret}, 0, ""},
		{"add aaa provider rad3 type radius host 127.0.0.1", rsec, 1, "missing prompt-secret"},
		{"add aaa provider rad3 type radius host bad/host prompt-secret", rsec, 1, `invalid host "bad/host"`},
		{"add aaa provider rad3 type radius host h protocol mschap prompt-secret", rsec, 2, "mschap"},
		{"add aaa provider dir type ldap host h prompt-secret", rsec, 1, "base-dn"},
		{"add aaa login-domain RAD realm radius", nil, 0, ""},
		{"add aaa login-domain RAD provider rad1 priority 1", nil, 0, ""},
		{"add aaa login-domain RAD provider rad2 priority 1", nil, 1, "priority 1 is taken"},
		{"add aaa login-domain RAD provider tac1 priority 2", nil, 1, "realm radius"},
		{"add aaa login-domain RAD provider rad2 priority 2", nil, 0, ""},
		{"add aaa login-domain TAC realm tacacs", nil, 0, ""},
		{"add aaa login-domain TAC provider tac1 priority 5", nil, 0, ""},
		{"delete aaa provider rad1", nil, 1, "used by login domain RAD"},
		{"delete aaa login-domain Local", nil, 1, "cannot be deleted"},
	} {
		out, code := clish(t, a, tc.line, tc.answers)
		if code != tc.code || !strings.Contains(out, tc.out) {
			t.Fatalf("%s: exit %d %q; want %d containing %q", tc.line, code, out, tc.code, tc.out)
		}
	}
	for _, show := range []string{"show aaa providers", "show configuration", "show aaa login-domains"} {
		out, _ := clish(t, a, show, nil)
		if strings.Contains(out, radSecret) || strings.Contains(out, tacSecret) {
			t.Fatalf("%s shows a secret:\n%s", show, out)
		}
		t.Logf("%s:\n%s", show, out)
	}

	ctx := context.Background()
	from := netip.MustParseAddr("198.18.0.9")
	start := time.Now()
	p, err := a.Auth().Authenticate(ctx, `RAD\alice`, "pw", from)
	if err != nil || p.User != "alice@RAD" || p.Provider != "rad2" || !p.Role.ReadWrite(aaa.FeatureConfig) || p.Domain != "RAD" {
		t.Fatalf("alice: %+v, %v", p, err)
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("first login took %v: rad1 should have been waited for (timeout 1 s)", el)
	}
	// rad1 is in its dead time: the next login does not wait for it.
	start = time.Now()
	if _, err := a.Auth().Authenticate(ctx, "alice@RAD", "pw", from); err != nil || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("second login: %v after %v", err, time.Since(start))
	}
	p, err = a.Auth().Authenticate(ctx, "carol@tac", "pw", from)
	if err != nil || p.Role.ReadWrite(aaa.FeatureConfig) || !p.Role.Read(aaa.FeatureConfig) || p.Role.Expert {
		t.Fatalf("carol (read-only adminRole): %+v, %v", p, err)
	}
	for i, tc := range []struct{ login, reason string }{
		{`RAD\alice`, "Access-Reject"}, // wrong password below: final
		{`RAD\bob`, "mixes"},
		{`RAD\eve`, `ghostRole\", which does not exist`},
		{`NOPE\alice`, "no such login domain"},
	} {
		pw := "pw"
		if tc.login == `RAD\alice` {
			pw = "wrong"
		}
		// One source each: four refusals from one address would lock it
		// out (DESIGN §8.3) and the lockout record would come last.
		_, err := a.Auth().Authenticate(ctx, tc.login, pw, netip.AddrFrom4([4]byte{198, 18, 1, byte(i + 1)}))
		if !errors.Is(err, aaa.ErrAuthFailed) {
			t.Fatalf("%s: %v", tc.login, err)
		}
		b, _ := os.ReadFile(a.AuditPath())
		if !strings.Contains(lastLine(b), tc.reason) || !strings.Contains(lastLine(b), `"result":"refused"`) {
			t.Fatalf("%s: audit %s; want reason %q", tc.login, lastLine(b), tc.reason)
		}
	}

	out, code := clish(t, a, "test aaa login-domain RAD user alice", map[string]string{"password": "pw"})
	for _, want := range []string{"answered by: rad2", "role string: shell:msc-roles=adminRole", "roles granted: adminRole"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("test aaa login-domain: exit %d\n%s\nwant %q", code, out, want)
		}
	}
	out, code = clish(t, a, "test aaa login-domain RAD user bob", map[string]string{"password": "pw"})
	if code != 1 || !strings.Contains(out, "roles granted: none") || !strings.Contains(out, "mixes") {
		t.Fatalf("test bob: %d\n%s", code, out)
	}

	// Inactive domain: refused, naming it, to the client.
	clish(t, a, "set aaa login-domain RAD state inactive", nil)
	_, err = a.Auth().Authenticate(ctx, `RAD\alice`, "pw", from)
	var re *aaa.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.UserMessage(), "login domain RAD is inactive") {
		t.Fatalf("inactive: %v", err)
	}
	clish(t, a, "set aaa login-domain RAD state active", nil)

	// Sealed store: external logins say so (an outage, not a failed
	// login); local users still log in.
	st.sealed = true
	_, err = a.Auth().Authenticate(ctx, `RAD\alice`, "pw", from)
	var un *aaa.Unavailable
	if !errors.As(err, &un) || !strings.Contains(un.UserMessage(), agent.SealedMessage) {
		t.Fatalf("sealed: %v", err)
	}
	if _, err := a.Auth().Authenticate(ctx, `Local\admin`, "wrong-but-local", from); errors.As(err, &un) {
		t.Fatalf("local login while sealed went to the store: %v", err)
	}
	st.sealed = false

	// Default domain: a bare name goes to it.
	clish(t, a, "set aaa default-login-domain RAD", nil)
	if p, err := a.Auth().Authenticate(ctx, "alice", "pw", from); err != nil || p.Domain != "RAD" {
		t.Fatalf("bare name in default RAD: %+v %v", p, err)
	}
	out, code = clish(t, a, "delete aaa login-domain RAD", nil)
	if code != 1 || !strings.Contains(out, "is the default") {
		t.Fatalf("deleting the default: %d %s", code, out)
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
