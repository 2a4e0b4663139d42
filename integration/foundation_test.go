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
	const adminPW = "Found-pass-1"
	tb := upTestbedPW(t, spec, 2, 2, adminPW)
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

	healthChecks(t, tb, adminPW)

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

// healthChecks is the hcp story of an admin: FAILED before trust, PASSED
// after, FAILED naming the peer and the remedy when a cable is pulled.
func healthChecks(t *testing.T, tb *testbed.Testbed, adminPW string) {
	const test = "Maestro Orchestrator Authentication"
	// Before trust every peer settles to Untrusted (reachable, no pin); the
	// cable pulled above may still be reconnecting for a moment.
	if err := testbed.WaitFor(context.Background(), 5*time.Second, func() (bool, error) {
		for _, p := range readState(t, tb, "1_1").Peers {
			if p.Status != state.Untrusted {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		t.Fatalf("peers did not settle to Untrusted before trust: %+v", readState(t, tb, "1_1").Peers)
	}
	out, _, code := run(t, tb, "1_1", "", "hcp", "-r", test)
	if code != 1 || !strings.Contains(out, "FAILED") {
		t.Fatalf("hcp before trust: exit %d\n%s", code, out)
	}
	detail, _, _ := run(t, tb, "1_1", "", "hcp", "--show-last")
	if !strings.Contains(detail, "set maestro authentication trust orchestrators 1_2") {
		t.Errorf("hcp before trust does not give the trust command:\n%s", detail)
	}

	var fps []string
	for _, id := range []string{"1_2", "2_1", "2_2"} {
		fps = append(fps, id+"="+readState(t, tb, id).Orchestrator.Fingerprint)
	}
	out, errOut, code := run(t, tb, "1_1", `{"password": "`+adminPW+`"}`, "clish", "--input-json", "-c",
		"set maestro authentication trust orchestrators all fingerprints "+strings.Join(fps, ","))
	if code != 0 {
		t.Fatalf("trust all: exit %d\n%s%s", code, out, errOut)
	}
	allAuth := func(id string) func() (bool, error) {
		return func() (bool, error) {
			for _, p := range readState(t, tb, id).Peers {
				if p.Status != state.Authenticated {
					return false, nil
				}
			}
			return true, nil
		}
	}
	if err := testbed.WaitFor(context.Background(), 5*time.Second, allAuth("1_1")); err != nil {
		t.Fatalf("not all Authenticated after trust: %+v", readState(t, tb, "1_1").Peers)
	}
	out, _, code = run(t, tb, "1_1", "", "hcp", "-r", "all")
	if code != 0 || !strings.Contains(out, "PASSED") {
		t.Fatalf("hcp -r all after trust: exit %d\n%s", code, out)
	}

	// Pull 1_1's external cable: 2_1 and 2_2 become Unreachable, and hcp
	// names them and the interface to check.
	if err := tb.Link("1_1", "external", false); err != nil {
		t.Fatal(err)
	}
	defer tb.Link("1_1", "external", true)
	err := testbed.WaitFor(context.Background(), 2*time.Second, func() (bool, error) {
		for _, p := range readState(t, tb, "1_1").Peers {
			if p.ID == "2_1" && p.Status == state.Unreachable {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("2_1 not Unreachable after the link went down: %+v", readState(t, tb, "1_1").Peers)
	}
	out, _, code = run(t, tb, "1_1", "", "hcp", "-r", test)
	detail, _, _ = run(t, tb, "1_1", "", "hcp", "--show-last")
	if code != 1 || !strings.Contains(out, "FAILED") || !strings.Contains(detail, "2_1") || !strings.Contains(detail, "sync-ext") {
		t.Fatalf("hcp after link down: exit %d\n%s\n%s", code, out, detail)
	}
	if strings.Contains(detail, "1_2: ") && strings.Contains(detail, "1_2: Unreachable") {
		t.Errorf("hcp blames 1_2, which is reached over the internal port:\n%s", detail)
	}
}
