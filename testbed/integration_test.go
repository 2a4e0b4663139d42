package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchd/orchd/paths"
)

// The integration tests build real namespaces named tbt-* with the
// management network 198.19.160.0/22 and a fake clishd.
const itPrefix = "tbt-"

var itMgmt = netip.MustParsePrefix("198.19.160.0/22")

var fake struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fake.dir != "" {
		os.RemoveAll(fake.dir)
	}
	os.Exit(code)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
}

// fakeBinDir builds the fake clishd once and returns its directory.
func fakeBinDir(t *testing.T) string {
	t.Helper()
	fake.once.Do(func() {
		if fake.dir, fake.err = os.MkdirTemp("", "testbed-fake-"); fake.err != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(fake.dir, "clishd"),
			"github.com/orchd/orchd/testbed/internal/fakeclishd").CombinedOutput()
		if err != nil {
			fake.err = fmt.Errorf("building fake clishd: %v: %s", err, out)
		}
	})
	if fake.err != nil {
		t.Fatal(fake.err)
	}
	return fake.dir
}

// itOptions returns the options of an integration test. Its directory is
// stable, so that a run that crashed is cleaned up by the next one, and it
// is kept (with the node logs) when the test fails.
func itOptions(t *testing.T) Options {
	dir := filepath.Join(os.TempDir(), "orchd-testbed-"+t.Name())
	if tb, err := Open(dir); err == nil {
		t.Logf("taking down what an earlier run left in %s", dir)
		tb.SetLogf(t.Logf)
		if err := tb.Down(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	checkClean(t)
	if t.Failed() {
		t.FailNow()
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node roots and logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return Options{Dir: dir, Prefix: itPrefix, MgmtNet: itMgmt, BinDir: fakeBinDir(t), Logf: t.Logf}
}

// checkClean fails the test if any tbt- namespace or root link is left.
func checkClean(t *testing.T) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, itPrefix) {
			t.Errorf("namespace left: %s", l)
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, itPrefix) {
			t.Errorf("root-namespace link left: %s", i.Name)
		}
	}
}

// upForTest brings a testbed up and tears it down at cleanup, dumping the
// node logs if the test failed.
func upForTest(t *testing.T, o Options) *Testbed {
	t.Helper()
	tb, err := Up(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range tb.Nodes {
				data, _ := os.ReadFile(n.LogFile())
				t.Logf("log of %s:\n%s", n.ID, data)
			}
		}
		if err := tb.Down(); err != nil {
			t.Errorf("down: %v", err)
		}
		checkClean(t)
	})
	return tb
}

// probe sends ICMP echo requests to addr from namespace ns ("" = root)
// with the fake clishd, up to 3 times (1 s each) on a loaded machine.
func probe(ns, addr string) error {
	var err error
	for range 3 {
		if err = probe1(ns, addr); err == nil {
			return nil
		}
	}
	return err
}

// probe1 sends one echo request and waits 1 s for the reply: for checks
// that expect no reply.
func probe1(ns, addr string) error {
	args := []string{filepath.Join(fake.dir, "clishd"), "probe", addr}
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// proc is a process identified by PID and start time, so that a reused
// PID (pid_max is small here) is not mistaken for it.
type proc struct {
	pid   int
	start uint64
}

func procOf(t *testing.T, pid int) proc {
	t.Helper()
	_, start, err := procStat(pid)
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	return proc{pid, start}
}

func (p proc) alive() bool { return alive(p.pid, p.start) }

func ipOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestIntegration(t *testing.T) {
	needRoot(t)
	o := itOptions(t)
	o.AdminPassword = "pw one"
	o.InitArgs = []string{"--set", "ssh.port=2222"}
	tb := upForTest(t, o)

	// Namespaces, and what init was given.
	list := ipOut(t, "netns", "list")
	for _, ns := range []string{"tbt-sw", "tbt-1_1", "tbt-1_2", "tbt-2_1", "tbt-2_2"} {
		if !regexp.MustCompile(`(?m)^` + ns + `\b`).MatchString(list) {
			t.Errorf("namespace %s missing from:\n%s", ns, list)
		}
	}
	n11, _ := tb.Node("1_1")
	if pw, _ := os.ReadFile(filepath.Join(n11.Root, "etc/clishd/admin-password")); string(pw) != "pw one\n" {
		t.Errorf("admin password given to init: %q", pw)
	}
	if cfg, _ := os.ReadFile(paths.Layout{Root: n11.Root}.ConfigFile()); !strings.Contains(string(cfg), "2222") {
		t.Errorf("init args not applied:\n%s", cfg)
	}
	if a, _ := tb.Addr("2_1", "mgmt"); a.String() != "198.19.162.1/22" {
		t.Errorf("mgmt address of 2_1: %s", a)
	}

	// Sync interfaces: created down, unaddressed, veth ends with different
	// ifindexes (created in the root namespace, then moved).
	si := ipOut(t, "-n", "tbt-1_1", "-o", "addr", "show", "dev", "sync-int")
	if strings.Contains(si, "inet ") {
		t.Errorf("testbed assigned a sync address: %s", si)
	}
	link := ipOut(t, "-n", "tbt-1_1", "-o", "link", "show", "sync-int")
	if m := regexp.MustCompile(`^(\d+): sync-int@if(\d+):`).FindStringSubmatch(link); m == nil || m[1] == m[2] {
		t.Errorf("sync-int ifindexes not distinct: %s", link)
	}
	if strings.Contains(link, ",UP") {
		t.Errorf("sync-int brought up by the testbed: %s", link)
	}

	// The host reaches every node over the management bridge.
	for _, n := range tb.Nodes {
		if err := probe("", n.Mgmt.Addr().String()); err != nil {
			t.Errorf("host to %s: %v", n.ID, err)
		}
	}

	// As the daemon would, address the sync interfaces; the internal bridge
	// joins a site only, the external one all sites.
	for _, id := range []string{"1_1", "1_2", "2_1"} {
		n, _ := tb.Node(id)
		for _, c := range [][]string{
			{"addr", "add", n.Internal.String(), "dev", IfInternal},
			{"addr", "add", n.External.String(), "dev", IfExternal},
			{"link", "set", IfInternal, "up"},
			{"link", "set", IfExternal, "up"},
		} {
			ipOut(t, append([]string{"-n", n.Namespace}, c...)...)
		}
	}
	addr := func(id, which string) string { a, _ := tb.Addr(id, which); return a.Addr().String() }
	if err := probe("tbt-1_1", addr("1_2", "internal")); err != nil {
		t.Errorf("1_1 to 1_2 over internal: %v", err)
	}
	if err := probe1("tbt-1_1", addr("2_1", "internal")); err == nil {
		t.Error("1_1 reached 2_1 over the internal bridge")
	}
	if err := probe("tbt-1_1", addr("2_1", "external")); err != nil {
		t.Errorf("1_1 to 2_1 over external: %v", err)
	}

	// Pulling the cable.
	if err := tb.Link("1_1", "internal", false); err != nil {
		t.Fatal(err)
	}
	if l := ipOut(t, "-n", "tbt-1_1", "link", "show", "sync-int"); !strings.Contains(l, "NO-CARRIER") {
		t.Errorf("no NO-CARRIER after link down: %s", l)
	}
	if err := probe1("tbt-1_1", addr("1_2", "internal")); err == nil {
		t.Error("1_1 reached 1_2 with its internal link down")
	}
	if err := tb.Link("1_1", "internal", true); err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(context.Background(), 5*time.Second, func() (bool, error) {
		return !strings.Contains(ipOut(t, "-n", "tbt-1_1", "link", "show", "sync-int"), "NO-CARRIER"), nil
	}); err != nil {
		t.Errorf("carrier after link up: %v", err)
	}
	if err := tb.Link("1_1", "mgmt", false); err == nil || !strings.Contains(err.Error(), `"mgmt": expected internal or external`) {
		t.Errorf("Link mgmt: %v", err)
	}

	// Command runs inside the node with bin/ on PATH and CLISHD_ROOT set.
	cmd, err := tb.Command("1_2", "sh", "-c", "echo $CLISHD_ROOT; command -v clishd; ip -o -4 addr show dev mgmt0; exit 7")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	n12, _ := tb.Node("1_2")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Errorf("exit status: %v", err)
	}
	if s := string(out); !strings.HasPrefix(s, n12.Root+"\n"+filepath.Join(fake.dir, "clishd")+"\n") || !strings.Contains(s, n12.Mgmt.String()) {
		t.Errorf("command output:\n%s", s)
	}

	// Kill, start, stop.
	old := procOf(t, n11.PID)
	if err := tb.Kill("1_1"); err != nil {
		t.Fatal(err)
	}
	if old.alive() || n11.Running() || n11.PID != 0 {
		t.Errorf("1_1 still running after Kill (pid %d)", old.pid)
	}
	if err := tb.Kill("1_1"); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("second Kill: %v", err)
	}
	if err := tb.Start("1_1"); err != nil {
		t.Fatal(err)
	}
	if !n11.Running() || n11.PID == old.pid {
		t.Errorf("1_1 after Start: pid %d, running %v", n11.PID, n11.Running())
	}
	if err := tb.Start("1_1"); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Start: %v", err)
	}
	reopened, err := Open(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := reopened.Node("1_1"); r.PID != n11.PID || !r.Running() {
		t.Errorf("journal after Start: pid %d, want %d", r.PID, n11.PID)
	}
	p11 := procOf(t, n11.PID)
	if err := tb.Stop("1_1"); err != nil {
		t.Fatal(err)
	}
	if p11.alive() {
		t.Error("1_1 alive after Stop")
	}
	if log, _ := os.ReadFile(n11.LogFile()); !strings.Contains(string(log), "SIGTERM, exiting") {
		t.Errorf("daemon log lacks the SIGTERM exit:\n%s", log)
	}
	if err := tb.Start("1_1"); err != nil {
		t.Fatal(err)
	}

	// Down from a reopened journal stops every daemon.
	var procs []proc
	for _, n := range tb.Nodes {
		procs = append(procs, procOf(t, n.PID))
	}
	reopened, err = Open(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	reopened.SetLogf(t.Logf)
	if err := reopened.Down(); err != nil {
		t.Fatal(err)
	}
	checkClean(t)
	for _, p := range procs {
		if p.alive() {
			t.Errorf("process %d alive after Down", p.pid)
		}
	}
	if _, err := os.Stat(n11.LogFile()); err != nil {
		t.Errorf("Down removed the node logs: %v", err)
	}
	if err := reopened.Down(); err != nil {
		t.Errorf("second Down: %v", err)
	}
	if _, err := os.Stat(JournalFile(o.Dir)); !os.IsNotExist(err) {
		t.Errorf("journal after Down: %v", err)
	}
}

// A daemon that dies at start makes Up fail, and Up cleans up after itself.
func TestIntegrationUpFailure(t *testing.T) {
	needRoot(t)
	t.Setenv("FAKE_CLISHD_FAIL_RUN", "1_2")
	o := itOptions(t)
	_, err := Up(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "node 1_2: clishd") || !strings.Contains(err.Error(), "run fails on purpose") {
		t.Errorf("got %v, want the death of 1_2 with its log", err)
	}
	checkClean(t)
	if _, err := os.Stat(JournalFile(o.Dir)); !os.IsNotExist(err) {
		t.Errorf("journal after failed Up: %v", err)
	}
}

const helperEnv = "TESTBED_TEST_HELPER_DIR"

// TestHelperUp is not a test: TestIntegrationCrash runs it in a child
// process to be killed with SIGKILL in the middle of Up.
func TestHelperUp(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestIntegrationCrash")
	}
	o := Options{Dir: dir, Prefix: itPrefix, MgmtNet: itMgmt, BinDir: os.Getenv("TESTBED_TEST_HELPER_BIN")}
	_, err := Up(context.Background(), o)
	t.Fatalf("Up returned (%v); it should hang in the init of 2_1", err)
}

// kill -9 of the testbed in the middle of Up: Open + Down remove it all.
func TestIntegrationCrash(t *testing.T) {
	needRoot(t)
	dir := itOptions(t).Dir
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperUp$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir, "TESTBED_TEST_HELPER_BIN="+fakeBinDir(t), "FAKE_CLISHD_HANG_INIT=2_1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hanging := filepath.Join(NodesDir(dir), "2_1", "init-hanging")
	err := WaitFor(context.Background(), 20*time.Second, func() (bool, error) {
		_, err := os.Stat(hanging)
		return err == nil, nil
	})
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil {
		t.Fatalf("helper never reached the init of 2_1: %v\n%s", err, out.String())
	}

	tb, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tb.SetLogf(t.Logf)
	var procs []proc
	for _, id := range []string{"1_1", "1_2"} {
		n, _ := tb.Node(id)
		if !n.Running() {
			t.Fatalf("node %s not running after the crash (pid %d)", id, n.PID)
		}
		procs = append(procs, procOf(t, n.PID))
	}
	if !tb.k.nsExists("tbt-2_1") || tb.k.nsExists("tbt-2_2") {
		t.Error("crash did not leave tbt-2_1 (and only it) half built")
	}
	if err := tb.Down(); err != nil {
		t.Fatal(err)
	}
	checkClean(t)
	for _, p := range procs {
		if p.alive() {
			t.Errorf("process %d alive after Down", p.pid)
		}
	}
}
