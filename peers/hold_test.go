package peers

import (
	"sync"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/state"
)

// TestHold: while a trust command holds the dials, a newly trusted peer is
// not dialed; Allow (it pins us) starts that dial at once, and Release the
// rest.
func TestHold(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2", "1_3")
	ms.startAll()
	// Before any pin every session is refused.
	ms.waitStatus("1_1", "1_2", state.Untrusted, "", 5*time.Second)
	ms.waitStatus("1_1", "1_3", state.Untrusted, "", 5*time.Second)

	// The targets 1_2 and 1_3 pin each other while 1_1 holds (it pins
	// them too): 1_1 is the lower side of both pairs, so only it dials.
	ms.pinAll()
	h := ms.m("1_1").Hold()
	ms.m("1_1").Reconcile()
	ms.m("1_2").Reconcile()
	ms.m("1_3").Reconcile()
	waitFor(t, 5*time.Second, "1_2 and 1_3 Authenticated", func() (bool, string) {
		p := peerOf(ms.m("1_2"), "1_3")
		return p.Status == state.Authenticated, p.Status
	})
	time.Sleep(3 * backoffStart)
	for _, b := range []string{"1_2", "1_3"} {
		if p := peerOf(ms.m("1_1"), b); p.Status == state.Authenticated {
			t.Fatalf("1_1 dialed %s while holding", b)
		}
	}
	start := time.Now()
	h.Allow([]identity.ID{mustID("1_2")})
	ms.waitStatus("1_1", "1_2", state.Authenticated, "", 2*time.Second)
	t.Logf("allowed dial: Authenticated after %s", time.Since(start))
	time.Sleep(3 * backoffStart)
	if p := peerOf(ms.m("1_1"), "1_3"); p.Status == state.Authenticated {
		t.Fatal("1_1 dialed 1_3, which it was not allowed to yet")
	}
	h.Release()
	h.Release() // a second Release is a no-op
	ms.waitStatus("1_1", "1_3", state.Authenticated, "", 2*time.Second)
	if ms.m("1_1").holds != 0 {
		t.Errorf("holds = %d after Release", ms.m("1_1").holds)
	}
}

// TestTrustStorm: newly trusting a peer makes a storm that lasts stormHold
// past its first session; a reconnect of a peer trusted before does not;
// a mesh smaller than stormMinPeers has none.
func TestTrustStorm(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2", "1_3")
	ms.startAll()
	ms.waitStatus("1_1", "1_2", state.Untrusted, "", 5*time.Second)
	for _, n := range []string{"1_1", "1_2"} {
		m := ms.m(n)
		m.mu.Lock()
		m.stormMinPeers = 2
		m.mu.Unlock()
	}
	before := time.Now()
	ms.pinAll()
	for _, n := range ms.order {
		ms.m(n).Reconcile()
	}
	// 1_3 kept the default: two peers are no storm.
	if until := ms.m("1_3").stormUntil.Load(); until != 0 {
		t.Errorf("1_3 (2 peers, fewer than %d): storm until %v after the trust, want none", stormMinPeers, time.Unix(0, until))
	}
	for _, n := range []string{"1_1", "1_2"} {
		if until := time.Unix(0, ms.m(n).stormUntil.Load()); until.Before(before.Add(stormHold)) || !ms.m(n).TrustStorm() {
			t.Errorf("%s: storm until %v right after the trust, want at least %v", n, until, before.Add(stormHold))
		}
	}
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	if until := ms.m("1_3").stormUntil.Load(); until != 0 {
		t.Errorf("1_3: its first sessions made a storm until %v, want none", time.Unix(0, until))
	}
	m := ms.m("1_1")
	m.mu.Lock()
	trustedAt := m.peers[mustID("1_2")].trustedAt
	m.mu.Unlock()
	if !trustedAt.IsZero() {
		t.Errorf("trustedAt %v still set after the first session", trustedAt)
	}

	// 1_2 restarts: its session with 1_1 is set up again, but nothing
	// was newly trusted.
	m.stormUntil.Store(0)
	ms.stop("1_2")
	ms.start("1_2")
	waitFor(t, 5*time.Second, "all Authenticated again", ms.allAuthenticated)
	if until := m.stormUntil.Load(); until != 0 || m.TrustStorm() {
		t.Errorf("a reconnect made a storm until %v", time.Unix(0, until))
	}
}

// TestOnStorm: the hook hears a storm's start and its end, once each.
func TestOnStorm(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	var mu sync.Mutex
	calls := map[string][]bool{}
	ms.configure = func(n *node, cfg *Config) {
		cfg.OnStorm = func(storm bool) {
			mu.Lock()
			calls[n.name] = append(calls[n.name], storm)
			mu.Unlock()
		}
	}
	ms.startAll()
	ms.waitStatus("1_1", "1_2", state.Untrusted, "", 5*time.Second)
	m := ms.m("1_1")
	m.mu.Lock()
	m.stormMinPeers = 1
	m.mu.Unlock()
	ms.pinAll()
	ms.m("1_1").Reconcile()
	ms.m("1_2").Reconcile()
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	waitFor(t, stormHold+2*time.Second, "1_1's storm over", func() (bool, string) { return !m.TrustStorm(), "storm on" })
	time.Sleep(3 * testHeartbeat) // a tick or two to notice
	mu.Lock()
	defer mu.Unlock()
	if got := calls["1_1"]; len(got) != 2 || !got[0] || got[1] {
		t.Errorf("1_1 (a storm): OnStorm calls %v, want [true false]", got)
	}
	if got := calls["1_2"]; len(got) != 0 {
		t.Errorf("1_2 (1 peer, no storm): OnStorm calls %v, want none", got)
	}
}
