package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/paths"
	"github.com/orchd/orchd/secrets"
	"github.com/orchd/orchd/testbed"
)

// secretsSpec: every /20 of 198.19.128.0/17 is taken and the testbed
// refuses the sync networks; the top /23 of the mesh benchmark's /20
// (198.19.144.0/20, make bench only; its 8x8 nodes end at 198.19.152.8).
var secretsSpec = tbSpec{prefix: "itsec-", mgmt: "198.19.158.0/23"}

// marker makes every passphrase of the test greppable: none may appear in
// the node's files, its log or ps output.
func marker(what string) string {
	return fmt.Sprintf("MRK%s%08x", what, rand.Uint32())
}

// sshIn runs one command over OpenSSH with stdin (the prompt answers, one
// per line: exec sessions without a pty read them from the stream).
func sshIn(t *testing.T, addr, password, stdin, command string) (string, int) {
	t.Helper()
	cmd := exec.Command("sshpass", append(sshArgs(addr, "admin"), command)...)
	cmd.Env = append(os.Environ(), "SSHPASS="+password)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	return string(out), code
}

// sec runs clish on node id with --input-json answers (none when empty).
func sec(t *testing.T, tb *testbed.Testbed, id, answers, line string) (string, int) {
	t.Helper()
	argv := []string{"clish", "-c", line}
	if answers != "" {
		argv = []string{"clish", "--input-json", "-c", line}
	}
	out, errOut, code := run(t, tb, id, answers, argv...)
	return out + errOut, code
}

func mustSec(t *testing.T, tb *testbed.Testbed, id, answers, line, want string) string {
	t.Helper()
	out, code := sec(t, tb, id, answers, line)
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("%s on %s: exit %d, want %q in:\n%s", line, id, code, want, out)
	}
	return out
}

func failSec(t *testing.T, tb *testbed.Testbed, id, answers, line, want string) {
	t.Helper()
	out, code := sec(t, tb, id, answers, line)
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("%s on %s: exit %d, want exit 1 and %q in:\n%s", line, id, code, want, out)
	}
}

func js(kv ...string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %q", kv[i], kv[i+1])
	}
	return b.String() + "}"
}

// TestSecretStore drives DESIGN §9 end to end: over SSH (OpenSSH, answers on
// stdin) and the console (clish --input-json), restarts, auto-unseal, reset,
// export on 1_1 and import on 1_2 (another ID); then greps both nodes' whole
// roots, their logs and ps output for every passphrase used.
func TestSecretStore(t *testing.T) {
	needRoot(t)
	needSSH(t)
	adminPW := marker("admin")
	tb := upTestbedPW(t, secretsSpec, 1, 2, adminPW)
	mg, _ := tb.Addr("1_1", "mgmt")
	addr := mg.Addr().String()
	cluster, cluster2, other := marker("cluster"), marker("cluster2"), marker("other")
	confPW := marker("config")
	used := []string{cluster, cluster2, other, confPW}

	// ps is sampled while commands run: a passphrase in any argv shows.
	psStop := make(chan struct{})
	psOut := make(chan string, 1)
	go func() {
		var all strings.Builder
		for {
			out, _ := exec.Command("ps", "-eo", "args").Output()
			all.Write(out)
			select {
			case <-psStop:
				psOut <- all.String()
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	mustSec(t, tb, "1_1", "", "show security status", "not initialized")
	failSec(t, tb, "1_1", js("clusterPassphrase", cluster), "security unseal", "not initialized: run security init")

	// SSH: a short passphrase, mismatched answers, then init (asked twice).
	if out, code := sshIn(t, addr, adminPW, "short\nshort\n", "security init"); code != 1 || !strings.Contains(out, "too short: expected at least 8 characters") {
		t.Fatalf("short passphrase over ssh: exit %d\n%s", code, out)
	}
	if out, code := sshIn(t, addr, adminPW, cluster+"\n"+cluster+"x\n", "security init"); code != 1 || !strings.Contains(out, "do not match") {
		t.Fatalf("mismatch over ssh: exit %d\n%s", code, out)
	}
	if out, code := sshIn(t, addr, adminPW, cluster+"\n"+cluster+"\n", "security init"); code != 0 || !strings.Contains(out, "initialized and unsealed") {
		t.Fatalf("init over ssh: exit %d\n%s", code, out)
	}
	failSec(t, tb, "1_1", js("clusterPassphrase", other), "security init", "already initialized")

	// Secrets as the other features will put them (the daemon stopped: it
	// holds the store in memory).
	n1, _ := tb.Node("1_1")
	storePath := paths.Layout{Root: n1.Root}.SecretStore()
	if err := tb.Stop("1_1"); err != nil {
		t.Fatal(err)
	}
	put := map[string]string{"aaa/provider/rad1": "radius-" + other, "aaa/totp/alice": "JBSWY3DPEHPK3PXP", "aaa/mail-server": "smtp-" + other}
	st, err := secrets.Open(storePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Unseal([]byte(cluster)); err != nil {
		t.Fatal(err)
	}
	for n, v := range put {
		if err := st.Put(n, strings.Split(n, "/")[1], []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Start("1_1"); err != nil {
		t.Fatal(err)
	}
	out := mustSec(t, tb, "1_1", "", "show security status", "sealed since")
	if !strings.Contains(out, "Secrets held:  3") {
		t.Fatalf("status after restart:\n%s", out)
	}

	// Unseal over SSH: wrong, right, again.
	if out, code := sshIn(t, addr, adminPW, other+"\n", "security unseal"); code != 1 || !strings.Contains(out, "wrong clusterPassphrase: nothing changed") {
		t.Fatalf("wrong passphrase over ssh: exit %d\n%s", code, out)
	}
	if out, code := sshIn(t, addr, adminPW, cluster+"\n", "security unseal"); code != 0 || !strings.Contains(out, "unsealed (3 secrets)") {
		t.Fatalf("unseal over ssh: exit %d\n%s", code, out)
	}
	failSec(t, tb, "1_1", js("clusterPassphrase", cluster), "security unseal", "already unsealed")
	out = mustSec(t, tb, "1_1", "", "show security status verbose", "aaa/totp/alice")
	if !strings.Contains(out, "argon2id, 3 passes, 65536 KiB, 2 lanes") || !strings.Contains(out, "provider") {
		t.Fatalf("verbose status:\n%s", out)
	}

	// changepwd on the console; the old passphrase no longer opens.
	failSec(t, tb, "1_1", js("clusterPassphrase", other, "newClusterPassphrase", cluster2), "security changepwd", "wrong clusterPassphrase")
	failSec(t, tb, "1_1", js("clusterPassphrase", cluster, "newClusterPassphrase", "2short"), "security changepwd", "too short")
	mustSec(t, tb, "1_1", js("clusterPassphrase", cluster, "newClusterPassphrase", cluster2), "security changepwd", "passphrase changed")
	mustSec(t, tb, "1_1", "", "security seal", "sealed")
	failSec(t, tb, "1_1", "", "security seal", "already sealed")
	failSec(t, tb, "1_1", js("clusterPassphrase", cluster), "security unseal", "wrong clusterPassphrase")
	mustSec(t, tb, "1_1", js("clusterPassphrase", cluster2), "security unseal", "unsealed")

	// Auto-unseal survives kill -9; off again, the next start is sealed.
	mustSec(t, tb, "1_1", "", "set security auto-unseal on", "auto-unseal on")
	if err := tb.Kill("1_1"); err != nil {
		t.Fatal(err)
	}
	if err := tb.Start("1_1"); err != nil {
		t.Fatal(err)
	}
	mustSec(t, tb, "1_1", "", "show security status", "unsealed since")
	mustSec(t, tb, "1_1", "", "set security auto-unseal off", "auto-unseal off")
	if err := tb.Stop("1_1"); err != nil {
		t.Fatal(err)
	}
	if err := tb.Start("1_1"); err != nil {
		t.Fatal(err)
	}
	mustSec(t, tb, "1_1", "", "show security status", "sealed since")

	// A management API token lives in the store; refreshtokens unseals
	// first (the reference's behaviour) and shows the new value once.
	mustSec(t, tb, "1_1", js("clusterPassphrase", cluster2), "security unseal", "unsealed (3 secrets)")
	mustSec(t, tb, "1_1", "", "add management token ci role monitorRole", "shown only now")
	mustSec(t, tb, "1_1", "", "security seal", "sealed")
	mustSec(t, tb, "1_1", js("clusterPassphrase", cluster2), "security refreshtokens", "management API tokens: 1 new tokens")
	fpBefore := mustSec(t, tb, "1_1", "", "show maestro authentication fingerprint", "Fingerprint:")
	out = mustSec(t, tb, "1_1", "", "security reset", "identity certificate: re-issued from the same key")
	fpAfter := mustSec(t, tb, "1_1", "", "show maestro authentication fingerprint", "Fingerprint:")
	if fpLine(fpBefore) != fpLine(fpAfter) || !strings.Contains(out, fpLine(fpAfter)) {
		t.Fatalf("reset changed the fingerprint:\n%s\n%s", fpBefore, fpAfter)
	}

	// Export on 1_1 (with a user to carry over), import on 1_2.
	mustSec(t, tb, "1_1", "", "add user alice role monitorRole", "added")
	mustSec(t, tb, "1_1", js("password", "Al1ce-pass!x"), "set user alice password", "changed")
	exp := filepath.Join(t.TempDir(), "1_1.export")
	mustSec(t, tb, "1_1", js("configPassphrase", confPW), "export configuration "+exp, "4 secrets")
	failSec(t, tb, "1_1", js("configPassphrase", confPW), "export configuration "+exp, "exists")
	if fi, err := os.Stat(exp); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v %v", fi, err)
	}
	good, _ := os.ReadFile(exp)

	mustSec(t, tb, "1_2", js("clusterPassphrase", other), "security init", "initialized")
	users2 := mustSec(t, tb, "1_2", "", "show users", "admin")
	failSec(t, tb, "1_2", js("configPassphrase", other), "import configuration "+exp+" dry-run", "wrong configPassphrase: nothing changed")
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0x01
	tampered := filepath.Join(t.TempDir(), "tampered")
	os.WriteFile(tampered, bad, 0o600)
	failSec(t, tb, "1_2", js("configPassphrase", confPW), "import configuration "+tampered, "damaged or was edited (checksum mismatch): nothing changed")
	crafted := filepath.Join(t.TempDir(), "crafted")
	os.WriteFile(crafted, craftPayload(t, good), 0o600)
	failSec(t, tb, "1_2", js("configPassphrase", confPW), "import configuration "+crafted, "altered after export (authentication failed): nothing changed")

	out = mustSec(t, tb, "1_2", js("configPassphrase", confPW), "import configuration "+exp+" dry-run", "dry run: nothing changed")
	for _, want := range []string{"+ add user alice role monitorRole", "+ secret aaa/provider/rad1 (owner provider)", "~ set user admin password-hash", "export of orchestrator 1_1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("dry-run lacks %q:\n%s", want, out)
		}
	}
	if now := mustSec(t, tb, "1_2", "", "show users", "admin"); now != users2 {
		t.Fatalf("dry-run changed the users:\n%s", now)
	}
	mustSec(t, tb, "1_2", "", "show security status", "Secrets held:  0")
	mustSec(t, tb, "1_2", js("configPassphrase", confPW), "import configuration "+exp, "imported and saved (2 users, 4 secrets)")
	mustSec(t, tb, "1_2", "", "show users", "alice")
	mustSec(t, tb, "1_2", "", "show config-state", "saved")
	n2, _ := tb.Node("1_2")
	st2, err := secrets.Open(paths.Layout{Root: n2.Root}.SecretStore())
	if err != nil {
		t.Fatal(err)
	}
	if err := st2.Unseal([]byte(other)); err != nil {
		t.Fatal(err)
	}
	for n, v := range put {
		if got, err := st2.Get(n); err != nil || string(got) != v {
			t.Fatalf("imported %s: %v", n, err)
		}
	}
	// Alice's password came along: she logs in on 1_2.
	mg2, _ := tb.Addr("1_2", "mgmt")
	if out, code := sshRun(t, mg2.Addr().String(), "alice", "Al1ce-pass!x", "show security status"); code != 0 || !strings.Contains(out, "Secrets held:  4") {
		t.Fatalf("alice on 1_2: exit %d\n%s", code, out)
	}
	// monitorRole may look, not change.
	if out, code := sshRun(t, mg2.Addr().String(), "alice", "Al1ce-pass!x", "security seal"); code != 1 || !strings.Contains(out, "needs feature security read-write") {
		t.Fatalf("alice seal: exit %d\n%s", code, out)
	}

	// kill -9 of the daemon in the middle of changepwd: the store opens with
	// the old or the new passphrase (secrets/kill_test.go does many more
	// runs against a child process; make bench 100 against the daemon).
	cur, next := cluster2, marker("kill")
	used = append(used, next)
	for i := 0; i < daemonKillRuns(); i++ {
		cmd, err := tb.Command("1_1", "clish", "--input-json", "-c", "security changepwd")
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = strings.NewReader(js("clusterPassphrase", cur, "newClusterPassphrase", next))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(1500)) * time.Millisecond)
		if err := tb.Kill("1_1"); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		if err := tb.Start("1_1"); err != nil {
			t.Fatal(err)
		}
		st, err := secrets.Open(storePath)
		if err != nil || st.Problem() != nil {
			t.Fatalf("kill run %d: %v %v", i, err, st.Problem())
		}
		if err := st.CheckPassphrase([]byte(cur)); err != nil {
			if err2 := st.CheckPassphrase([]byte(next)); err2 != nil {
				t.Fatalf("kill run %d: neither passphrase opens the store: %v / %v", i, err, err2)
			}
			cur, next = next, cur
			t.Logf("kill run %d: the new passphrase opens the store", i)
		} else {
			t.Logf("kill run %d: the old passphrase opens the store", i)
		}
	}
	mustSec(t, tb, "1_1", js("clusterPassphrase", cur), "security unseal", "unsealed (4 secrets)")

	close(psStop)
	leakCheck(t, tb, used, <-psOut)
}

// daemonKillRuns: 3 in make test (each run is a daemon restart and up to
// three key derivations); SECRETS_DAEMON_KILL_RUNS for more.
func daemonKillRuns() int {
	if n, err := strconv.Atoi(os.Getenv("SECRETS_DAEMON_KILL_RUNS")); err == nil && n > 0 {
		return n
	}
	return 3
}

func fpLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "Fingerprint:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "Fingerprint:"))
		}
	}
	return ""
}

// craftPayload changes one payload character and fixes the checksum: an
// edit by someone who knows the format but not the passphrase.
func craftPayload(t *testing.T, good []byte) []byte {
	lines := strings.Split(string(good), "\n")
	p := []byte(lines[3])
	i := len("payload ") + 40
	if p[i] == 'A' {
		p[i] = 'B'
	} else {
		p[i] = 'A'
	}
	lines[3] = string(p)
	body := []byte(strings.Join(lines[:4], "\n") + "\n")
	sum := sha256.Sum256(body)
	return append(body, []byte("sum "+hex.EncodeToString(sum[:])+"\n")...)
}

// leakCheck greps every file under each node's root (logs, state, history,
// config, stores), and the ps samples, for each passphrase.
func leakCheck(t *testing.T, tb *testbed.Testbed, markers []string, ps string) {
	t.Helper()
	files := 0
	for _, n := range tb.Nodes {
		filepath.WalkDir(n.Root, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			files++
			for _, m := range markers {
				if bytes.Contains(b, []byte(m)) {
					t.Errorf("passphrase %s found in %s", m[:6], p)
				}
			}
			return nil
		})
	}
	for _, m := range markers {
		if strings.Contains(ps, m) {
			t.Errorf("passphrase %s found in ps output", m[:6])
		}
	}
	if files < 10 || !strings.Contains(ps, "clishd") {
		t.Fatalf("leak check saw too little: %d files, ps %d bytes", files, len(ps))
	}
	t.Logf("leak check: %d passphrases, %d files under %d roots, %d bytes of ps output: 0 hits", len(markers), files, len(tb.Nodes), len(ps))
}
