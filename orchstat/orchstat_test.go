package orchstat

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/state"
)

func sample(now time.Time, pid int) *state.File {
	return &state.File{
		Orchestrator: state.Orchestrator{ID: "1_1", Site: 1, Member: 1, Fingerprint: "SHA256:me", CertNotAfter: now.Add(400 * time.Hour)},
		SyncPorts: []state.SyncPort{
			{Role: "internal", Interface: "sync-int", State: "up", Addresses: []string{"198.18.1.1/16"}, Since: now},
			{Role: "external", Interface: "sync-ext", State: "missing", Addresses: []string{}, Since: now},
		},
		Peers: []state.Peer{
			{ID: "1_2", Status: state.Authenticated, Fingerprint: "SHA256:p12", Reason: "session up", Port: "internal", Since: now},
			{ID: "2_1", Status: state.Unreachable, Reason: "no TCP connection", Port: "external", Since: now},
			{ID: "2_2", Status: state.Untrusted, Reason: "no trust established", Port: "external", Since: now, PresentedFingerprint: "SHA256:imp"},
		},
		Mesh:   map[string]map[string]string{"1_2": {"1_1": state.Authenticated, "2_1": state.Untrusted}},
		Daemon: state.Daemon{PID: pid, UpdatedAt: now, RefreshSeconds: 1},
	}
}

func TestRender(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		o        Options
		want     []string
		dontWant []string
	}{
		{"summary", Options{Now: now}, []string{"Orchestrator 1_1", "3 expected: 1 Authenticated, 0 Unknown, 1 Unreachable"}, []string{"no TCP connection", "Mesh"}},
		{"all", Options{All: true, Now: now}, []string{"2_1  Unreachable    external", "no TCP connection"}, []string{"SHA256:p12", "Mesh"}},
		{"verbose", Options{Verbose: true, Now: now}, []string{"SHA256:me", "in 16 days", "sync-int   up", "198.18.1.1/16", "SHA256:p12", "Mesh",
			"PRESENTED (UNVERIFIED)", "2_2  Untrusted      external  -        -            SHA256:imp"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			Render(&b, sample(now, 1), tc.o)
			out := b.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in:\n%s", w, out)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(out, w) {
					t.Errorf("unexpected %q in:\n%s", w, out)
				}
			}
		})
	}
}

func TestMeshMatrix(t *testing.T) {
	var b bytes.Buffer
	renderMesh(&b, sample(time.Now(), 1))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := map[string][]string{
		"1_1": {"1_1", "-", "Authenticated", "Unreachable", "Untrusted"},
		"1_2": {"1_2", "Authenticated", "-", "Untrusted", "?"},
		"2_1": {"2_1", "?", "?", "-", "?"},
		"2_2": {"2_2", "?", "?", "?", "-"},
	}
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if w := want[f[0]]; strings.Join(f, " ") != strings.Join(w, " ") {
			t.Errorf("row %q, want %v", l, w)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "run", "clishd", "state.json")
	run := func(args ...string) (int, string, string) {
		var o, e bytes.Buffer
		c := Main(append([]string{"--root", root}, args...), &o, &e)
		return c, o.String(), e.String()
	}
	if c, _, e := run("-Av"); c != ExitStale || !strings.Contains(e, "does not exist") {
		t.Fatalf("missing state: exit %d, %q", c, e)
	}
	now := time.Now()
	if err := state.Write(p, sample(now, os.Getpid())); err != nil {
		t.Fatal(err)
	}
	c, out, _ := run("--json")
	if c != ExitOK {
		t.Fatalf("fresh state: exit %d", c)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"orchestrator", "sync_ports", "peers", "mesh", "state_age_seconds"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks key %q", k)
		}
	}
	if err := state.Write(p, sample(now, 1<<30)); err != nil {
		t.Fatal(err)
	}
	if c, out, e := run("-A"); c != ExitStale || !strings.Contains(out, "STALE") || !strings.Contains(e, "not running") {
		t.Fatalf("dead daemon: exit %d, %q, %q", c, out, e)
	}
	if c, _, _ := run("--bogus"); c != ExitUsage {
		t.Fatalf("bad flag: exit %d", c)
	}
}
