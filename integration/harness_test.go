// Package integration holds the root-only end-to-end tests: real binaries,
// real network namespaces (package testbed), the real OpenSSH client.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/testbed"
)

var binDir string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() != 0 || os.Getenv(impostorEnv) != "" {
			// Tests skip themselves with a message (and the impostor
			// helper needs no binaries): no need to build.
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "orchd-it-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		out, err := exec.Command("go", "build", "-o", dir+"/", "github.com/orchd/orchd/cmd/...").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building binaries: %v\n%s", err, out)
			return 1
		}
		binDir = dir
		return m.Run()
	}()
	os.Exit(code)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and runs clishd in them (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (apt-get install iproute2; make test installs it as root)")
	}
}

// Each test gets its own name prefix and management network so it can run
// beside `make demo`'s testbed and beside other packages' tests (go test
// runs packages in parallel). Management networks in use, all inside
// 198.19.128.0/17 (198.18.0.0/16 and 198.19.0.0/17 are the sync networks):
//
//	128/20 make demo      144/20 BenchmarkTrustAll  144/22 mesh records  148/22 mesh storm
//	156/23 management API 158/23 secrets            160/22 package testbed 164/22 cmd/testbed
//	168/21 extauth        176/20 login/lockout      192/20 shell          208/20 foundation
//	224/20 mesh           240/20 make bench         248/22, 252/22 harden
//
// A new test takes a free block and adds it here.
type tbSpec struct {
	prefix string
	mgmt   string
}

func upTestbed(t *testing.T, spec tbSpec, sites, perSite int, extra ...string) *testbed.Testbed {
	t.Helper()
	return upTestbedPW(t, spec, sites, perSite, "", extra...)
}

func upTestbedPW(t *testing.T, spec tbSpec, sites, perSite int, adminPW string, extra ...string) *testbed.Testbed {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tb, err := testbed.Up(ctx, testbed.Options{
		Sites: sites, PerSite: perSite, Dir: dir, Prefix: spec.prefix,
		MgmtNet: netip.MustParsePrefix(spec.mgmt), BinDir: binDir,
		AdminPassword: adminPW, InitArgs: extra, Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("testbed up: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, tb)
		}
		if err := tb.Down(); err != nil {
			t.Errorf("testbed down: %v", err)
		}
	})
	return tb
}

func dumpLogs(t *testing.T, tb *testbed.Testbed) {
	for _, n := range tb.Nodes {
		b, _ := os.ReadFile(filepath.Join(n.Root, "var", "log", "clishd", "clishd.log"))
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		t.Logf("--- clishd log of %s (tail) ---\n%s", n.ID, b)
	}
}

// run executes argv inside node id and returns stdout, stderr and the exit code.
func run(t *testing.T, tb *testbed.Testbed, id string, stdin string, argv ...string) (string, string, int) {
	t.Helper()
	cmd, err := tb.Command(id, argv...)
	if err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v in %s: %v", argv, id, err)
	}
	return o.String(), e.String(), code
}

func orchStat(t *testing.T, tb *testbed.Testbed, id string) *state.File {
	t.Helper()
	out, errOut, code := run(t, tb, id, "", "orch_stat", "--json")
	if code != 0 {
		t.Fatalf("orch_stat --json on %s: exit %d: %s", id, code, errOut)
	}
	var f state.File
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("orch_stat --json on %s: %v\n%s", id, err, out)
	}
	return &f
}

// readState reads a node's state file directly: cheaper than a process
// when polling.
func readState(t *testing.T, tb *testbed.Testbed, id string) *state.File {
	t.Helper()
	n, err := tb.Node(id)
	if err != nil {
		t.Fatal(err)
	}
	f, err := state.Read(filepath.Join(n.Root, "run", "clishd", "state.json"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func port(f *state.File, role string) state.SyncPort {
	for _, p := range f.SyncPorts {
		if p.Role == role {
			return p
		}
	}
	return state.SyncPort{}
}
