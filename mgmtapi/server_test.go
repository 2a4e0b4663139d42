package mgmtapi

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchd/orchd/audit"
)

func selfSigned(t testing.TB, cn string, ed bool) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}
	var pub, priv any
	if ed {
		p, k, _ := ed25519.GenerateKey(rand.Reader)
		pub, priv = p, k
	} else {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub, priv = &k.PublicKey, k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: c}
}

type fixture struct {
	srv    *Server
	url    string
	mu     sync.Mutex
	mgr    Manager
	mon    Monitoring
	events []audit.Event
}

func (f *fixture) manager(m Manager) {
	f.mu.Lock()
	f.mgr = m
	f.mu.Unlock()
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{mon: DefaultMonitoring()}
	srvCert := selfSigned(t, "orchestrator 1_1", true)
	f.srv = &Server{
		Cert:    func() (*tls.Certificate, error) { return &srvCert, nil },
		Manager: func() Manager { f.mu.Lock(); defer f.mu.Unlock(); return f.mgr },
		Token: func(tok string) (string, string, error) {
			switch tok {
			case "good-admin":
				return "ci", "adminRole", nil
			case "good-mon":
				return "ro", "monitorRole", nil
			}
			return "", "", errors.New("unknown token")
		},
		Allowed: func(role, feature string, write bool) bool { return role == "adminRole" || !write },
		State:   func() ([]byte, error) { return []byte(`{"orchestrator":{"id":"1_1"}}`), nil },
		Health:  func() ([]byte, error) { return []byte(`{"tests":[]}`), nil },
		Audit:   func(n int) ([]byte, error) { return []byte("[]"), nil },
		Monitoring: func() Monitoring {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.mon
		},
		SetMonitoring: func(m Monitoring) error { f.mu.Lock(); f.mon = m; f.mu.Unlock(); return nil },
		Record:        func(e audit.Event) { f.mu.Lock(); f.events = append(f.events, e); f.mu.Unlock() },
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f.srv.Serve(l)
	t.Cleanup(func() { f.srv.Shutdown(t.Context()) })
	f.url = "https://" + l.Addr().String()
	return f
}

func client(cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{InsecureSkipVerify: true}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
}

func do(t *testing.T, c *http.Client, method, url, token, body string) (int, Refusal, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r Refusal
	json.Unmarshal(b, &r)
	return resp.StatusCode, r, string(b)
}

func TestRefusalsSayWhy(t *testing.T) {
	f := newFixture(t)
	mgr := selfSigned(t, "manager.example", false)
	other := selfSigned(t, "intruder", false)
	tpMgr, tpOther := Of(mgr.Leaf).String(), Of(other.Leaf).String()

	// No manager configured yet.
	code, r, _ := do(t, client(&mgr), "GET", f.url+"/api/v1/state", "", "")
	if code != 403 || r.Presented != tpMgr || r.Expected != "none" || r.Fix != "set management trusted-manager thumbprint "+tpMgr {
		t.Fatalf("unconfigured: %d %+v", code, r)
	}
	tp, _ := ParseThumbprint(tpMgr)
	f.manager(Manager{Thumbprint: tp, Set: true, Role: "monitorRole"})
	cases := []struct {
		name         string
		cert         *tls.Certificate
		token        string
		method, path string
		body         string
		code         int
		want         string // in the body
	}{
		{"manager state", &mgr, "", "GET", "/api/v1/state", "", 200, `"1_1"`},
		{"manager health", &mgr, "", "GET", "/api/v1/health", "", 200, "tests"},
		{"wrong cert", &other, "", "GET", "/api/v1/state", "", 403, `"presented": "` + tpOther},
		{"wrong cert expected", &other, "", "GET", "/api/v1/state", "", 403, `"expected": "` + tpMgr},
		{"no cert", nil, "", "GET", "/api/v1/state", "", 403, "no client certificate presented"},
		{"read-only manager PUT", &mgr, "", "PUT", "/api/v1/monitoring", `{"interval_seconds":30,"checks":["state"]}`, 403, "lacks management read-write"},
		{"token admin PUT", nil, "good-admin", "PUT", "/api/v1/monitoring", `{"interval_seconds":30,"checks":["state"]}`, 200, `"interval_seconds": 30`},
		{"token bad", nil, "nope", "GET", "/api/v1/state", "", 403, "bearer token refused: unknown token"},
		{"malformed PUT", nil, "good-admin", "PUT", "/api/v1/monitoring", `{"interval_seconds":1,"checks":["state"]}`, 400, "interval_seconds 1: expected 10-86400"},
		{"unknown key PUT", nil, "good-admin", "PUT", "/api/v1/monitoring", `{"interval_seconds":60,"checks":["state"],"x":1}`, 400, `unknown field \"x\"`},
		{"oversize PUT", nil, "good-admin", "PUT", "/api/v1/monitoring", strings.Repeat(" ", MaxBody+10), 413, "nothing changed"},
		{"bad last", &mgr, "", "GET", "/api/v1/audit?last=0", "", 400, "expected an integer 1-1000"},
		{"audit", &mgr, "", "GET", "/api/v1/audit?last=5", "", 200, "[]"},
		{"not found", &mgr, "", "GET", "/api/v2/x", "", 404, "endpoints:"},
		{"method", &mgr, "", "DELETE", "/api/v1/state", "", 405, "not allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, body := do(t, client(c.cert), c.method, f.url+c.path, c.token, c.body)
			if code != c.code || !strings.Contains(body, c.want) {
				t.Fatalf("got %d %s; want %d containing %q", code, body, c.code, c.want)
			}
		})
	}
	if m := f.srv.Monitoring(); m.IntervalSeconds != 30 {
		t.Errorf("monitoring after refused PUTs = %+v; want the token's PUT (30) kept", m)
	}
	f.mu.Lock()
	n := len(f.events)
	f.mu.Unlock()
	if n < len(cases)+1 {
		t.Errorf("%d audit events for %d requests", n, len(cases)+1)
	}
}

func TestManagerChangeClosesConnections(t *testing.T) {
	f := newFixture(t)
	mgr := selfSigned(t, "manager", false)
	f.manager(Manager{Thumbprint: Of(mgr.Leaf), Set: true, Role: "adminRole"})
	c := client(&mgr)
	if code, _, _ := do(t, c, "GET", f.url+"/api/v1/state", "", ""); code != 200 {
		t.Fatal(code)
	}
	f.manager(Manager{Thumbprint: Of(selfSigned(t, "new", false).Leaf), Set: true, Role: "adminRole"})
	if n := f.srv.ManagerChanged(); n != 1 {
		t.Fatalf("ManagerChanged closed %d connections; want 1", n)
	}
	// The same client (a new connection now) is refused.
	if code, r, _ := do(t, c, "GET", f.url+"/api/v1/state", "", ""); code != 403 || r.Presented != Of(mgr.Leaf).String() {
		t.Fatalf("after change: %d %+v", code, r)
	}
}

func TestParseThumbprint(t *testing.T) {
	want := "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"
	for _, in := range []string{
		"abcdef0123456789abcdef0123456789abcdef01",
		"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
		"ab cd ef 01 23 45 67 89 ab cd ef 01 23 45 67 89 ab cd ef 01",
		"AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89-AB-CD-EF-01",
	} {
		tp, err := ParseThumbprint(in)
		if err != nil || tp.String() != want {
			t.Errorf("ParseThumbprint(%q) = %v, %v", in, tp, err)
		}
	}
	for in, msg := range map[string]string{
		"abc":                          "3 hex digits: expected 40",
		"zz" + strings.Repeat("0", 38): `character "z" at position 1`,
		strings.Repeat("a", 64):        "a SHA-256 one has 64",
		"":                             "0 hex digits",
	} {
		if _, err := ParseThumbprint(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseThumbprint(%q) = %v; want %q", in, err, msg)
		}
	}
}

func FuzzParseThumbprint(f *testing.F) {
	for _, s := range []string{"abcdef0123456789abcdef0123456789abcdef01", "AB:CD", "ab cd ef", "", "::::", "g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseThumbprint(s)
		if err != nil {
			return
		}
		again, err := ParseThumbprint(tp.String())
		if err != nil || !again.Equal(tp) {
			t.Fatalf("round trip of %q failed: %v", s, err)
		}
	})
}

func FuzzDecodeMonitoring(f *testing.F) {
	for _, s := range []string{`{"interval_seconds":60,"checks":["state","health"],"alert_on":["FAILED"],"labels":{"a":"b"}}`, `{}`, `[]`, `{"checks":["x"]}`, `null`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMonitoring(b)
		if err != nil {
			return
		}
		out, _ := json.Marshal(m)
		if _, err := DecodeMonitoring(out); err != nil {
			t.Fatalf("accepted %q but not its re-encoding %s: %v", b, out, err)
		}
	})
}
