package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/testbed"
)

// bed is one benchmark testbed and how to take it down.
type bed struct {
	*testbed.Testbed
	down func() error
	ids  []string
	// unconverged says why the trust never completed ("" when it did):
	// measurements on this testbed then say so instead of waiting.
	unconverged string
}

// meshNote waits for the mesh (unless known not to converge) and returns
// "" or a note on how far it got.
func (b *bed) meshNote(ctx context.Context) string {
	if b.unconverged == "" && b.meshAuthenticated(ctx, 30*time.Second) == nil {
		return ""
	}
	auth, all := b.relations()
	return fmt.Sprintf(" [mesh NOT converged: %d of %d directed relations Authenticated]", auth, all)
}

// relations counts the Authenticated directed relations.
func (b *bed) relations() (auth, all int) {
	for _, id := range b.ids {
		s, err := b.read(id)
		if err != nil {
			continue
		}
		for _, p := range s.f.Peers {
			all++
			if p.Status == state.Authenticated {
				auth++
			}
		}
	}
	return auth, all
}

func tbDir() string { return filepath.Join(workDir, "tb") }

// upBed builds a sites x perSite testbed with the admin password, after
// removing whatever a crashed earlier run left in our directory.
func upBed(ctx context.Context, binDir string, sites, perSite int) (*bed, error) {
	if err := downStale(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	tb, err := testbed.Up(ctx, testbed.Options{
		Sites: sites, PerSite: perSite, AdminPassword: adminPW, Dir: tbDir(), Prefix: tbPrefix,
		MgmtNet: netip.MustParsePrefix(tbMgmtNet), BinDir: binDir,
		Logf: func(f string, a ...any) {
			if strings.Contains(f, "fail") || strings.Contains(f, "leaving") || strings.Contains(f, "killed") {
				logf("testbed: "+f, a...)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("testbed up %dx%d: %w", sites, perSite, err)
	}
	b := &bed{Testbed: tb}
	for _, n := range tb.Nodes {
		b.ids = append(b.ids, n.ID.String())
	}
	b.down = atCleanup(fmt.Sprintf("testbed %dx%d", sites, perSite), func() error {
		for _, n := range tb.Nodes {
			if n.PID > 0 {
				_ = syscallKill(n.PID, sigCONT) // a SIGSTOPped daemon would ignore SIGTERM
			}
		}
		return tb.Teardown(true)
	})
	logf("testbed %dx%d up in %.1f s", sites, perSite, time.Since(t0).Seconds())
	return b, nil
}

// downStale takes down a testbed a crashed run left in our directory:
// its journal names exactly what it created.
func downStale() error {
	if _, err := os.Stat(testbed.JournalFile(tbDir())); err != nil {
		return nil
	}
	tb, err := testbed.Open(tbDir())
	if err != nil {
		return fmt.Errorf("opening the stale bench testbed: %w", err)
	}
	if tb.Opts.Prefix != tbPrefix {
		return fmt.Errorf("journal %s is not a bench testbed (prefix %q): leaving it", testbed.JournalFile(tbDir()), tb.Opts.Prefix)
	}
	logf("taking down the testbed an earlier run left behind")
	return tb.Teardown(true)
}

func (b *bed) stateFile(id string) string {
	n, _ := b.Node(id)
	return filepath.Join(n.Root, "run", "clishd", "state.json")
}

// snap is one read of a node's state file.
type snap struct {
	f     *state.File
	mtime time.Time
}

// read decodes id's state file and takes its modification time from the
// same open file: the daemon replaces the file by rename, so a stat of the
// path could give a newer version's time to an older version's content.
func (b *bed) read(id string) (snap, error) {
	fh, err := os.Open(b.stateFile(id))
	if err != nil {
		return snap{}, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return snap{}, err
	}
	raw, err := io.ReadAll(fh)
	if err != nil {
		return snap{}, err
	}
	f, err := state.Decode(raw)
	if err != nil {
		return snap{}, fmt.Errorf("state file of %s: %w", id, err)
	}
	return snap{f: f, mtime: fi.ModTime()}, nil
}

// readPeers reads only the peers list of id's state file (it comes before
// the mesh matrix, which at 64 nodes is most of the file's 144 kB), with
// the modification time of the same open file. The death trials poll 63
// files while the host is at its busiest: decoding whole files there made
// the bench a large part of the load it measures.
func (b *bed) readPeers(id string) ([]state.Peer, time.Time, error) {
	fh, err := os.Open(b.stateFile(id))
	if err != nil {
		return nil, time.Time{}, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	d := json.NewDecoder(bufio.NewReaderSize(fh, 16<<10))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, time.Time{}, fmt.Errorf("state file of %s: not a JSON object", id)
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("state file of %s: %w", id, err)
		}
		if t == "peers" {
			var ps []state.Peer
			if err := d.Decode(&ps); err != nil {
				return nil, time.Time{}, fmt.Errorf("state file of %s: peers: %w", id, err)
			}
			return ps, fi.ModTime(), nil
		}
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return nil, time.Time{}, fmt.Errorf("state file of %s: %w", id, err)
		}
	}
	return nil, time.Time{}, fmt.Errorf("state file of %s: no peers list", id)
}

func (s snap) peer(id string) state.Peer {
	for _, p := range s.f.Peers {
		if p.ID == id {
			return p
		}
	}
	return state.Peer{}
}

func (s snap) allPeers(status string) bool {
	if s.f == nil || len(s.f.Peers) == 0 {
		return false
	}
	for _, p := range s.f.Peers {
		if p.Status != status {
			return false
		}
	}
	return true
}

func (s snap) portsUp() bool {
	if s.f == nil {
		return false
	}
	up := 0
	for _, p := range s.f.SyncPorts {
		if p.State == state.PortUp && len(p.Addresses) > 0 {
			up++
		}
	}
	return up == 2
}

// waitAll waits until cond holds for every node's state file.
func (b *bed) waitAll(ctx context.Context, timeout time.Duration, ids []string, cond func(id string, s snap) bool) error {
	pending := map[string]bool{}
	for _, id := range ids {
		pending[id] = true
	}
	err := testbed.WaitFor(ctx, timeout, func() (bool, error) {
		for id := range pending {
			s, err := b.read(id)
			if err == nil && cond(id, s) {
				delete(pending, id)
			}
		}
		return len(pending) == 0, nil
	})
	if err != nil {
		var left []string
		for id := range pending {
			left = append(left, id)
		}
		return fmt.Errorf("%w (nodes not there: %s)", err, strings.Join(left, ","))
	}
	return nil
}

func (b *bed) meshAuthenticated(ctx context.Context, timeout time.Duration) error {
	return b.waitAll(ctx, timeout, b.ids, func(_ string, s snap) bool { return s.allPeers(state.Authenticated) })
}

// exec runs argv in node id with stdin and returns stdout and stderr.
func (b *bed) exec(ctx context.Context, id, stdin string, argv ...string) (string, string, error) {
	cmd, err := b.Command(id, argv...)
	if err != nil {
		return "", "", err
	}
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	var o, e bytes.Buffer
	c.Stdout, c.Stderr = &o, &e
	if stdin != "" {
		c.Stdin = strings.NewReader(stdin)
	}
	err = c.Run()
	if err != nil {
		err = fmt.Errorf("%s on %s: %w: %s", strings.Join(argv, " "), id, err, strings.TrimSpace(e.String()+" "+o.String()))
	}
	return o.String(), e.String(), err
}

// fingerprints reads each node's fingerprint from orch_stat --json.
func (b *bed) fingerprints(ctx context.Context) (map[string]string, error) {
	fps := map[string]string{}
	for _, id := range b.ids {
		out, _, err := b.exec(ctx, id, "", "orch_stat", "--json")
		if err != nil {
			return nil, err
		}
		var f state.File
		if err := json.Unmarshal([]byte(out), &f); err != nil {
			return nil, fmt.Errorf("orch_stat --json on %s: %w", id, err)
		}
		if !strings.HasPrefix(f.Orchestrator.Fingerprint, "SHA256:") {
			return nil, fmt.Errorf("orch_stat --json on %s: fingerprint %q", id, f.Orchestrator.Fingerprint)
		}
		fps[id] = f.Orchestrator.Fingerprint
	}
	return fps, nil
}

// trustCommand is the one command that builds the mesh, run on the first node.
func (b *bed) trustCommand(fps map[string]string) *exec.Cmd {
	var list []string
	for _, id := range b.ids[1:] {
		list = append(list, id+"="+fps[id])
	}
	cmd, _ := b.Command(b.ids[0], "clish", "--input-json", "-c",
		"set maestro authentication trust orchestrators all fingerprints "+strings.Join(list, ","))
	cmd.Stdin = strings.NewReader(`{"password":"` + adminPW + `"}`)
	return cmd
}

// pids of the daemons, by node.
func (b *bed) pids() map[string]int {
	m := map[string]int{}
	for _, n := range b.Nodes {
		m[n.ID.String()] = n.PID
	}
	return m
}
