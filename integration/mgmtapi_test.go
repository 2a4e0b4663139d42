package integration

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// The trusted manager API (DESIGN §10) with real clients: curl as the
// manager and as a script, openssl for certificates and s_client.
func TestManagementAPI(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"curl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (make test installs it as root)", tool)
		}
	}
	tb := upTestbed(t, tbSpec{prefix: "itapi-", mgmt: "198.19.156.0/23"}, 1, 1)
	node := tb.Nodes[0]
	id := node.ID.String()
	base := fmt.Sprintf("https://%s:8443", node.Mgmt.Addr())
	dir := t.TempDir()

	newCert := func(name string) (crt, key, thumb string) {
		crt, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
			"-subj", "/CN="+name, "-days", "2", "-keyout", key, "-out", crt).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl req: %v\n%s", err, out)
		}
		out, err = exec.Command("openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in", crt).Output()
		if err != nil {
			t.Fatal(err)
		}
		_, thumb, _ = strings.Cut(strings.TrimSpace(string(out)), "=")
		return crt, key, thumb
	}
	mgrCrt, mgrKey, mgrTP := newCert("manager")
	badCrt, badKey, badTP := newCert("intruder")

	type answer struct {
		code int
		body map[string]any
		raw  string
	}
	curl := func(args ...string) answer {
		t.Helper()
		argv := append([]string{"-sk", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"}, args...)
		out, err := exec.Command("curl", argv...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		s := strings.TrimRight(string(out), "\n")
		i := strings.LastIndexByte(s, '\n')
		var a answer
		fmt.Sscan(s[i+1:], &a.code)
		a.raw = s[:max(i, 0)]
		json.Unmarshal([]byte(a.raw), &a.body)
		return a
	}
	asMgr := []string{"--cert", mgrCrt, "--key", mgrKey}
	asBad := []string{"--cert", badCrt, "--key", badKey}
	clish := func(inputJSON, line string, wantOK bool) string {
		t.Helper()
		out, code := clishOn(t, tb, id, inputJSON, line)
		if (code == 0) != wantOK {
			t.Fatalf("clish %q: exit %d (want ok=%v):\n%s", line, code, wantOK, out)
		}
		return out
	}

	// The API waits for the daemon; nothing is trusted yet.
	var a answer
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("curl", "-sk", "--max-time", "2", "-o", "/dev/null", "-w", "%{http_code}", base+"/api/v1/state").Output()
		if err == nil && string(out) == "403" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("management API not answering at %s: %v %s", base, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a = curl(append(asMgr, base+"/api/v1/state")...)
	if a.code != 403 || a.body["presented"] != mgrTP || a.body["expected"] != "none" || a.body["fix"] != "set management trusted-manager thumbprint "+mgrTP {
		t.Fatalf("unconfigured manager: %d %s", a.code, a.raw)
	}
	a = curl(base + "/api/v1/state")
	if a.code != 403 || a.body["presented"] != "none" || !strings.Contains(fmt.Sprint(a.body["error"]), "no client certificate") {
		t.Fatalf("no certificate: %d %s", a.code, a.raw)
	}

	// Bad input changes nothing.
	out := clish("", "set management trusted-manager thumbprint 12:34:zz", false)
	if !strings.Contains(out, `invalid thumbprint "12:34:zz"`) || !strings.Contains(out, "expected 40 hex digits") {
		t.Errorf("malformed thumbprint: %s", out)
	}
	out = clish("", "set management trusted-manager hostname 127.0.0.1:1 thumbprint "+mgrTP, false)
	if !strings.Contains(out, "fetching the certificate of 127.0.0.1:1") {
		t.Errorf("host without TLS: %s", out)
	}

	// Trust by thumbprint, in a lower-case, space-separated spelling.
	spaced := strings.ToLower(strings.ReplaceAll(mgrTP, ":", " "))
	clish("", `set management trusted-manager thumbprint "`+spaced+`"`, true)
	a = curl(append(asMgr, base+"/api/v1/state")...)
	if a.code != 200 || !strings.Contains(a.raw, `"id": "`+id+`"`) {
		t.Fatalf("manager GET state: %d %s", a.code, a.raw)
	}
	a = curl(append(asMgr, base+"/api/v1/health")...)
	if a.code != 200 || !strings.Contains(a.raw, "Maestro Orchestrator Authentication") {
		t.Fatalf("manager GET health: %d %.300s", a.code, a.raw)
	}
	a = curl(append(asBad, base+"/api/v1/state")...)
	if a.code != 403 || a.body["presented"] != badTP || a.body["expected"] != mgrTP || a.body["fix"] != "set management trusted-manager thumbprint "+badTP {
		t.Fatalf("wrong certificate: %d %s", a.code, a.raw)
	}

	// monitorRole (the default) may not push monitoring.
	doc := `{"interval_seconds": 30, "checks": ["state", "health"]}`
	a = curl(append(asMgr, "-X", "PUT", "--data", doc, base+"/api/v1/monitoring")...)
	if a.code != 403 || !strings.Contains(a.raw, "lacks management read-write") {
		t.Fatalf("read-only PUT: %d %s", a.code, a.raw)
	}
	clish("", "set management trusted-manager role adminRole", true)
	a = curl(append(asMgr, "-X", "PUT", "--data", doc, base+"/api/v1/monitoring")...)
	if a.code != 200 {
		t.Fatalf("PUT monitoring: %d %s", a.code, a.raw)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"interval_seconds": 30, "checks": ["nope"]}`, `unknown value \"nope\"`},
		{`{"interval_seconds": 30`, "not a monitoring document"},
		{strings.Repeat("x", 70000), "nothing changed"},
	} {
		a = curl(append(asMgr, "-X", "PUT", "--data-binary", bad.body, base+"/api/v1/monitoring")...)
		if a.code/100 != 4 || !strings.Contains(a.raw, bad.want) {
			t.Errorf("bad PUT %.40q: %d %s", bad.body, a.code, a.raw)
		}
	}
	a = curl(append(asMgr, base+"/api/v1/monitoring")...)
	if a.code != 200 || a.body["interval_seconds"] != float64(30) {
		t.Fatalf("GET monitoring after refused PUTs: %d %s", a.code, a.raw)
	}
	a = curl(append(asMgr, base+"/api/v1/audit?last=3")...)
	if a.code != 200 || !strings.Contains(a.raw, `"type": "api"`) {
		t.Fatalf("GET audit: %d %s", a.code, a.raw)
	}

	// A new thumbprint takes effect at once, no restart.
	clish("", "set management trusted-manager thumbprint "+badTP, true)
	if a = curl(append(asMgr, base+"/api/v1/state")...); a.code != 403 || a.body["expected"] != badTP {
		t.Fatalf("old manager after change: %d %s", a.code, a.raw)
	}
	if a = curl(append(asBad, base+"/api/v1/state")...); a.code != 200 {
		t.Fatalf("new manager after change: %d %s", a.code, a.raw)
	}

	// The server presents the orchestrator's identity key.
	sc := exec.Command("openssl", "s_client", "-connect", strings.TrimPrefix(base, "https://"), "-showcerts")
	sc.Stdin = strings.NewReader("")
	scOut, _ := sc.Output()
	blk, _ := pem.Decode(scOut[max(strings.Index(string(scOut), "-----BEGIN CERTIFICATE-----"), 0):])
	if blk == nil {
		t.Fatalf("openssl s_client printed no certificate:\n%s", scOut)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	out = clish("", "show maestro authentication fingerprint", true)
	if !strings.Contains(out, ssh.FingerprintSHA256(pub)) {
		t.Errorf("API server key %s is not the identity:\n%s", ssh.FingerprintSHA256(pub), out)
	}
	out = clish("", "show management", true)
	if !strings.Contains(out, badTP) || !strings.Contains(out, "adminRole") {
		t.Errorf("show management:\n%s", out)
	}
	if out = clish("", "show configuration", true); !strings.Contains(out, "set management trusted-manager thumbprint "+badTP) {
		t.Errorf("show configuration:\n%s", out)
	}
	b, _ := os.ReadFile(filepath.Join(node.Root, "var", "log", "clishd", "audit.jsonl"))
	if n := strings.Count(string(b), `"type":"api"`); n < 10 {
		t.Errorf("%d api audit records; want one per request", n)
	}
}
