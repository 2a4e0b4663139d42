package peers

import (
	"fmt"
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

// TestStorm: twelve sessions set up within three seconds make a storm,
// judged with strainedDeadAfter; fewer, or spread out, do not.
func TestStorm(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		n     int
		every time.Duration
		storm bool
	}{
		{1, 0, false},
		{stormSessions - 1, 10 * time.Millisecond, false},
		{stormSessions, 10 * time.Millisecond, true},
		{stormSessions, stormSpan / stormSessions, true},
		{3 * stormSessions, stormSpan / (stormSessions - 2), false},
		{64, 0, true},
	} {
		t.Run(fmt.Sprintf("%d every %s", tc.n, tc.every), func(t *testing.T) {
			m := &Manager{}
			at := t0
			for i := 0; i < tc.n; i++ {
				at = t0.Add(time.Duration(i) * tc.every)
				m.sessionStartedLocked(at)
			}
			until := time.Unix(0, m.stormUntil.Load())
			if got := until.After(at); got != tc.storm {
				t.Fatalf("storm = %v (until %v, last set-up %v), want %v", got, until, at, tc.storm)
			}
			if tc.storm && !until.Equal(at.Add(stormHold)) {
				t.Errorf("storm until %v, want %v", until, at.Add(stormHold))
			}
		})
	}
}
