package packaging

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/paths"
	"github.com/orchd/orchd/truststore"
)

const (
	pkgName = "orchd"
	unit    = "/lib/systemd/system/clishd.service"
	// Interfaces that cannot exist: the installed clishd stays silent.
	nxInternal = "pkgt-nx-int"
	nxExternal = "pkgt-nx-ext"
)

// Everything of orchd a purge must leave no trace of.
var purgedPaths = []string{
	"/etc/clishd", "/var/lib/clishd", "/var/log/clishd", "/var/log/hcp", "/run/clishd",
	"/usr/sbin/clishd", "/usr/bin/clish", "/usr/bin/orch_stat", "/usr/bin/hcp",
	unit, "/etc/systemd/system/multi-user.target.wants/clishd.service",
	"/var/lib/systemd/deb-systemd-helper-enabled/clishd.service.dsh-also",
	"/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/clishd.service",
	"/usr/share/man/man8/clishd.8.gz", "/usr/share/man/man1/clish.1.gz",
	"/usr/share/man/man8/orch_stat.8.gz", "/usr/share/man/man8/hcp.8.gz",
	"/usr/share/doc/orchd", "/usr/share/lintian/overrides/orchd",
}

// The whole life of the package on this machine: build two versions, lintian,
// install, systemd-analyze verify, clishd init, run under a test notify socket
// with a watchdog, upgrade, remove, purge.
func TestDebianPackage(t *testing.T) {
	needPackageTools(t)
	top, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	v1, v2 := "0.0.0+pkgtest1", "0.0.0+pkgtest2"
	deb1 := buildDeb(t, top, dist, v1)

	// The installed package is always purged, whatever happens below.
	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "--purge", pkgName).CombinedOutput(); err != nil {
			t.Errorf("cleanup: dpkg --purge %s: %v\n%s", pkgName, err, out)
		}
	})

	// lintian (~12 s) and the second build run beside the install cycle.
	var bg sync.WaitGroup
	var lintOut []byte
	var lintErr error
	var deb2 string
	bg.Add(2)
	go func() {
		defer bg.Done()
		lintOut, lintErr = exec.Command("lintian", "--fail-on", "error", "--pedantic", "--display-info", deb1).CombinedOutput()
	}()
	go func() { defer bg.Done(); deb2 = buildDebQuiet(top, dist, v2) }()
	defer bg.Wait()

	// Install: the group, the conffile, no identity, nothing enabled, and the
	// admin is told how to initialise.
	out := dpkg(t, "-i", deb1)
	if !strings.Contains(out, "clishd init --id S_M") || !strings.Contains(out, "neither enabled nor started") {
		t.Errorf("install does not say how to run clishd init:\n%s", out)
	}
	if _, err := exec.Command("getent", "group", "clishd").Output(); err != nil {
		t.Error("install did not create group clishd")
	}
	mustExist(t, "/etc/clishd/clishd.yaml", "/usr/sbin/clishd", "/usr/bin/clish", "/usr/bin/orch_stat", "/usr/bin/hcp", unit)
	mustNotExist(t, "/etc/clishd/identity_ed25519", "/etc/systemd/system/multi-user.target.wants/clishd.service", "/usr/bin/testbed", "/usr/sbin/testbed")
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Conffiles}", pkgName).Output(); err != nil || !strings.Contains(string(out), "/etc/clishd/clishd.yaml") {
		t.Errorf("/etc/clishd/clishd.yaml is not a conffile: %q %v", out, err)
	}

	// systemd-analyze verify needs the installed binary and man pages.
	vout, err := exec.Command("systemd-analyze", "verify", unit).CombinedOutput()
	if err != nil || strings.Contains(string(vout), "clishd.service") {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, vout)
	}

	// clishd init over the packaged config, loopback only.
	sshPort := freePort(t)
	init := exec.Command("/usr/sbin/clishd", "init", "--id", "1_1", "--orchestrators", "1_1,1_2",
		"--mgmt-address", "127.0.0.1", "--set", "ssh.port="+strconv.Itoa(sshPort),
		"--set", "sync.internal.interface="+nxInternal, "--set", "sync.external.interface="+nxExternal,
		"--set", "management.port=0", "--admin-password-stdin")
	init.Env = cleanEnv()
	init.Stdin = strings.NewReader("Pkg-test-pw-1\n")
	iout, err := init.CombinedOutput()
	if err != nil {
		t.Fatalf("clishd init: %v\n%s", err, iout)
	}
	l := paths.Layout{Root: "/"}
	fp := identityFingerprint(t, l)
	if !strings.Contains(string(iout), fp) {
		t.Errorf("init printed %q, not the identity's fingerprint %s", iout, fp)
	}
	pins := addTrust(t, l)
	cfg1 := readFile(t, l.ConfigFile())
	users1 := readFile(t, l.SavedConfig())

	// Run 1: readiness, watchdog pings with the mesh summary, and silence
	// once the debug hook wedges the main loop.
	msgs := runUnderNotify(t, "2s", 4*time.Second)
	var ready, pings, stuck, afterStuck int
	for _, m := range msgs {
		switch {
		case strings.Contains(m, "READY=1"):
			ready++
		case strings.Contains(m, "WATCHDOG=1"):
			pings++
			if stuck > 0 {
				afterStuck++
			}
			if !strings.Contains(m, "STATUS=0/1 peers Authenticated") {
				t.Errorf("watchdog ping without the mesh summary: %q", m)
			}
		case strings.Contains(m, "STATUS=main loop not responding"):
			// A loaded machine may be slow for one period before the
			// wedge; only the pings after the last such message count.
			stuck++
			afterStuck = 0
		}
	}
	if ready != 1 || pings < 4 || stuck < 1 || afterStuck != 0 {
		t.Errorf("notify messages: READY=1 ×%d (want 1), WATCHDOG=1 ×%d (want ≥4 before the wedge), stuck ×%d (want ≥1), pings after the last %d (want 0):\n%q",
			ready, pings, stuck, afterStuck, msgs)
	}

	// Upgrade: identity, trust, configuration and users untouched; the new
	// binaries in place; no init advice for an initialised orchestrator.
	bg.Wait()
	if lintErr != nil {
		t.Errorf("lintian: %v\n%s", lintErr, lintOut)
	}
	if bytes.Contains(lintOut, []byte("\nE: ")) || bytes.HasPrefix(lintOut, []byte("E: ")) {
		t.Errorf("lintian errors:\n%s", lintOut)
	}
	t.Logf("lintian:\n%s", lintOut)
	if deb2 == "" {
		t.Fatal("the second package did not build")
	}
	out = dpkg(t, "-i", deb2)
	if strings.Contains(out, "not initialised") {
		t.Errorf("upgrade of an initialised orchestrator printed the init advice:\n%s", out)
	}
	if got := identityFingerprint(t, l); got != fp {
		t.Errorf("upgrade changed the identity: %s, was %s", got, fp)
	}
	if got := trustState(t, l); got != pins {
		t.Errorf("upgrade changed the trust state:\n%s\nwas\n%s", got, pins)
	}
	if !bytes.Equal(readFile(t, l.ConfigFile()), cfg1) || !bytes.Equal(readFile(t, l.SavedConfig()), users1) {
		t.Error("upgrade changed the configuration or the users")
	}
	if v, _ := exec.Command("/usr/sbin/clishd", "version").Output(); strings.TrimSpace(string(v)) != "clishd "+v2 {
		t.Errorf("after the upgrade clishd version says %q, want %s", v, v2)
	}

	// Run 2, the upgraded daemon: the same orchestrator, its pin, the tools.
	runUpgraded(t, fp)

	// Remove keeps everything of the orchestrator; purge deletes all.
	dpkg(t, "-r", pkgName)
	mustNotExist(t, "/usr/sbin/clishd", "/usr/bin/clish", unit)
	mustExist(t, l.IdentityKey(), l.ConfigFile(), l.TrustStore(), l.BlockedFingerprints(), l.SavedConfig())
	if got := identityFingerprint(t, l); got != fp {
		t.Errorf("remove changed the identity")
	}
	dpkg(t, "--purge", pkgName)
	mustNotExist(t, purgedPaths...)
	if _, err := exec.Command("getent", "group", "clishd").Output(); err == nil {
		t.Error("purge left group clishd")
	}
	if out, err := exec.Command("dpkg-query", "-W", pkgName).CombinedOutput(); err == nil {
		t.Errorf("dpkg still knows %s after purge: %s", pkgName, out)
	}
	if left, _ := filepath.Glob("/var/lib/dpkg/info/" + pkgName + ".*"); len(left) > 0 {
		t.Errorf("purge left %v", left)
	}
}

// cleanEnv is the test's environment without anything that would point the
// installed binaries elsewhere (CLISHD_ROOT, CLISHD_* keys) or at systemd.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CLISHD_") || strings.HasPrefix(k, "WATCHDOG_") || k == "NOTIFY_SOCKET" || k == "ORCHD_DEBUG_WEDGE_MAIN_LOOP" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func needPackageTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: installs, runs and purges the orchd package on this machine")
	}
	for _, tool := range []string{"dpkg-deb", "dpkg-shlibdeps", "lintian", "systemd-analyze", "cc", "strip", "addgroup", "deb-systemd-helper"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (make deps installs dpkg-dev, gcc, lintian, systemd, adduser as root)", tool)
		}
	}
	// Never touch an orchd the machine really has.
	if out, _ := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Status}", pkgName).Output(); len(out) > 0 && string(out) != "not-installed" {
		t.Skipf("package %s is %s on this machine: not testing over it", pkgName, out)
	}
	for _, p := range []string{"/etc/clishd", "/var/lib/clishd", "/run/clishd"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists (a clishd installed by hand?): not testing over it", p)
		}
	}
}

func buildDeb(t *testing.T, top, dist, version string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(top, "scripts", "deb.sh"))
	cmd.Dir = top
	cmd.Env = append(cleanEnv(), "VERSION="+version, "DIST="+dist, "DEB_COMPRESS=gzip")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/deb.sh: %v\n%s", err, out)
	}
	return debPath(t, dist, version)
}

func buildDebQuiet(top, dist, version string) string {
	cmd := exec.Command(filepath.Join(top, "scripts", "deb.sh"))
	cmd.Dir = top
	cmd.Env = append(cleanEnv(), "VERSION="+version, "DIST="+dist, "DEB_COMPRESS=gzip")
	if err := cmd.Run(); err != nil {
		return ""
	}
	m, _ := filepath.Glob(filepath.Join(dist, "orchd_"+version+"_*.deb"))
	if len(m) != 1 {
		return ""
	}
	return m[0]
}

func debPath(t *testing.T, dist, version string) string {
	t.Helper()
	arch, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dist, "orchd_"+version+"_"+strings.TrimSpace(string(arch))+".deb")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("make deb did not produce %s: %v", p, err)
	}
	return p
}

func dpkg(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("dpkg", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func mustExist(t *testing.T, ps ...string) {
	t.Helper()
	for _, p := range ps {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s missing: %v", p, err)
		}
	}
}

func mustNotExist(t *testing.T, ps ...string) {
	t.Helper()
	for _, p := range ps {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func identityFingerprint(t *testing.T, l paths.Layout) string {
	t.Helper()
	id, err := identity.Load(identity.Files{Key: l.IdentityKey(), Pub: l.IdentityPub(), Cert: l.Certificate()})
	if err != nil {
		t.Fatalf("loading the installed identity: %v", err)
	}
	return id.Fingerprint()
}

// addTrust pins peer 1_2 and blocks another key, as trust commands would,
// and returns the trust state to compare after the upgrade.
func addTrust(t *testing.T, l paths.Layout) string {
	t.Helper()
	st, err := truststore.Open(l.TrustStore(), l.BlockedFingerprints())
	if err != nil {
		t.Fatal(err)
	}
	peer, _, _ := ed25519.GenerateKey(rand.Reader)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	id, err := identity.ParseID("1_2")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPin(id, peer, "package test"); err != nil {
		t.Fatal(err)
	}
	if err := st.Block(identity.Fingerprint(other)); err != nil {
		t.Fatal(err)
	}
	return trustState(t, l)
}

func trustState(t *testing.T, l paths.Layout) string {
	t.Helper()
	st, err := truststore.Open(l.TrustStore(), l.BlockedFingerprints())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range st.Pins() {
		b.WriteString("pin " + p.ID.String() + " " + p.Fingerprint + "\n")
	}
	for _, fp := range st.BlockedList() {
		b.WriteString("blocked " + fp + "\n")
	}
	if !strings.Contains(b.String(), "pin 1_2 ") {
		t.Fatalf("no pin for 1_2 in the trust store:\n%s", b.String())
	}
	return b.String()
}

// startClishd starts the installed clishd (`clishd run`) with a test
// NOTIFY_SOCKET, whose listening end it returns, and env added.
func startClishd(t *testing.T, env ...string) (*net.UnixConn, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "notify.sock")
	nl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nl.Close() })
	logs := &bytes.Buffer{}
	cmd := exec.Command("/usr/sbin/clishd", "run")
	cmd.Env = append(append(cleanEnv(), "NOTIFY_SOCKET="+sock), env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return nl, cmd, logs
}

// stopClishd stops clishd with SIGTERM, as systemd does, and expects a
// clean exit within TimeoutStopSec.
func stopClishd(t *testing.T, cmd *exec.Cmd, logs *bytes.Buffer) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("clishd exited with %v after SIGTERM\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("clishd did not stop within 10 s of SIGTERM\n%s", logs.String())
	}
}

// runUnderNotify runs the installed clishd with a test NOTIFY_SOCKET, a
// 400 ms watchdog and the debug wedge after wedgeAfter, for d, then stops it
// with SIGTERM and returns the notify messages.
func runUnderNotify(t *testing.T, wedgeAfter string, d time.Duration) []string {
	t.Helper()
	nl, cmd, logs := startClishd(t, "WATCHDOG_USEC=400000", "ORCHD_DEBUG_WEDGE_MAIN_LOOP="+wedgeAfter)
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopClishd(t, cmd, logs)
		}
	}
	defer stop()
	var msgs []string
	buf := make([]byte, 1024)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		nl.SetReadDeadline(end)
		n, err := nl.Read(buf)
		if err != nil {
			continue
		}
		msgs = append(msgs, string(buf[:n]))
	}
	stop()
	if t.Failed() {
		t.Logf("clishd log:\n%s", logs.String())
	}
	return msgs
}

// runUpgraded runs the upgraded clishd until it is ready and checks, with
// the installed tools, that it is the same orchestrator with the same pin.
func runUpgraded(t *testing.T, fp string) {
	t.Helper()
	nl, cmd, logs := startClishd(t)
	defer stopClishd(t, cmd, logs)
	nl.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 1024)
	n, err := nl.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "READY=1") {
		t.Fatalf("upgraded clishd not ready: %q %v\n%s", buf[:n], err, logs.String())
	}

	tool := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(name, args...)
		c.Env = cleanEnv()
		return c
	}
	out, err := tool("/usr/bin/orch_stat", "--json").Output()
	if err != nil {
		t.Fatalf("orch_stat --json: %v\n%s", err, out)
	}
	var st struct {
		Orchestrator struct{ ID, Fingerprint string }
		Peers        []struct{ ID, Fingerprint string }
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	if st.Orchestrator.ID != "1_1" || st.Orchestrator.Fingerprint != fp || len(st.Peers) != 1 || st.Peers[0].Fingerprint == "" {
		t.Errorf("after the upgrade orch_stat shows %+v, want 1_1 with %s and the pinned 1_2", st, fp)
	}
	cout, err := tool("/usr/bin/clish", "-c", "show maestro authentication fingerprint").CombinedOutput()
	if err != nil || !strings.Contains(string(cout), fp) {
		t.Errorf("clish after the upgrade: %v\n%s", err, cout)
	}
	// hcp writes its reports under /var/log/hcp: purge must remove them too.
	tool("/usr/bin/hcp", "-r", "all").Run()
	mustExist(t, "/var/log/hcp/last")
}
