package integration

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/testbed"
)

// The foundation end to end: a 2x2 testbed, every node's orch_stat, a sync
// link pulled and seen, and a teardown that leaves nothing behind.
func TestFoundation2x2(t *testing.T) {
	needRoot(t)
	spec := tbSpec{prefix: "itf-", mgmt: "198.19.208.0/20"}
	tb := upTestbed(t, spec, 2, 2)
	if len(tb.Nodes) != 4 {
		t.Fatalf("%d nodes, want 4", len(tb.Nodes))
	}

	fps := map[string]string{}
	for _, n := range tb.Nodes {
		id := n.ID.String()
		var f *state.File
		// The daemon configures its ports right after start; wait for it.
		err := testbed.WaitFor(context.Background(), 5*time.Second, func() (bool, error) {
			f = orchStat(t, tb, id)
			return port(f, "internal").State == state.PortUp && port(f, "external").State == state.PortUp, nil
		})
		if err != nil {
			t.Fatalf("%s: sync ports not up: %+v", id, f.SyncPorts)
		}
		if f.Orchestrator.ID != id {
			t.Errorf("node %s reports ID %q", id, f.Orchestrator.ID)
		}
		if !strings.HasPrefix(f.Orchestrator.Fingerprint, "SHA256:") {
			t.Errorf("%s: fingerprint %q", id, f.Orchestrator.Fingerprint)
		}
		if other, dup := fps[f.Orchestrator.Fingerprint]; dup {
			t.Errorf("%s and %s share fingerprint %s", id, other, f.Orchestrator.Fingerprint)
		}
		fps[f.Orchestrator.Fingerprint] = id
		for role, want := range map[string]string{"internal": n.Internal.String(), "external": n.External.String()} {
			p := port(f, role)
			if len(p.Addresses) != 1 || p.Addresses[0] != want {
				t.Errorf("%s %s port addresses %v, want [%s]", id, role, p.Addresses, want)
			}
		}
		if len(f.Peers) != 3 {
			t.Errorf("%s lists %d peers, want 3: %+v", id, len(f.Peers), f.Peers)
		}
		for _, p := range f.Peers {
			if p.ID == id {
				t.Errorf("%s lists itself as a peer", id)
			}
			if p.Status == "" || p.Reason == "" {
				t.Errorf("%s: peer %s without status or reason: %+v", id, p.ID, p)
			}
		}
		// orch_stat -Av is what an admin runs: it must show the node.
		out, _, code := run(t, tb, id, "", "orch_stat", "-Av")
		if code != 0 || !strings.Contains(out, "Orchestrator "+id) {
			t.Errorf("orch_stat -Av on %s: exit %d\n%s", id, code, out)
		}
	}

	// Pull the internal cable of 1_1 and see it in the state file.
	start := time.Now()
	if err := tb.Link("1_1", "internal", false); err != nil {
		t.Fatal(err)
	}
	err := testbed.WaitFor(context.Background(), time.Second, func() (bool, error) {
		return port(readState(t, tb, "1_1"), "internal").State == state.PortDown, nil
	})
	if err != nil {
		t.Fatalf("link down not in the state file within 1 s: %+v", readState(t, tb, "1_1").SyncPorts)
	}
	t.Logf("link down visible after %v", time.Since(start))
	if err := tb.Link("1_1", "internal", true); err != nil {
		t.Fatal(err)
	}
	if err := testbed.WaitFor(context.Background(), 2*time.Second, func() (bool, error) {
		return port(readState(t, tb, "1_1"), "internal").State == state.PortUp, nil
	}); err != nil {
		t.Fatal("link up not seen")
	}

	// Teardown leaves no namespace, link or process of ours.
	var pids []int
	for _, n := range tb.Nodes {
		pids = append(pids, n.PID)
	}
	if err := tb.Down(); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), spec.prefix) {
		t.Errorf("namespaces left after down:\n%s", out)
	}
	out, _ = exec.Command("ip", "-o", "link").Output()
	if strings.Contains(string(out), spec.prefix) {
		t.Errorf("links left after down:\n%s", out)
	}
	for _, pid := range pids {
		if exec.Command("kill", "-0", strconv.Itoa(pid)).Run() == nil {
			t.Errorf("clishd pid %d still running after down", pid)
		}
	}
}
