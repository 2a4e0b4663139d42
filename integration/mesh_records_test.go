package integration

import (
	"context"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/testbed"
)

// Revocation records and membership end to end (DESIGN §3, §5.5): a
// revoke reaches an orchestrator that was stopped, or cut off, when it was
// issued, relayed by a third node after the issuer stopped; re-trusting
// later is not undone by the old record; a member is removed everywhere;
// a 2x2 mesh grows to 2x3 with one trust command; a piped "yes" confirms
// nothing. The steps share one testbed and run in sequence.

// A /22 inside the benchmark-only 198.19.144.0/20 (mesh_bench_test.go):
// every /20 of the management range is taken by a test make test runs.
var recordsSpec = tbSpec{prefix: "meshr-", mgmt: "198.19.144.0/22"}

func TestMeshRecords(t *testing.T) {
	needRoot(t)
	needSSH(t)
	tb := upTestbedPW(t, recordsSpec, 2, 2, meshAdminPW)
	m := newMesh(t, tb)

	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.Fatalf("stopping after %s: the later steps need the mesh state it leaves", name)
		}
	}

	step("PipedConfirmationRefused", func(t *testing.T) {
		addr, err := tb.Addr("1_1", testbed.RoleMgmt)
		if err != nil {
			t.Fatal(err)
		}
		// What `yes | ssh admin@node '...'` sends: yes to every question
		// and the password too, on a plain stream (no pty).
		cmd := exec.Command("sshpass", append(sshArgs(addr.Addr().String(), "admin"), "set maestro authentication trust orchestrators all")...)
		cmd.Env = append(os.Environ(), "SSHPASS="+meshAdminPW)
		cmd.Stdin = strings.NewReader(strings.Repeat("yes\n", 8) + meshAdminPW + "\n")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("piped trust all succeeded:\n%s", out)
		}
		for _, want := range []string{"Nothing was trusted", "fingerprints 1_2=" + m.fps["1_2"]} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		m.expectNoPins(t)
	})

	step("Trust", func(t *testing.T) { m.trustAllOK(t) })

	// 2_2 is stopped while 1_1 revokes 1_2; then the issuer stops too, and
	// 2_2 learns it from 2_1, the only one left that trusts it and knows.
	step("StoppedNodeLearnsFromThirdAfterIssuerStops", func(t *testing.T) {
		if err := tb.Stop("2_2"); err != nil {
			t.Fatal(err)
		}
		out := mustClish(t, tb, "1_1", "", "set maestro authentication revoke orchestrators 1_2")
		if !strings.Contains(out, "revoked 1_2") {
			t.Errorf("revoke output: %s", out)
		}
		m.waitPeer(t, []string{"2_1"}, "1_2", state.Untrusted, "", 2*time.Second)
		m.expectPinned(t, "2_1", "1_2", false)
		// The revoked one was told, and dropped its pins of the others.
		m.waitPins(t, "1_2", nil, 3*time.Second)
		if err := tb.Stop("1_1"); err != nil {
			t.Fatal(err)
		}
		m.expectPinned(t, "2_2", "1_2", true)
		if err := tb.Start("2_2"); err != nil {
			t.Fatal(err)
		}
		m.waitPins(t, "2_2", []string{"1_1", "2_1"}, 5*time.Second)
		m.waitPeer(t, []string{"2_2"}, "1_2", state.Untrusted, "", 3*time.Second)
		out = mustClish(t, tb, "2_2", "", "show maestro authentication revocations")
		if !recordListed(out, "1_1", "revoked", "1_2", m.fps["1_2"]) {
			t.Errorf("2_2's revocations do not list 1_1 revoking 1_2 (%s):\n%s", m.fps["1_2"], out)
		}
		if err := tb.Start("1_1"); err != nil {
			t.Fatal(err)
		}
	})

	step("RetrustSurvivesOldRecord", func(t *testing.T) {
		m.trustAllOK(t)
		// New sessions exchange the old record again: it must not undo
		// the newer pins.
		for _, id := range []string{"1_2", "2_2"} {
			if err := tb.Kill(id); err != nil {
				t.Fatal(err)
			}
			if err := tb.Start(id); err != nil {
				t.Fatal(err)
			}
		}
		m.waitFull(t, 5*time.Second, "after restarts with the old record")
		for _, id := range m.ids {
			m.expectPinned(t, id, "", true)
			if id != "1_2" {
				m.expectPinned(t, id, "1_2", true)
			}
		}
	})

	// 2_2 is revoked while it is down: every member refuses it when it
	// comes back, and the refusal carries the record, so it drops its pins
	// (part 2 of the procedure) without a session.
	step("RevokedWhileDownIsTold", func(t *testing.T) {
		if err := tb.Stop("2_2"); err != nil {
			t.Fatal(err)
		}
		mustClish(t, tb, "1_1", "", "set maestro authentication revoke orchestrators 2_2")
		m.waitPins(t, "1_2", []string{"1_1", "2_1"}, 3*time.Second)
		m.waitPins(t, "2_1", []string{"1_1", "1_2"}, 3*time.Second)
		m.expectPinned(t, "2_2", "1_1", true)
		if err := tb.Start("2_2"); err != nil {
			t.Fatal(err)
		}
		m.waitPins(t, "2_2", nil, 5*time.Second)
		m.waitPeer(t, []string{"1_1", "1_2", "2_1"}, "2_2", state.Untrusted, "", 3*time.Second)
		// 2_2 now refuses them in turn; their statuses keep saying that
		// they revoked it, and 2_2's says who revoked it.
		end := time.Now().Add(3 * time.Second)
		for time.Now().Before(end) {
			for _, o := range []string{"1_1", "1_2", "2_1"} {
				if p := peerIn(meshState(t, tb, o), "2_2"); !strings.Contains(p.Reason, "no pin for 2_2 (revoked at ") {
					t.Fatalf("%s sees 2_2 %s (%s), want its own revoke as the reason", o, p.Status, p.Reason)
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if p := peerIn(meshState(t, tb, "2_2"), "1_1"); !strings.Contains(p.Reason, "1_1 revoked this orchestrator's key at ") {
			t.Errorf("2_2 sees 1_1 %s (%s), want the revocation of 2_2 as the reason", p.Status, p.Reason)
		}
		// A restart does not make it forget why.
		if err := tb.Kill("2_2"); err != nil {
			t.Fatal(err)
		}
		if err := tb.Start("2_2"); err != nil {
			t.Fatal(err)
		}
		m.waitPeer(t, []string{"2_2"}, "1_1", state.Untrusted, "1_1 revoked this orchestrator's key at ", 5*time.Second)
		m.trustAllOK(t)
	})

	// 2_1's cables are both pulled during the revoke: it converges as soon
	// as a link is back.
	step("CablePulled", func(t *testing.T) {
		for _, role := range []string{"external", "internal"} {
			if err := tb.Link("2_1", role, false); err != nil {
				t.Fatal(err)
			}
		}
		mustClish(t, tb, "1_1", "", "set maestro authentication revoke orchestrators 2_2")
		m.waitPeer(t, []string{"1_1", "1_2"}, "2_2", state.Untrusted, "", 2*time.Second)
		m.expectPinned(t, "2_1", "2_2", true)
		if err := tb.Link("2_1", "external", true); err != nil {
			t.Fatal(err)
		}
		m.waitPins(t, "2_1", []string{"1_1", "1_2"}, 5*time.Second)
		if err := tb.Link("2_1", "internal", true); err != nil {
			t.Fatal(err)
		}
		m.waitPeer(t, []string{"2_1"}, "2_2", state.Untrusted, "", 5*time.Second)
	})

	step("Remove", func(t *testing.T) {
		out, code := clishOn(t, tb, "1_1", "", "delete maestro orchestrator 2_1")
		if code == 0 || !strings.Contains(out, "2_1 is still trusted here: revoke it first") {
			t.Errorf("delete of a trusted member: exit %d\n%s", code, out)
		}
		out = mustClish(t, tb, "1_1", "", "delete maestro orchestrator 2_2")
		if !strings.Contains(out, "removed 2_2 from the mesh") {
			t.Errorf("delete output: %s", out)
		}
		err := testbed.WaitFor(context.Background(), 5*time.Second, func() (bool, error) {
			for _, id := range []string{"1_1", "1_2", "2_1"} {
				if p := peerIn(meshState(t, tb, id), "2_2"); p.Status != "" {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			t.Fatalf("2_2 still listed as a peer: %v", err)
		}
		if out := mustClish(t, tb, "2_1", "", "show maestro orchestrators"); memberListed(out, "2_2") || !memberListed(out, "1_2") {
			t.Errorf("2_1's membership after removing 2_2:\n%s", out)
		}
		// Trust brings it back: 2_2 is a new member again, and the
		// command completes the mesh.
		out, code = clishOn(t, tb, "1_1", m.pwJSON(meshAdminPW), "set maestro authentication trust orchestrators 2_2 fingerprints 2_2="+m.fps["2_2"])
		if code != 0 {
			t.Fatalf("re-adding 2_2: exit %d\n%s", code, out)
		}
		m.waitFull(t, 5*time.Second, "after trusting the removed 2_2 again")
	})

	step("Grow2x2To2x3", func(t *testing.T) {
		for _, s := range []string{"1_3", "2_3"} {
			id, _ := identity.ParseID(s)
			if _, err := tb.AddNode(context.Background(), id, meshAdminPW); err != nil {
				t.Fatal(err)
			}
		}
		m.refresh(t)
		start := time.Now()
		out, code := clishOn(t, tb, "1_1", m.pwJSON(meshAdminPW),
			"set maestro authentication trust orchestrators 1_3,2_3 fingerprints 1_3="+m.fps["1_3"]+",2_3="+m.fps["2_3"])
		if code != 0 {
			t.Fatalf("trust 1_3,2_3: exit %d\n%s", code, out)
		}
		d := m.waitFull(t, 10*time.Second, "after growing to 2x3")
		t.Logf("2x3 mesh (30 relations) complete %v after the command started (%v after it returned)", time.Since(start).Round(time.Millisecond), d.Round(time.Millisecond))
		out = mustClish(t, tb, "1_3", "", "show maestro orchestrators")
		for _, id := range m.ids {
			if !memberListed(out, id) {
				t.Errorf("1_3 does not list member %s:\n%s", id, out)
			}
		}
	})
}

// refresh re-reads the node list (after AddNode) and the fingerprints.
func (m *mesh) refresh(t *testing.T) {
	t.Helper()
	m.ids = nil
	for _, n := range m.tb.Nodes {
		m.ids = append(m.ids, n.ID.String())
	}
	sort.Strings(m.ids)
	m.readFingerprints(t)
}

// waitPins waits until node's trust.json pins exactly want.
func (m *mesh) waitPins(t *testing.T, node string, want []string, within time.Duration) {
	t.Helper()
	var got map[string]string
	err := testbed.WaitFor(context.Background(), within, func() (bool, error) {
		got = trustPins(t, m.tb, node)
		if len(got) != len(want) {
			return false, nil
		}
		for _, id := range want {
			if _, ok := got[id]; !ok {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("%s pins %v, want %v: %v", node, keys(got), want, err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// recordListed finds a line of show maestro authentication revocations
// naming every field.
func recordListed(out string, fields ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		ok := true
		for _, f := range fields {
			if !strings.Contains(l, f) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// memberListed reports whether show maestro orchestrators lists id in its
// member table (not in the Removed section).
func memberListed(out, id string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Removed:") {
			return false
		}
		if f := strings.Fields(l); len(f) > 0 && f[0] == id {
			return true
		}
	}
	return false
}
