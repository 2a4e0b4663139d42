package peers

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/records"
	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/truststore"
)

func TestStatusesBeforeRun(t *testing.T) {
	ms := newMesh(t, "1_1", "2_1", "1_2")
	m := New(ms.config(ms.nodes["1_1"]))
	got := m.Statuses()
	if len(got) != 2 || got[0].ID != "1_2" || got[1].ID != "2_1" {
		t.Fatalf("Statuses() = %+v, want 1_2 then 2_1", got)
	}
	for _, p := range got {
		if p.Status != state.Unknown || p.Reason != "no session yet" || p.Since.IsZero() || p.Port != "internal" || !strings.HasPrefix(p.Address, "127.") {
			t.Errorf("before Run: %+v", p)
		}
	}
	if len(m.Mesh()) != 0 {
		t.Errorf("Mesh() before any report = %v", m.Mesh())
	}
}

func TestAllAuthenticated(t *testing.T) {
	t.Parallel()
	for _, ids := range [][]string{{"1_1", "1_2"}, {"1_1", "1_2", "2_1"}, {"1_1", "1_2", "2_1", "2_2"}} {
		t.Run(fmt.Sprint(len(ids)), func(t *testing.T) {
			t.Parallel()
			ms := newMesh(t, ids...)
			ms.pinAll()
			ms.startAll()
			waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
			for _, a := range ids {
				for _, p := range ms.m(a).Statuses() {
					want := ms.nodes[p.ID].self.Load()
					if p.Fingerprint != want.Fingerprint() || p.CertNotAfter == nil || !p.CertNotAfter.Equal(want.Cert.NotAfter) {
						t.Errorf("%s's record of %s: fingerprint %s cert %v", a, p.ID, p.Fingerprint, p.CertNotAfter)
					}
				}
			}
			// Every node reports its view; each view says everyone is
			// Authenticated.
			waitFor(t, 5*time.Second, "full mesh views", func() (bool, string) {
				for _, a := range ids {
					mesh := ms.m(a).Mesh()
					for _, b := range ids {
						if b == a {
							continue
						}
						v := mesh[b]
						for _, c := range ids {
							if c != b && v[c] != state.Authenticated {
								return false, fmt.Sprintf("%s's copy of %s's view: %v", a, b, v)
							}
						}
					}
				}
				return true, ""
			})
		})
	}
}

// TestRefused covers the trust refusals: each side records why, on both
// sides, and the refused peer's data never reaches the mesh view.
func TestRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(ms *testMesh)
		// what 1_1 and 1_2 should say about each other
		want11, want12 string
		status12       string // 1_2's status for 1_1
	}{
		{
			name:   "no pin on the dialing side",
			setup:  func(ms *testMesh) { ms.pin("1_2", "1_1") },
			want11: "no trust established with 1_2 (presented SHA256:", want12: "1_1 refused our certificate", status12: state.Untrusted,
		},
		{
			name:   "no pin on the accepting side",
			setup:  func(ms *testMesh) { ms.pin("1_1", "1_2") },
			want11: "1_2 refused our certificate", want12: "no trust established with 1_1 (presented SHA256:", status12: state.Untrusted,
		},
		{
			name: "wrong key",
			setup: func(ms *testMesh) {
				// 1_1 pinned the real 1_2's key; what answers at 1_2's
				// address claims 1_2 with another key (an impostor).
				ms.pinAll()
				ms.nodes["1_1"].trust.pin(mustID("1_2"), newIdentity(ms.t, "1_2", time.Now()).Public())
			},
			want11: "does not match the trusted SHA256:", want12: "1_1 refused our certificate", status12: state.Untrusted,
		},
		{
			name: "blocked",
			setup: func(ms *testMesh) {
				ms.pinAll()
				ms.nodes["1_1"].trust.block(ms.nodes["1_2"].self.Load().Fingerprint())
			},
			want11: "is blocked", want12: "1_1 refused our certificate", status12: state.Untrusted,
		},
		{
			name: "expired",
			setup: func(ms *testMesh) {
				n := ms.nodes["1_2"]
				old := n.self.Load()
				n.self.Store(withCert(ms.t, old.ID, old.Key, identity.DefaultValidity, time.Now().Add(-identity.DefaultValidity-2*time.Hour)))
				ms.pinAll()
			},
			want11: "certificate expired 2h0m ago", want12: "1_1 refused our certificate", status12: state.Untrusted,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := newMesh(t, "1_1", "1_2")
			tc.setup(ms)
			ms.startAll()
			p := ms.waitStatus("1_1", "1_2", state.Untrusted, tc.want11, 5*time.Second)
			if tc.name == "wrong key" && !strings.Contains(p.Reason, "presented key "+ms.nodes["1_2"].self.Load().Fingerprint()) {
				t.Errorf("reason %q does not name the presented key", p.Reason)
			}
			ms.waitStatus("1_2", "1_1", tc.status12, tc.want12, 5*time.Second)
			if v, ok := ms.m("1_1").Mesh()["1_2"]; ok {
				t.Errorf("1_1 accepted a view from refused 1_2: %v", v)
			}
		})
	}
}

func TestStopRestart(t *testing.T) {
	t.Parallel()
	for _, stopped := range []string{"1_2", "1_1"} { // the accepting side, the dialing side
		t.Run("stop "+stopped, func(t *testing.T) {
			t.Parallel()
			ms := newMesh(t, "1_1", "1_2")
			ms.pinAll()
			ms.startAll()
			waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
			other := map[string]string{"1_1": "1_2", "1_2": "1_1"}[stopped]
			ms.stop(stopped)
			ms.waitStatus(other, stopped, state.Unreachable, "", testDeadAfter+500*time.Millisecond)
			ms.start(stopped)
			waitFor(t, 5*time.Second, "Authenticated again without admin action", ms.allAuthenticated)
		})
	}
}

// TestSilentDeath puts a proxy between two nodes and makes it swallow
// everything: only the heartbeats can tell.
func TestSilentDeath(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	px := newProxy(t, ms.nodes["1_2"].addr)
	ms.specOf = func(from, to *node) PeerSpec {
		s := PeerSpec{ID: mustID(to.name), Port: "internal", Addr: to.addr, Local: from.addr.Addr()}
		if to.name == "1_2" {
			s.Addr = px.addr
		}
		return s
	}
	ms.pinAll()
	ms.startAll()
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	px.freeze()
	start := time.Now()
	ms.waitStatus("1_1", "1_2", state.Unreachable, "no heartbeat from 1_2 for 800ms over internal sync", testDeadAfter+time.Second)
	if d := time.Since(start); d < testDeadAfter/2 {
		t.Errorf("declared dead after %s, before DeadAfter", d)
	}
	px.thaw()
	waitFor(t, 6*time.Second, "Authenticated after the link heals", ms.allAuthenticated)
}

func TestLinkState(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.pinAll()
	ms.startAll()
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	ms.m("1_1").LinkState("internal", false)
	// At once, not after polling.
	if p := peerOf(ms.m("1_1"), "1_2"); p.Status != state.Unreachable || p.Reason != "local internal sync link sync-int is down" {
		t.Fatalf("right after link down: %s %q", p.Status, p.Reason)
	}
	ms.waitStatus("1_2", "1_1", state.Unreachable, "", 2*time.Second)
	time.Sleep(3 * testHeartbeat) // no reconnection while down
	if p := peerOf(ms.m("1_1"), "1_2"); p.Status != state.Unreachable {
		t.Fatalf("reconnected while the link is down: %+v", p)
	}
	ms.m("1_1").LinkState("internal", true)
	waitFor(t, time.Second, "Authenticated right after link up", ms.allAuthenticated)
}

func TestStartLinksDown(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.pinAll()
	ms.start("1_2")
	n := ms.nodes["1_1"]
	cfg := ms.config(n)
	cfg.StartLinksDown = true
	n.m = New(cfg)
	ms.startWith("1_1", n.m)
	time.Sleep(5 * testHeartbeat)
	if p := peerOf(n.m, "1_2"); p.Status != state.Unknown {
		t.Fatalf("dialed before the link was reported up: %+v", p)
	}
	n.m.LinkState("internal", true)
	waitFor(t, 2*time.Second, "all Authenticated", ms.allAuthenticated)
}

func TestCertRenewal(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.pinAll()
	ms.startAll()
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	before := peerOf(ms.m("1_1"), "1_2")
	n := ms.nodes["1_2"]
	old := n.self.Load()
	renewed := withCert(t, old.ID, old.Key, 2*identity.DefaultValidity, time.Now())
	n.self.Store(renewed)
	waitFor(t, 3*time.Second, "1_1 sees the renewed certificate", func() (bool, string) {
		p := peerOf(ms.m("1_1"), "1_2")
		return p.CertNotAfter != nil && p.CertNotAfter.Equal(renewed.Cert.NotAfter), fmt.Sprint(p.CertNotAfter)
	})
	after := peerOf(ms.m("1_1"), "1_2")
	if after.Status != state.Authenticated || !after.Since.Equal(before.Since) {
		t.Errorf("renewal disturbed the session: before %+v after %+v", before, after)
	}
	// New handshakes present the renewed certificate.
	ms.stop("1_1")
	ms.start("1_1")
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	if p := peerOf(ms.m("1_1"), "1_2"); !p.CertNotAfter.Equal(renewed.Cert.NotAfter) {
		t.Errorf("after reconnecting: cert_not_after %v", p.CertNotAfter)
	}
}

// TestReconcile: a revoke closes the session at once with the reason;
// trusting again, from either side, takes effect without waiting for a
// retry timer.
func TestReconcile(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.pinAll()
	ms.startAll()
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)

	ms.nodes["1_2"].trust.unpin(mustID("1_1"))
	ms.m("1_2").Reconcile()
	if p := peerOf(ms.m("1_2"), "1_1"); p.Status != state.Untrusted || !strings.HasPrefix(p.Reason, "not trusted: no pin for 1_1 (revoked at ") {
		t.Fatalf("right after revoke: %s %q", p.Status, p.Reason)
	}
	ms.waitStatus("1_1", "1_2", state.Untrusted, "1_2 refused our certificate", 3*time.Second)
	// A later handshake still says it was revoked.
	time.Sleep(2 * backoffStart)
	if p := peerOf(ms.m("1_2"), "1_1"); !strings.Contains(p.Reason, "revoked at") {
		t.Errorf("reason lost the revocation: %q", p.Reason)
	}

	// The accepting side (1_2) trusts again: it dials 1_1 itself rather
	// than wait for 1_1's next attempt (up to refusedCap away).
	start := time.Now()
	ms.pin("1_2", "1_1")
	ms.m("1_2").Reconcile()
	waitFor(t, 2*time.Second, "Authenticated right after re-trust", ms.allAuthenticated)
	t.Logf("re-trusted in %s", time.Since(start))

	// Blocking the key of a live session ends it too.
	ms.nodes["1_1"].trust.block(ms.nodes["1_2"].self.Load().Fingerprint())
	ms.m("1_1").Reconcile()
	if p := peerOf(ms.m("1_1"), "1_2"); p.Status != state.Untrusted || !strings.HasSuffix(p.Reason, " is blocked") {
		t.Fatalf("right after block: %s %q", p.Status, p.Reason)
	}
	if _, ok := ms.m("1_1").Mesh()["1_2"]; ok {
		t.Error("the view of a peer no longer trusted is still shown")
	}
}

// TestRecords: a record reaches a peer that was down when it was issued,
// relayed by a third node after the issuer stopped, and is verified against
// the issuer's pin, not the relay's; forgeries are ignored without ending
// the session.
func TestRecords(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2", "1_3")
	ms.pinAll()
	got := map[string]chan records.Record{}
	ms.withRecords(func(name string) func(records.Record) {
		c := make(chan records.Record, 8)
		got[name] = c
		return func(r records.Record) {
			if _, err := ms.nodes[name].recs.Add(r); err != nil {
				t.Errorf("%s: keeping record: %v", name, err)
			}
			c <- r
		}
	})
	ms.start("1_1")
	ms.start("1_2")
	waitFor(t, 5*time.Second, "1_1 and 1_2 Authenticated", func() (bool, string) {
		p := peerOf(ms.m("1_1"), "1_2")
		return p.Status == state.Authenticated, p.Reason
	})

	// 1_1 revokes 1_3's key while 1_3 is down; 1_2 hears it.
	i11 := ms.nodes["1_1"].self.Load()
	rec, err := records.New(records.KindRevoke, i11.ID, i11.Key, mustID("1_3"), ms.nodes["1_3"].self.Load().Fingerprint(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ms.nodes["1_1"].recs.Add(rec); err != nil {
		t.Fatal(err)
	}
	if n := ms.m("1_1").Publish([]records.Record{rec}); n != 1 {
		t.Errorf("Publish reached %d sessions, want 1", n)
	}
	select {
	case r := <-got["1_2"]:
		if r.Key() != rec.Key() {
			t.Errorf("1_2 got %+v", r)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("1_2 did not receive the record")
	}

	// The issuer stops; 1_3 comes up and learns it from 1_2.
	ms.stop("1_1")
	ms.start("1_3")
	select {
	case r := <-got["1_3"]:
		if r.Key() != rec.Key() || r.Issuer != mustID("1_1") {
			t.Errorf("1_3 got %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("1_3 did not get the record relayed by 1_2")
	}

	// A record claiming 1_1 as issuer but signed by another key (1_2's
	// own, say) is refused even though 1_2 relays it.
	waitFor(t, 5*time.Second, "1_2 and 1_3 Authenticated", func() (bool, string) {
		p := peerOf(ms.m("1_3"), "1_2")
		return p.Status == state.Authenticated, p.Reason
	})
	i12 := ms.nodes["1_2"].self.Load()
	forged, _ := records.New(records.KindRemove, mustID("1_1"), i12.Key, mustID("1_3"), "", time.Now())
	frame, _ := appendFrame(nil, &wireRecords{Type: typeRecords, Records: []records.Record{forged}})
	if !ms.m("1_2").inject(mustID("1_3"), frame) {
		t.Fatal("no session to inject into")
	}
	log := ms.nodes["1_3"].log
	waitFor(t, 3*time.Second, "forgery logged", func() (bool, string) {
		return log.contains("ignoring a remove record of 1_1 about 1_3 relayed by 1_2: bad signature"), ""
	})
	select {
	case r := <-got["1_3"]:
		t.Errorf("forged record delivered: %+v", r)
	case <-time.After(3 * testHeartbeat):
	}
	if p := peerOf(ms.m("1_3"), "1_2"); p.Status != state.Authenticated {
		t.Errorf("session ended by an ignored record: %+v", p)
	}
}

// TestSetPeers: a member added while running is dialed at once; a removed
// one is disconnected and no longer listed. Settled follows along: every
// listed peer Authenticated, whichever way the list changed.
func TestSetPeers(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2", "1_3")
	ms.pinAll()
	full := ms.config(ms.nodes["1_1"]).Peers
	cfg := ms.config(ms.nodes["1_1"])
	cfg.Peers = full[:1] // 1_1 knows only 1_2
	ms.nodes["1_1"].m = New(cfg)
	ms.startWith("1_1", ms.nodes["1_1"].m)
	ms.start("1_2")
	ms.start("1_3")
	ms.waitStatus("1_1", "1_2", state.Authenticated, "", 5*time.Second)
	if p := peerOf(ms.m("1_1"), "1_3"); p.ID != "" {
		t.Fatalf("1_3 listed before it was added: %+v", p)
	}
	settled := func(want bool, when string) {
		t.Helper()
		if got := ms.m("1_1").Settled(); got != want {
			t.Errorf("%s: 1_1 Settled() = %v, want %v (peers %+v)", when, got, want, ms.m("1_1").Statuses())
		}
	}
	settled(true, "1_2 its only peer, Authenticated")
	ms.m("1_1").SetPeers(full)
	settled(false, "1_3 added, no session yet")
	ms.waitStatus("1_1", "1_3", state.Authenticated, "", 3*time.Second)
	ms.waitStatus("1_3", "1_1", state.Authenticated, "", 3*time.Second)
	settled(true, "both Authenticated")
	ms.m("1_1").SetPeers(full[1:])
	if p := peerOf(ms.m("1_1"), "1_2"); p.ID != "" {
		t.Fatalf("1_2 still listed after removal: %+v", p)
	}
	settled(true, "Authenticated 1_2 removed, 1_3 left")
	waitFor(t, 3*time.Second, "1_2 no longer Authenticated with 1_1", func() (bool, string) {
		p := peerOf(ms.m("1_2"), "1_1")
		return p.Status != state.Authenticated, p.Reason
	})
	ms.stop("1_3")
	ms.waitStatus("1_1", "1_3", state.Unreachable, "", 5*time.Second)
	settled(false, "1_3 stopped")
}

// TestGarbageClosesSession: a frame that does not decode ends the session
// and is logged; the peers reconnect.
func TestGarbageClosesSession(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.pinAll()
	ms.startAll()
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	ms.m("1_1").inject(mustID("1_2"), []byte("\x00\x00\x00\x02{}"))
	log := ms.nodes["1_2"].log
	waitFor(t, 2*time.Second, "garbage logged", func() (bool, string) {
		return log.contains("closed the session with 1_1: protocol error: frame has no type"), ""
	})
	waitFor(t, 5*time.Second, "all Authenticated again", ms.allAuthenticated)
}

// TestExpiryDuringSession: a peer whose certificate expires while its
// session runs (its renewal failed) stops being trusted.
func TestExpiryDuringSession(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	n := ms.nodes["1_2"]
	old := n.self.Load()
	n.self.Store(withCert(t, old.ID, old.Key, identity.DefaultValidity, time.Now().Add(-identity.DefaultValidity+2*time.Second)))
	ms.pinAll()
	ms.startAll()
	waitFor(t, 2*time.Second, "all Authenticated", ms.allAuthenticated)
	ms.waitStatus("1_1", "1_2", state.Untrusted, "certificate expired", 4*time.Second)
}

// TestWithTrustStore wires the real store the way the daemon does: its
// change hook reconciles the sessions.
func TestWithTrustStore(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.pinAll()
	dir := t.TempDir()
	st, err := truststore.Open(filepath.Join(dir, "trust.json"), filepath.Join(dir, "blocked"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPin(mustID("1_2"), ms.nodes["1_2"].self.Load().Public(), "test"); err != nil {
		t.Fatal(err)
	}
	ms.start("1_2")
	n := ms.nodes["1_1"]
	cfg := ms.config(n)
	cfg.Trust = st
	n.m = New(cfg)
	st.OnChange(n.m.Reconcile)
	ms.startWith("1_1", n.m)
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	if _, err := st.Revoke(mustID("1_2")); err != nil {
		t.Fatal(err)
	}
	if p := peerOf(n.m, "1_2"); p.Status != state.Untrusted || !strings.HasPrefix(p.Reason, "not trusted: no pin for 1_2 (revoked at ") {
		t.Fatalf("right after Revoke returned: %s %q", p.Status, p.Reason)
	}
}

// TestUntrustedProbe: the lower side, not trusting its peer, shows the key
// one handshake showed and then only checks reachability with a TCP
// connect, until untrustedRefresh has passed.
func TestUntrustedProbe(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.startAll()
	ms.waitStatus("1_1", "1_2", state.Untrusted, "no trust established with 1_2 (presented SHA256:", 5*time.Second)
	m1 := ms.m("1_1")
	p := m1.peers[mustID("1_2")]
	kick := func() {
		m1.mu.Lock()
		p.kickLoop(true)
		m1.mu.Unlock()
	}
	n0 := m1.testConnects.Load()
	for range 3 {
		kick()
		time.Sleep(100 * time.Millisecond)
	}
	if n := m1.testConnects.Load(); n != n0 {
		t.Errorf("%d TLS dials to a peer whose key was just shown, want 0", n-n0)
	}
	ms.waitStatus("1_1", "1_2", state.Untrusted, "no trust established with 1_2 (presented SHA256:", time.Second)

	ms.stop("1_2")
	kick()
	ms.waitStatus("1_1", "1_2", state.Unreachable, "no TCP connection to", 5*time.Second)
	ms.start("1_2")
	kick()
	ms.waitStatus("1_1", "1_2", state.Untrusted, "no trust established with 1_2 (presented SHA256:", 5*time.Second)

	m1.mu.Lock()
	p.keySeenAt = p.keySeenAt.Add(-untrustedRefresh)
	m1.mu.Unlock()
	n0 = m1.testConnects.Load()
	kick()
	waitFor(t, 5*time.Second, "a TLS dial once the key is old", func() (bool, string) {
		n := m1.testConnects.Load()
		return n > n0, fmt.Sprintf("%d dials", n-n0)
	})
}
