package hcp

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/healthcheck"
	"github.com/orchd/orchd/paths"
	"github.com/orchd/orchd/state"
)

type cli struct {
	t    *testing.T
	root string
}

func newCLI(t *testing.T) *cli { return &cli{t: t, root: t.TempDir()} }

func (c *cli) run(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := Main(append([]string{"--root", c.root}, args...), &o, &e)
	return code, o.String(), e.String()
}

// writeState writes a fresh state of 1_1 with peer 1_2 in status.
func (c *cli) writeState(status string) {
	c.t.Helper()
	now := time.Now()
	f := &state.File{
		Orchestrator: state.Orchestrator{ID: "1_1", CertNotAfter: now.Add(300 * 24 * time.Hour)},
		SyncPorts:    []state.SyncPort{{Role: "internal", Interface: "sync-int", State: state.PortUp, Addresses: []string{"198.18.1.1/16"}}},
		Peers:        []state.Peer{{ID: "1_2", Status: status, Reason: "test", Port: "internal"}},
		Daemon:       state.Daemon{PID: os.Getpid(), UpdatedAt: now, RefreshSeconds: 60, ConfigState: "saved"},
	}
	if err := state.Write(paths.Layout{Root: c.root}.StateFile(), f); err != nil {
		c.t.Fatal(err)
	}
}

func TestUsage(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{nil, {"-l", "--show-last"}, {"--bogus"}, {"-r", "all", "extra"}} {
		if code, _, e := c.run(args...); code != ExitUsage || !strings.Contains(e, "usage: hcp") {
			t.Errorf("%q: exit %d, stderr %q", args, code, e)
		}
	}
	if code, out, _ := c.run("-h"); code != ExitOK || !strings.Contains(out, "--show-last") {
		t.Errorf("-h: exit %d", code)
	}
}

func TestList(t *testing.T) {
	c := newCLI(t)
	code, out, _ := c.run("-l")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, tc := range healthcheck.Tests() {
		if !strings.Contains(out, tc.Name+"\n    "+tc.Description) {
			t.Errorf("-l lacks %q:\n%s", tc.Name, out)
		}
	}
	code, out, _ = c.run("-l", "--json")
	var list []map[string]string
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != ExitOK || len(list) != len(healthcheck.Tests()) {
		t.Errorf("-l --json: exit %d, %v, %s", code, err, out)
	}
}

func TestUnknownTest(t *testing.T) {
	c := newCLI(t)
	code, out, e := c.run("-r", "Maestro Authentication")
	if code != ExitUsage || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, w := range []string{`unknown test "Maestro Authentication"`, `"Maestro Orchestrator Authentication"`, `"Sync Interfaces"`, "  all\n"} {
		if !strings.Contains(e, w) {
			t.Errorf("stderr lacks %q:\n%s", w, e)
		}
	}
	if _, err := os.Stat(filepath.Join(c.root, "var", "log", "hcp")); err == nil {
		t.Error("a usage error saved a report")
	}
}

func TestRunExitCodesAndReports(t *testing.T) {
	c := newCLI(t)
	// No state: Daemon FAILED, the others ERROR.
	code, out, _ := c.run("-r", "all")
	if code != ExitFailed || !strings.Contains(out, "Daemon") || !strings.Contains(out, "ERROR") {
		t.Fatalf("no state: exit %d\n%s", code, out)
	}
	if code, _, _ := c.run("--show-last"); code != ExitFailed {
		t.Errorf("--show-last of a failed run: exit %d", code)
	}

	c.writeState(state.Authenticated)
	code, out, e := c.run("-r", "all")
	if code != ExitOK || strings.Contains(out, "FAILED") || e != "" {
		t.Fatalf("healthy: exit %d\n%s%s", code, out, e)
	}
	if !strings.Contains(out, "Summary: 6 passed, 0 warning, 0 failed, 0 error") || !strings.Contains(out, "hcp --show-last") {
		t.Errorf("summary:\n%s", out)
	}
	hcpDir := filepath.Join(c.root, "var", "log", "hcp")
	for _, f := range []string{"last/report.txt", "last/report.json", "previous/report.txt", "previous/report.json"} {
		if _, err := os.Stat(filepath.Join(hcpDir, f)); err != nil {
			t.Error(err)
		}
	}
	prev, _ := os.ReadFile(filepath.Join(hcpDir, "previous", "report.json"))
	if !strings.Contains(string(prev), `"status": "ERROR"`) {
		t.Errorf("previous is not the failed run:\n%s", prev)
	}

	c.writeState(state.Unreachable)
	code, out, _ = c.run("-r", "maestro orchestrator authentication", "--json")
	if code != ExitFailed {
		t.Fatalf("unreachable: exit %d", code)
	}
	var rep healthcheck.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if len(rep.Tests) != 1 || rep.Tests[0].Status != healthcheck.Failed || rep.Orchestrator != "1_1" || rep.Summary.Failed != 1 {
		t.Errorf("report %+v", rep)
	}

	code, out, _ = c.run("--show-last")
	if code != ExitFailed {
		t.Errorf("--show-last: exit %d", code)
	}
	for _, w := range []string{
		"[FAILED] 1_2: Unreachable over the internal sync port: test",
		"Remedy: check the internal sync link and cabling on interface sync-int (state: up)",
		"Changes since the previous run",
		"Maestro Orchestrator Authentication: status changed from PASSED to FAILED",
		"Maestro Orchestrator Authentication: new finding [FAILED] 1_2: Unreachable",
		"Daemon: not run this time (was PASSED)",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("--show-last lacks %q:\n%s", w, out)
		}
	}
	code, out, _ = c.run("--show-last", "--json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitFailed || rep.Tests[0].Name != "Maestro Orchestrator Authentication" {
		t.Errorf("--show-last --json: exit %d, %v", code, err)
	}
}

func TestShowLastWithoutReport(t *testing.T) {
	c := newCLI(t)
	code, _, e := c.run("--show-last")
	if code != ExitFailed || !strings.Contains(e, "run hcp -r all first") {
		t.Errorf("exit %d, %q", code, e)
	}
}
