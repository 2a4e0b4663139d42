package testbed

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestJournalRoundTrip(t *testing.T) {
	tb, _ := fakeTestbed(t, Options{Sites: 2, PerSite: 2, AdminPassword: "s3cret", InitArgs: []string{"--set", "auth.cert_validity=10m"}})
	tb.namespaces = []string{"orch-sw", "orch-1_1"}
	tb.links = []string{"orch-mgmt", "orch-i1_1", "orch-i1_1n"}
	tb.Nodes[0].PID, tb.Nodes[0].startTime = 1234, 98765
	if err := tb.save(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(JournalFile(tb.Opts.Dir))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "s3cret") {
		t.Error("journal holds the admin password")
	}
	got, err := Open(tb.Opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	want := tb.Opts
	want.AdminPassword, want.Logf, got.Opts.Logf = "", nil, nil
	if !reflect.DeepEqual(got.Opts, want) {
		t.Errorf("options:\n got %+v\nwant %+v", got.Opts, want)
	}
	if !reflect.DeepEqual(got.namespaces, tb.namespaces) || !reflect.DeepEqual(got.links, tb.links) {
		t.Errorf("objects: got %v %v, want %v %v", got.namespaces, got.links, tb.namespaces, tb.links)
	}
	if !reflect.DeepEqual(got.Nodes, tb.Nodes) {
		for i := range got.Nodes {
			t.Errorf("node %d: got %+v, want %+v", i, *got.Nodes[i], *tb.Nodes[i])
		}
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(t.TempDir())
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "testbed is not up") {
		t.Errorf("got %v, want not up / ErrNotExist", err)
	}
}

func TestUpRefusesWhenJournalExists(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(JournalFile(dir), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Up(context.Background(), Options{Dir: dir, BinDir: "/bin"})
	want := "testbed already up (journal " + dir + "/testbed.json): run testbed down first"
	if err == nil || err.Error() != want || !errors.Is(err, ErrAlreadyUp) {
		t.Errorf("got %v, want %q", err, want)
	}
	if _, err := os.Stat(JournalFile(dir)); err != nil {
		t.Errorf("journal touched: %v", err)
	}
}

func TestParseStat(t *testing.T) {
	line := "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 777123 1000 10 18446744073709551615\n"
	state, start, err := parseStat([]byte(line))
	if err != nil || state != 'S' || start != 777123 {
		t.Errorf("got %c %d %v, want S 777123", state, start, err)
	}
	if _, _, err := parseStat([]byte("12 (x) S 1")); err == nil {
		t.Error("short stat accepted")
	}
	// Our own process is alive and ours by its arguments.
	_, st, err := procStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !alive(os.Getpid(), st) || alive(os.Getpid(), st+1) || alive(0, 0) {
		t.Error("alive misjudges")
	}
	if !isOurs(os.Getpid(), st, os.Args[0]) || isOurs(os.Getpid(), st, "/no/such/root") {
		t.Error("isOurs misjudges")
	}
}

func TestWaitFor(t *testing.T) {
	ctx := context.Background()
	n := 0
	if err := WaitFor(ctx, time.Second, func() (bool, error) { n++; return n == 3, nil }); err != nil || n != 3 {
		t.Errorf("got %v after %d calls", err, n)
	}
	if err := WaitFor(ctx, 50*time.Millisecond, func() (bool, error) { return false, nil }); err == nil {
		t.Error("timeout not reported")
	}
	boom := errors.New("boom")
	if err := WaitFor(ctx, time.Second, func() (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Errorf("got %v, want boom", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := WaitFor(cctx, time.Second, func() (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want canceled", err)
	}
}

func TestDaemonEnv(t *testing.T) {
	t.Setenv("CLISHD_SSH_PORT", "1")
	t.Setenv("PATH", "/usr/bin")
	var paths []string
	for _, kv := range daemonEnv("/b", 0) {
		if strings.HasPrefix(kv, "CLISHD_") {
			t.Errorf("daemon environment holds %s", kv)
		}
		if strings.HasPrefix(kv, "PATH=") {
			paths = append(paths, kv)
		}
	}
	if len(paths) != 1 || paths[0] != "PATH=/b:/usr/bin" {
		t.Errorf("daemon PATH: %q, want [PATH=/b:/usr/bin]", paths)
	}
}

func TestDaemonEnvProcs(t *testing.T) {
	t.Setenv("PATH", "/usr/bin")
	procs := func(env []string) []string {
		var out []string
		for _, kv := range env {
			if strings.HasPrefix(kv, "GOMAXPROCS=") {
				out = append(out, kv)
			}
		}
		return out
	}
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS") // t.Setenv restores it at the end
	if got := procs(daemonEnv("/b", 1)); len(got) != 1 || got[0] != "GOMAXPROCS=1" {
		t.Errorf("packed host: %q, want [GOMAXPROCS=1]", got)
	}
	if got := procs(daemonEnv("/b", 0)); len(got) != 0 {
		t.Errorf("a core per node: %q, want clishd's own choice", got)
	}
	t.Setenv("GOMAXPROCS", "3")
	if got := procs(daemonEnv("/b", 1)); len(got) != 1 || got[0] != "GOMAXPROCS=3" {
		t.Errorf("caller's GOMAXPROCS: %q, want [GOMAXPROCS=3] only", got)
	}
}

func TestProcsPerNode(t *testing.T) {
	for _, c := range []struct{ cores, nodes, want int }{
		{2, 64, 1}, {2, 16, 1}, {2, 4, 1}, {2, 3, 1}, {2, 2, 0}, {2, 1, 0},
		{8, 4, 0}, {16, 4, 0}, {64, 16, 0}, {16, 32, 1}, {0, 4, 0},
	} {
		if got := procsPerNode(c.cores, c.nodes); got != c.want {
			t.Errorf("procsPerNode(%d cores, %d nodes) = %d, want %d", c.cores, c.nodes, got, c.want)
		}
	}
}
