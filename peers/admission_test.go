package peers

import (
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/state"
)

// impostorHandshake dials to from the local address from, presenting a
// fresh certificate for claim, and reports whether the server answered the
// handshake at all (false: dropped before it).
func impostorHandshake(t *testing.T, from netip.Addr, to netip.AddrPort, claim *identity.Identity) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), Timeout: 2 * time.Second}
	raw, err := d.Dial("tcp", to.String())
	if err != nil {
		return false
	}
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{
		MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, NextProtos: []string{alpn},
		Certificates: []tls.Certificate{{Certificate: [][]byte{claim.Cert.Raw}, PrivateKey: claim.Key, Leaf: claim.Cert}},
	})
	tc.SetDeadline(time.Now().Add(3 * time.Second))
	return tc.Handshake() == nil
}

func TestAdmissionDropsNonMembersBeforeTLS(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.pinAll()
	ms.startAll()
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	n12 := ms.nodes["1_2"]
	stranger := n12.addr.Addr().As4()
	stranger[3] = 99
	fake := newIdentity(t, "1_1", time.Now())
	if impostorHandshake(t, netip.AddrFrom4(stranger), n12.addr, fake) {
		t.Error("a non-member address got a TLS handshake")
	}
	waitFor(t, 2*time.Second, "the drop logged", func() (bool, string) {
		return n12.log.contains("not a member's sync address"), ""
	})
	if ok, saw := ms.allAuthenticated(); !ok {
		t.Errorf("the mesh was disturbed: %s", saw)
	}
}

// An impostor flooding from a member's address (1_1's, claiming 1_1) gets
// only the per-source burst of handshakes; the real session is untouched.
func TestAdmissionRateLimitsAMemberAddress(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.pinAll()
	ms.startAll()
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	since := peerOf(ms.m("1_2"), "1_1").Since
	fake := newIdentity(t, "1_1", time.Now())
	from, to := ms.nodes["1_1"].addr.Addr(), ms.nodes["1_2"].addr
	var answered atomic.Int32
	var wg sync.WaitGroup
	start := time.Now()
	sem := make(chan struct{}, 16)
	const flood = 200
	for range flood {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if impostorHandshake(t, from, to, fake) {
				answered.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	limit := sourceBurst + int(elapsed.Seconds()*sourceRate) + 2
	if got := int(answered.Load()); got > limit || got == 0 {
		t.Errorf("%d of %d impostor handshakes were answered in %v, want 1 to %d", got, flood, elapsed, limit)
	}
	p := peerOf(ms.m("1_2"), "1_1")
	if p.Status != state.Authenticated || !p.Since.Equal(since) {
		t.Errorf("the real session was disturbed: %s since %v (was since %v): %s", p.Status, p.Since, since, p.Reason)
	}
	if p.PresentedFingerprint != "" {
		t.Errorf("an impostor's fingerprint %s shown while the session is up", p.PresentedFingerprint)
	}
	if !ms.nodes["1_2"].log.contains("too many connections from this address") {
		t.Error("the rate limit was not logged")
	}
}

func TestAdmissionBucket(t *testing.T) {
	var a admission
	src := netip.MustParseAddr("198.18.1.2")
	now := time.Unix(1000, 0)
	for i := range sourceBurst {
		if !a.take(src, now) {
			t.Fatalf("token %d of the burst refused", i)
		}
	}
	if a.take(src, now) {
		t.Fatal("took a token beyond the burst")
	}
	if !a.take(netip.MustParseAddr("198.18.1.3"), now) {
		t.Error("another source shares the bucket")
	}
	now = now.Add(time.Second)
	for i := range int(sourceRate) {
		if !a.take(src, now) {
			t.Fatalf("refill token %d refused", i)
		}
	}
	if a.take(src, now) {
		t.Error("refilled faster than sourceRate")
	}
}

// A refused handshake's key is shown as presented, never as the peer's
// fingerprint: that column holds only the pinned (verified) key.
func TestPresentedFingerprintIsApart(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.pinAll()
	other := newIdentity(t, "1_2", time.Now()).Public()
	ms.nodes["1_1"].trust.pin(mustID("1_2"), other)
	ms.startAll()
	p := ms.waitStatus("1_1", "1_2", state.Untrusted, "does not match", 5*time.Second)
	real := ms.nodes["1_2"].self.Load().Fingerprint()
	if p.Fingerprint != identity.Fingerprint(other) {
		t.Errorf("fingerprint %q, want the pinned %q", p.Fingerprint, identity.Fingerprint(other))
	}
	waitFor(t, 2*time.Second, "presented fingerprint", func() (bool, string) {
		p = peerOf(ms.m("1_1"), "1_2")
		return p.PresentedFingerprint == real, p.PresentedFingerprint
	})

	// Never pinned: no fingerprint at all, only the presented one.
	ms2 := newMesh(t, "1_1", "1_2")
	ms2.pin("1_2", "1_1")
	ms2.startAll()
	p = ms2.waitStatus("1_1", "1_2", state.Untrusted, "no trust established", 5*time.Second)
	if p.Fingerprint != "" || p.PresentedFingerprint != ms2.nodes["1_2"].self.Load().Fingerprint() {
		t.Errorf("never pinned: fingerprint %q presented %q", p.Fingerprint, p.PresentedFingerprint)
	}

	// Once trusted, the session's key is the fingerprint and nothing is
	// left as presented.
	ms2.pin("1_1", "1_2")
	ms2.m("1_1").Reconcile()
	waitFor(t, 5*time.Second, "all Authenticated", ms2.allAuthenticated)
	p = peerOf(ms2.m("1_1"), "1_2")
	if p.Fingerprint != ms2.nodes["1_2"].self.Load().Fingerprint() || p.PresentedFingerprint != "" {
		t.Errorf("after trust: fingerprint %q presented %q", p.Fingerprint, p.PresentedFingerprint)
	}
}
