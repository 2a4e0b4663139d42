package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orchd/orchd/paths"
	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/testbed"
)

// The mesh end to end (DESIGN §3, §5): trust from one command, revoke and
// its propagation, durability across kill -9, block and unblock, link loss,
// silent death, an impostor, and certificate renewal without losing trust.
// The 2x2 steps share one testbed and run in sequence, each leaving the
// mesh fully Authenticated unless it says otherwise.

const meshAdminPW = "Mesh-adm1n-pw"

var meshSpec = tbSpec{prefix: "itm-", mgmt: "198.19.224.0/20"}

func TestMesh2x2(t *testing.T) {
	needRoot(t)
	tb := upTestbedPW(t, meshSpec, 2, 2, meshAdminPW)
	m := newMesh(t, tb)
	all := m.ids
	others := func(id string) []string { return without(all, id) }

	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.Fatalf("stopping after %s: the later steps need the mesh state it leaves", name)
		}
	}

	step("BeforeTrust", func(t *testing.T) {
		// Nothing is pinned yet: no peer may ever be Authenticated, and
		// once the daemons have looked, each is Untrusted or Unknown.
		var bad []string
		err := testbed.WaitFor(context.Background(), 5*time.Second, func() (bool, error) {
			bad = nil
			for _, id := range all {
				f := meshState(t, tb, id)
				for _, p := range f.Peers {
					switch p.Status {
					case state.Authenticated:
						return false, fmt.Errorf("%s sees %s Authenticated before any trust: %s", id, p.ID, p.Reason)
					case state.Untrusted, state.Unknown:
					default:
						bad = append(bad, fmt.Sprintf("%s→%s %s (%s)", id, p.ID, p.Status, p.Reason))
					}
				}
			}
			return len(bad) == 0, nil
		})
		if err != nil {
			t.Fatalf("before trust: %v %v", err, bad)
		}

		// Non-interactive, no fingerprints: refused, naming each one.
		out, code := clishOn(t, tb, "1_1", m.pwJSON(meshAdminPW), "set maestro authentication trust orchestrators all")
		if code == 0 {
			t.Fatalf("trust without fingerprints succeeded:\n%s", out)
		}
		for _, id := range others("1_1") {
			want := fmt.Sprintf("%s: presents %s: verify it on %s and re-run with fingerprints %s=%s", id, m.fps[id], id, id, m.fps[id])
			if !strings.Contains(out, want) {
				t.Errorf("trust without fingerprints: output lacks %q:\n%s", want, out)
			}
		}
		m.expectNoPins(t)
		m.expectNoneAuthenticated(t)
	})

	step("WrongPassword", func(t *testing.T) {
		out, code := clishOn(t, tb, "1_1", m.pwJSON("Not-the-pw-1"), m.trustAll("1_1", false))
		if code != 1 {
			t.Errorf("trust with a wrong password: exit %d, want 1\n%s", code, out)
		}
		for _, id := range others("1_1") {
			if want := id + ": wrong administrator password"; !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		m.expectNoPins(t)
		m.expectNoneAuthenticated(t)
	})

	step("TrustAll", func(t *testing.T) {
		start := time.Now()
		out, code := clishOn(t, tb, "1_1", m.pwJSON(meshAdminPW), m.trustAll("1_1", false))
		cmd := time.Since(start)
		if code != 0 {
			t.Fatalf("trust all: exit %d\n%s", code, out)
		}
		for _, id := range others("1_1") {
			if want := id + ": trusted"; !strings.Contains(out, want) {
				t.Errorf("trust all: output lacks %q:\n%s", want, out)
			}
		}
		conv := m.waitFull(t, 3*time.Second, "after trust all")
		t.Logf("trust command %v, full mesh (peers and views) %v after it", cmd.Round(time.Millisecond), conv.Round(time.Millisecond))

		// Again: idempotent, and no session is disturbed.
		before := m.sinces(t)
		out, code = clishOn(t, tb, "1_1", m.pwJSON(meshAdminPW), m.trustAll("1_1", false))
		if code != 0 {
			t.Fatalf("second trust all: exit %d\n%s", code, out)
		}
		if gaps := m.gaps(t, true); len(gaps) > 0 {
			t.Fatalf("after a second trust all: %s", strings.Join(gaps, "; "))
		}
		if after := m.sinces(t); !equalMaps(before, after) {
			t.Errorf("a second trust all changed statuses' since (sessions dropped?):\nbefore %v\nafter  %v", before, after)
		}
	})

	step("Revoke", func(t *testing.T) {
		start := time.Now()
		out := mustClish(t, tb, "1_1", "", "set maestro authentication revoke orchestrators 1_2")
		if !strings.Contains(out, "revoked 1_2") {
			t.Errorf("revoke output: %s", out)
		}
		m.waitPeer(t, []string{"1_1", "2_1", "2_2"}, "1_2", state.Untrusted, "", 2*time.Second)
		t.Logf("1_2 Untrusted on 1_1, 2_1 and 2_2 %v after the revoke", time.Since(start).Round(time.Millisecond))
		m.expectPinned(t, "1_1", "1_2", false)
		m.expectPinned(t, "2_1", "1_2", false)
		m.expectPinned(t, "2_2", "1_2", false)
		// The others still trust each other.
		for _, a := range []string{"1_1", "2_1", "2_2"} {
			for _, b := range without([]string{"1_1", "2_1", "2_2"}, a) {
				if p := peerIn(meshState(t, tb, a), b); p.Status != state.Authenticated {
					t.Errorf("%s sees %s %s after revoking 1_2: %s", a, b, p.Status, p.Reason)
				}
			}
		}

		mustClish(t, tb, "1_2", "", "set maestro authentication revoke orchestrators all")
		m.waitPeers(t, "1_2", others("1_2"), state.Untrusted, "", 3*time.Second)
		m.expectPinned(t, "1_2", "", false)
		// Nothing heals by itself: trust comes back only through the command.
		m.holdPeer(t, []string{"1_1", "2_1", "2_2"}, "1_2", state.Untrusted, time.Second)

		m.trustAllOK(t)
	})

	step("RevokeSurvivesKill", func(t *testing.T) {
		mustClish(t, tb, "2_1", "", "set maestro authentication revoke orchestrators 2_2")
		if err := tb.Kill("2_1"); err != nil {
			t.Fatal(err)
		}
		if err := tb.Start("2_1"); err != nil {
			t.Fatal(err)
		}
		m.expectPinned(t, "2_1", "2_2", false)
		m.waitPeer(t, []string{"2_1"}, "2_2", state.Untrusted, "", 5*time.Second)
		// The notice reached the other site too before the kill.
		m.waitPeer(t, []string{"1_1", "1_2"}, "2_2", state.Untrusted, "", 2*time.Second)
		m.trustAllOK(t)
	})

	step("Block", func(t *testing.T) {
		fp := m.fps["1_1"]
		out := mustClish(t, tb, "2_2", "", "set maestro authentication block fingerprint "+fp)
		if !strings.Contains(out, "blocked "+fp) {
			t.Errorf("block output: %s", out)
		}
		m.waitPeer(t, []string{"2_2"}, "1_1", state.Untrusted, "blocked", 2*time.Second)
		m.expectPinned(t, "2_2", "1_1", false)

		out, code := clishOn(t, tb, "1_1", m.pwJSON(meshAdminPW), m.trustAll("1_1", false))
		if code == 0 {
			t.Errorf("trust all with 1_1 blocked on 2_2: exit 0\n%s", out)
		}
		lines := resultLines(out)
		if l := lines["2_2"]; !strings.Contains(l, "blocked") {
			t.Errorf("trust all: 2_2's result %q does not say blocked:\n%s", l, out)
		}
		for _, id := range []string{"1_2", "2_1"} {
			if l := lines[id]; l != "already trusted" && l != "trusted" {
				t.Errorf("trust all: %s's result %q, want (already) trusted:\n%s", id, l, out)
			}
		}
		if out := mustClish(t, tb, "2_2", "", "show maestro authentication blocked"); !strings.Contains(out, fp) {
			t.Errorf("show maestro authentication blocked lacks %s:\n%s", fp, out)
		}

		out = mustClish(t, tb, "2_2", "", "delete maestro authentication block fingerprint "+fp)
		if !strings.Contains(out, "unblocked") {
			t.Errorf("unblock output: %s", out)
		}
		if out := mustClish(t, tb, "2_2", "", "show maestro authentication blocked"); strings.Contains(out, fp) {
			t.Errorf("still listed after unblock:\n%s", out)
		}
		// Unblocking does not re-trust.
		m.holdPeer(t, []string{"2_2"}, "1_1", state.Untrusted, time.Second)
		m.trustAllOK(t)
	})

	step("LinkDown", func(t *testing.T) {
		start := time.Now()
		if err := tb.Link("2_1", "external", false); err != nil {
			t.Fatal(err)
		}
		m.waitPeers(t, "2_1", []string{"1_1", "1_2"}, state.Unreachable, "local external sync link", time.Second)
		t.Logf("external link down seen on 2_1 after %v", time.Since(start).Round(time.Millisecond))
		if p := peerIn(meshState(t, tb, "2_1"), "2_2"); p.Status != state.Authenticated {
			t.Errorf("2_1 sees 2_2 (internal sync) %s with its external link down: %s", p.Status, p.Reason)
		}
		if err := tb.Link("2_1", "external", true); err != nil {
			t.Fatal(err)
		}
		d := m.waitFull(t, 5*time.Second, "after the link came back")
		t.Logf("healed %v after link up", d.Round(time.Millisecond))
	})

	step("SilentDeath", func(t *testing.T) {
		start := time.Now()
		if err := tb.Kill("1_2"); err != nil {
			t.Fatal(err)
		}
		m.waitPeer(t, others("1_2"), "1_2", state.Unreachable, "", 3*time.Second)
		t.Logf("1_2's death seen by all after %v", time.Since(start).Round(time.Millisecond))
		start = time.Now()
		if err := tb.Start("1_2"); err != nil {
			t.Fatal(err)
		}
		m.waitFull(t, 5*time.Second-time.Since(start), "after 1_2 restarted")
		t.Logf("healed %v after start", time.Since(start).Round(time.Millisecond))
	})

	// kill -9 lets the kernel close 1_2's sockets, so the others hear of
	// it at once. A frozen process says nothing: only heartbeats tell.
	step("Frozen", func(t *testing.T) {
		n, _ := tb.Node("2_2")
		if !n.Running() {
			t.Fatal("2_2's clishd is not running")
		}
		pid := n.PID
		start := time.Now()
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		frozen := true
		thaw := func() {
			if frozen {
				frozen = false
				if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
					t.Errorf("resuming 2_2's clishd (pid %d): %v", pid, err)
				}
			}
		}
		t.Cleanup(thaw)
		m.waitPeer(t, others("2_2"), "2_2", state.Unreachable, "", 3*time.Second)
		t.Logf("frozen 2_2 seen Unreachable by all after %v", time.Since(start).Round(time.Millisecond))
		start = time.Now()
		thaw()
		m.waitFull(t, 5*time.Second, "after 2_2 resumed")
		t.Logf("healed %v after SIGCONT", time.Since(start).Round(time.Millisecond))
	})

	step("Impostor", func(t *testing.T) {
		old := m.fps["1_2"]
		views := map[string]map[string]string{}
		for _, id := range others("1_2") {
			views[id] = meshState(t, tb, id).Mesh["1_2"]
		}
		if err := tb.Stop("1_2"); err != nil {
			t.Fatal(err)
		}
		n, _ := tb.Node("1_2")
		cmd, err := tb.Command("1_2", "clishd", "init", "--root", n.Root, "--id", "1_2",
			"--orchestrators", strings.Join(all, ","), "--mgmt-address", n.Mgmt.Addr().String(),
			"--admin-password-stdin", "--force")
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = strings.NewReader(meshAdminPW + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("re-initialising 1_2: %v\n%s", err, out)
		}
		if err := tb.Start("1_2"); err != nil {
			t.Fatal(err)
		}
		m.readFingerprints(t)
		if m.fps["1_2"] == old {
			t.Fatalf("1_2 kept its fingerprint %s after init --force", old)
		}
		m.waitPeer(t, others("1_2"), "1_2", state.Untrusted, "does not match", 5*time.Second)
		for _, id := range others("1_2") {
			f := meshState(t, tb, id)
			if v, ok := f.Mesh["1_2"]; ok {
				if !equalMaps(v, views[id]) {
					t.Errorf("%s accepted a view from the impostor 1_2: %v (before: %v)", id, v, views[id])
				}
				t.Errorf("%s still shows the view 1_2 reported before its key changed: %v (want none: 1_2 is Untrusted)", id, v)
			}
			if p := peerIn(f, "1_2"); !strings.Contains(p.Reason, m.fps["1_2"]) {
				t.Errorf("%s: reason %q does not name the presented key %s", id, p.Reason, m.fps["1_2"])
			}
		}

		out, code := clishOn(t, tb, "1_1", m.pwJSON(meshAdminPW), m.trustAll("1_1", false))
		if code == 0 || !strings.Contains(out, "HAS CHANGED") {
			t.Errorf("trust all after 1_2's key changed, without force: exit %d\n%s", code, out)
		}
		m.expectPinnedFP(t, "1_1", "1_2", old)

		// The admin verified the new key: force replaces the pin everywhere.
		out, code = clishOn(t, tb, "1_1", m.pwJSON(meshAdminPW), m.trustAll("1_1", true))
		if code != 0 {
			t.Fatalf("trust all force: exit %d\n%s", code, out)
		}
		m.waitFull(t, 3*time.Second, "after trust all force")
	})
}

// Certificate renewal with 3-minute certificates renewed 170 s before
// expiry, i.e. ~10 s after init: the peers keep trusting each other
// throughout and learn the new certificate over the session.
func TestMeshCertRenewal(t *testing.T) {
	needRoot(t)
	tb := upTestbedPW(t, meshSpec, 1, 2, meshAdminPW, "--set", "auth.cert_validity=3m", "--set", "auth.renew_before=170s")
	m := newMesh(t, tb)
	first := meshState(t, tb, "1_1").Orchestrator.CertNotAfter
	if d := time.Until(first); d > 3*time.Minute || d < 2*time.Minute {
		t.Fatalf("1_1's certificate expires in %v, want ~3m", d)
	}
	m.trustAllOK(t)

	start := time.Now()
	var (
		authenticated bool
		peerFirst     time.Time
		last          string
		sinces        map[string]string
	)
	err := testbed.WaitFor(context.Background(), 20*time.Second, func() (bool, error) {
		own := meshState(t, tb, "1_1")
		view := meshState(t, tb, "1_2")
		p12, p21 := peerIn(view, "1_1"), peerIn(own, "1_2")
		for _, p := range []struct {
			who string
			p   state.Peer
		}{{"1_2→1_1", p12}, {"1_1→1_2", p21}} {
			if p.p.Status != state.Authenticated {
				if authenticated {
					return false, fmt.Errorf("%s became %s during renewal: %s", p.who, p.p.Status, p.p.Reason)
				}
				return false, nil
			}
		}
		if !authenticated {
			authenticated, sinces = true, m.sinces(t)
		}
		if p12.CertNotAfter == nil {
			return false, errors.New("1_2 records no cert_not_after for 1_1")
		}
		if peerFirst.IsZero() {
			peerFirst = *p12.CertNotAfter
			if !peerFirst.Equal(first) {
				return false, fmt.Errorf("1_2 first recorded 1_1's cert_not_after %v, want %v (renewed before the trust?)", peerFirst, first)
			}
		}
		now := own.Orchestrator.CertNotAfter
		last = fmt.Sprintf("1_1 cert_not_after %v (first %v), 1_2 records %v", now, first, *p12.CertNotAfter)
		return !now.Equal(first) && p12.CertNotAfter.Equal(now), nil
	})
	if err != nil {
		t.Fatalf("renewal: %v; %s", err, last)
	}
	t.Logf("renewed and seen by 1_2 %v after trust: %s", time.Since(start).Round(time.Millisecond), last)
	if after := m.sinces(t); !equalMaps(sinces, after) {
		t.Errorf("statuses changed (a session dropped?) across the renewal:\nbefore %v\nafter  %v", sinces, after)
	}
	if e := meshState(t, tb, "1_1").Orchestrator.CertRenewalError; e != "" {
		t.Errorf("cert_renewal_error: %s", e)
	}
}

// mesh drives one testbed's orchestrators through trust commands and
// checks their state files.
type mesh struct {
	tb  *testbed.Testbed
	ids []string          // sorted
	fps map[string]string // ID → fingerprint from orch_stat --json
	pw  string
}

func newMesh(t testing.TB, tb *testbed.Testbed) *mesh {
	t.Helper()
	m := &mesh{tb: tb, pw: meshAdminPW}
	for _, n := range tb.Nodes {
		m.ids = append(m.ids, n.ID.String())
	}
	sort.Strings(m.ids)
	// The daemons configure their sync ports right after start.
	var notUp []string
	err := testbed.WaitFor(context.Background(), 10*time.Second, func() (bool, error) {
		notUp = nil
		for _, id := range m.ids {
			f := meshState(t, tb, id)
			for _, role := range []string{"internal", "external"} {
				if p := port(f, role); p.State != state.PortUp {
					notUp = append(notUp, fmt.Sprintf("%s %s %s %s", id, role, p.State, p.Error))
				}
			}
		}
		return len(notUp) == 0, nil
	})
	if err != nil {
		t.Fatalf("sync ports not up: %v: %s", err, strings.Join(notUp, "; "))
	}
	m.readFingerprints(t)
	return m
}

func (m *mesh) readFingerprints(t testing.TB) {
	t.Helper()
	m.fps = map[string]string{}
	for _, id := range m.ids {
		out, code := execOn(t, m.tb, id, "", "orch_stat", "--json")
		var f state.File
		if code != 0 || json.Unmarshal([]byte(out), &f) != nil || !strings.HasPrefix(f.Orchestrator.Fingerprint, "SHA256:") {
			t.Fatalf("orch_stat --json on %s: exit %d\n%s", id, code, out)
		}
		m.fps[id] = f.Orchestrator.Fingerprint
	}
}

func (m *mesh) pwJSON(pw string) string {
	b, _ := json.Marshal(map[string]string{"password": pw})
	return string(b)
}

// trustAll is the trust-all command from `from`, naming every other
// orchestrator's fingerprint.
func (m *mesh) trustAll(from string, force bool) string {
	var fps []string
	for _, id := range without(m.ids, from) {
		fps = append(fps, id+"="+m.fps[id])
	}
	f := ""
	if force {
		f = "force "
	}
	return "set maestro authentication trust orchestrators all " + f + "fingerprints " + strings.Join(fps, ",")
}

// trustAllOK runs trust all from the first orchestrator and waits (3 s)
// for the full Authenticated mesh.
func (m *mesh) trustAllOK(t *testing.T) {
	t.Helper()
	out, code := clishOn(t, m.tb, m.ids[0], m.pwJSON(m.pw), m.trustAll(m.ids[0], false))
	if code != 0 {
		t.Fatalf("trust all: exit %d\n%s", code, out)
	}
	m.waitFull(t, 3*time.Second, "after trust all")
}

// gaps lists what keeps the mesh from complete: every directed relation
// Authenticated and, with views, every peer's reported view too.
func (m *mesh) gaps(t testing.TB, views bool) []string {
	t.Helper()
	var gaps []string
	for _, id := range m.ids {
		f := meshState(t, m.tb, id)
		for _, o := range without(m.ids, id) {
			if p := peerIn(f, o); p.Status != state.Authenticated {
				gaps = append(gaps, fmt.Sprintf("%s→%s %s (%s)", id, o, p.Status, p.Reason))
			}
			if !views {
				continue
			}
			v, ok := f.Mesh[o]
			if !ok {
				gaps = append(gaps, fmt.Sprintf("%s has no view from %s", id, o))
				continue
			}
			for _, x := range without(m.ids, o) {
				if v[x] != state.Authenticated {
					gaps = append(gaps, fmt.Sprintf("%s: %s reports %s %q", id, o, x, v[x]))
				}
			}
		}
	}
	return gaps
}

// waitFull waits for the complete mesh, views included, and returns how
// long it took.
func (m *mesh) waitFull(t *testing.T, within time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	var gaps []string
	err := testbed.WaitFor(context.Background(), within, func() (bool, error) {
		gaps = m.gaps(t, true)
		return len(gaps) == 0, nil
	})
	if err != nil {
		t.Fatalf("%s: mesh not complete within %v: %s", what, within, strings.Join(gaps, "; "))
	}
	return time.Since(start)
}

// peerWant is one expected status: observer sees peer with status and a
// reason containing reasonPart.
type peerWant struct{ observer, peer, status, reasonPart string }

// waitStatuses waits until every want holds at once.
func (m *mesh) waitStatuses(t *testing.T, wants []peerWant, within time.Duration) {
	t.Helper()
	var off []string
	err := testbed.WaitFor(context.Background(), within, func() (bool, error) {
		off = nil
		files := map[string]*state.File{}
		for _, w := range wants {
			f := files[w.observer]
			if f == nil {
				f = meshState(t, m.tb, w.observer)
				files[w.observer] = f
			}
			if p := peerIn(f, w.peer); p.Status != w.status || !strings.Contains(p.Reason, w.reasonPart) {
				off = append(off, fmt.Sprintf("%s sees %s %s (%s), want %s (reason containing %q)",
					w.observer, w.peer, p.Status, p.Reason, w.status, w.reasonPart))
			}
		}
		return len(off) == 0, nil
	})
	if err != nil {
		t.Fatalf("not within %v: %s", within, strings.Join(off, "; "))
	}
}

// waitPeer waits until every observer sees peer with status st and a
// reason containing reasonPart.
func (m *mesh) waitPeer(t *testing.T, observers []string, peer, st, reasonPart string, within time.Duration) {
	t.Helper()
	var ws []peerWant
	for _, o := range observers {
		ws = append(ws, peerWant{o, peer, st, reasonPart})
	}
	m.waitStatuses(t, ws, within)
}

// waitPeers waits until observer sees every peer in peers with status st
// and a reason containing reasonPart.
func (m *mesh) waitPeers(t *testing.T, observer string, peers []string, st, reasonPart string, within time.Duration) {
	t.Helper()
	var ws []peerWant
	for _, p := range peers {
		ws = append(ws, peerWant{observer, p, st, reasonPart})
	}
	m.waitStatuses(t, ws, within)
}

// holdPeer checks that observers keep seeing peer with status want for d:
// what must not happen by itself is watched for, not slept through.
func (m *mesh) holdPeer(t *testing.T, observers []string, peer, want string, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	err := testbed.WaitFor(context.Background(), d+time.Second, func() (bool, error) {
		for _, o := range observers {
			if p := peerIn(meshState(t, m.tb, o), peer); p.Status != want {
				return false, fmt.Errorf("%s sees %s %s (%s), want it to stay %s", o, peer, p.Status, p.Reason, want)
			}
		}
		return time.Now().After(end), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (m *mesh) expectNoneAuthenticated(t *testing.T) {
	t.Helper()
	for _, id := range m.ids {
		for _, p := range meshState(t, m.tb, id).Peers {
			if p.Status == state.Authenticated {
				t.Errorf("%s sees %s Authenticated: %s", id, p.ID, p.Reason)
			}
		}
	}
}

func (m *mesh) expectNoPins(t *testing.T) {
	t.Helper()
	for _, id := range m.ids {
		if pins := trustPins(t, m.tb, id); len(pins) > 0 {
			t.Errorf("%s has pins %v", id, pins)
		}
	}
}

// expectPinned checks whether node pins peer ("" means: any peer).
func (m *mesh) expectPinned(t *testing.T, node, peer string, want bool) {
	t.Helper()
	pins := trustPins(t, m.tb, node)
	if peer == "" {
		if got := len(pins) > 0; got != want {
			t.Errorf("%s: trust.json pins %v, want pinned=%v", node, pins, want)
		}
		return
	}
	if _, got := pins[peer]; got != want {
		t.Errorf("%s: trust.json pins %v, want %s pinned=%v", node, pins, peer, want)
	}
}

func (m *mesh) expectPinnedFP(t *testing.T, node, peer, fp string) {
	t.Helper()
	if got := trustPins(t, m.tb, node)[peer]; got != fp {
		t.Errorf("%s pins %s as %q, want %q", node, peer, got, fp)
	}
}

// sinces records since of every directed relation.
func (m *mesh) sinces(t testing.TB) map[string]string {
	out := map[string]string{}
	for _, id := range m.ids {
		for _, p := range meshState(t, m.tb, id).Peers {
			out[id+"→"+p.ID] = p.Status + "@" + p.Since.Format(time.RFC3339Nano)
		}
	}
	return out
}

// trustPins reads a node's trust.json: pinned ID → fingerprint.
func trustPins(t testing.TB, tb *testbed.Testbed, id string) map[string]string {
	t.Helper()
	n, err := tb.Node(id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(paths.Layout{Root: n.Root}.TrustStore())
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Pins []struct{ ID, Fingerprint string }
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: trust.json: %v\n%s", id, err, b)
	}
	out := map[string]string{}
	for _, p := range f.Pins {
		out[p.ID] = p.Fingerprint
	}
	return out
}

// meshState reads a node's state file (testing.TB: benchmarks use it too).
func meshState(t testing.TB, tb *testbed.Testbed, id string) *state.File {
	t.Helper()
	n, err := tb.Node(id)
	if err != nil {
		t.Fatal(err)
	}
	f, err := state.Read(paths.Layout{Root: n.Root}.StateFile(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// peerIn is f's view of peer id; a missing peer has an empty status.
func peerIn(f *state.File, id string) state.Peer {
	for _, p := range f.Peers {
		if p.ID == id {
			return p
		}
	}
	return state.Peer{ID: id, Reason: "not listed in " + f.Orchestrator.ID + "'s state"}
}

// execOn runs argv in node id and returns stdout+stderr and the exit code.
func execOn(t testing.TB, tb *testbed.Testbed, id, stdin string, argv ...string) (string, int) {
	t.Helper()
	cmd, err := tb.Command(id, argv...)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("running %v in %s: %v", argv, id, err)
	}
	return out.String(), 0
}

// clishOn runs one clish command, with --input-json answers when given.
func clishOn(t testing.TB, tb *testbed.Testbed, id, inputJSON, line string) (string, int) {
	t.Helper()
	if inputJSON == "" {
		return execOn(t, tb, id, "", "clish", "-c", line)
	}
	return execOn(t, tb, id, inputJSON, "clish", "--input-json", "-c", line)
}

// resultLines maps "ID: result" lines of a trust command's output.
func resultLines(out string) map[string]string {
	res := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		id, rest, ok := strings.Cut(l, ": ")
		if ok && len(id) >= 3 && len(id) <= 5 && strings.Contains(id, "_") {
			if _, seen := res[id]; !seen {
				res[id] = rest
			}
		}
	}
	return res
}

func without(ids []string, drop string) []string {
	var out []string
	for _, id := range ids {
		if id != drop {
			out = append(out, id)
		}
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// upMeshBed brings up a testbed for a benchmark (upTestbedPW is for
// *testing.T and its cleanup); down tears it down and removes its
// directory.
func upMeshBed(b testing.TB, spec tbSpec, sites, perSite int) (tb *testbed.Testbed, down func() error) {
	b.Helper()
	dir, err := os.MkdirTemp("", "orchd-bench-")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	tb, err = testbed.Up(ctx, testbed.Options{
		Sites: sites, PerSite: perSite, Dir: dir, Prefix: spec.prefix,
		MgmtNet: netip.MustParsePrefix(spec.mgmt), BinDir: binDir,
		AdminPassword: meshAdminPW,
	})
	if err != nil {
		os.RemoveAll(dir)
		b.Fatalf("testbed up: %v", err)
	}
	return tb, func() error {
		err := tb.Down()
		if err == nil {
			err = os.RemoveAll(dir)
		}
		return err
	}
}
