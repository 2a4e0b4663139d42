package peers

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/state"
)

// livePair returns the two ends' keys, as deriveLiveKeys would make them
// from one exporter secret.
func livePair() (lower, higher *liveKeys) {
	lo, hi := bytes.Repeat([]byte{1}, liveKeyLen), bytes.Repeat([]byte{2}, liveKeyLen)
	tag := liveTag{9, 8, 7, 6, 5, 4, 3, 2}
	lower = &liveKeys{tag: tag, send: hmac.New(sha256.New, lo), recv: hmac.New(sha256.New, hi)}
	higher = &liveKeys{tag: tag, send: hmac.New(sha256.New, hi), recv: hmac.New(sha256.New, lo)}
	return lower, higher
}

func TestLiveDatagram(t *testing.T) {
	lower, higher := livePair()
	first := lower.appendDatagram(nil, false)
	if len(first) != livePktLen {
		t.Fatalf("datagram of %d bytes, want %d", len(first), livePktLen)
	}
	second := lower.appendDatagram(nil, false)
	flipped := bytes.Clone(second)
	flipped[len(liveMagic)+liveTagLen+7] ^= 1 // the counter
	badMAC := bytes.Clone(second)
	badMAC[len(badMAC)-1] ^= 1
	own := higher.appendDatagram(nil, false)
	slow := lower.appendDatagram(nil, true)
	unflagged := bytes.Clone(slow)
	unflagged[len(liveMagic)+liveTagLen] &^= 0x80 // the slow flag
	fast := lower.appendDatagram(nil, false)
	for _, tc := range []struct {
		name     string
		b        []byte
		want     bool
		wantSlow bool // the peer's slow flag after it
	}{
		{"first", first, true, false},
		{"replayed", first, false, false},
		{"counter altered", flipped, false, false},
		{"MAC altered", badMAC, false, false},
		{"second", second, true, false},
		{"older after newer", first, false, false},
		{"our own, reflected", own, false, false},
		{"slow flag cleared", unflagged, false, false},
		{"slow", slow, true, true},
		{"slow, replayed", slow, false, true},
		{"fast again", fast, true, false},
	} {
		d, err := parseDatagram(tc.b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := higher.accept(d); got != tc.want {
			t.Errorf("%s: accepted %v, want %v", tc.name, got, tc.want)
		}
		if higher.peerSlow != tc.wantSlow {
			t.Errorf("%s: peer slow %v, want %v", tc.name, higher.peerSlow, tc.wantSlow)
		}
	}
	for _, b := range [][]byte{nil, first[:livePktLen-1], append(bytes.Clone(first), 0), append([]byte("XLV1"), first[4:]...)} {
		if _, err := parseDatagram(b); err == nil {
			t.Errorf("parsed %q", b)
		}
	}
}

func FuzzParseDatagram(f *testing.F) {
	lower, _ := livePair()
	f.Add(lower.appendDatagram(nil, false))
	f.Add(lower.appendDatagram(nil, true))
	f.Add([]byte(liveMagic))
	f.Add(make([]byte, livePktLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, higher := livePair()
		d, err := parseDatagram(b)
		if err != nil {
			return
		}
		if len(d.signed)+len(d.mac) != livePktLen {
			t.Fatalf("parsed %d+%d bytes", len(d.signed), len(d.mac))
		}
		// Nothing but the lower side's key makes an authentic datagram.
		if higher.accept(d) {
			lower, _ := livePair()
			lower.sendCtr = d.counter - 1
			if !bytes.Equal(lower.appendDatagram(nil, d.slow), b) {
				t.Fatalf("accepted a datagram the key did not make: %x", b)
			}
		}
	})
}

// datagramPair trusts and starts 1_1 and 1_2 and waits until each sends
// the other datagrams; it returns a's session with b.
func (ms *testMesh) datagramPair() func(a, b string) *session {
	ms.t.Helper()
	ms.pinAll()
	ms.startAll()
	waitFor(ms.t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	sess := func(a, b string) *session {
		m := ms.m(a)
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.peers[mustID(b)].sess
	}
	waitFor(ms.t, 3*time.Second, "datagrams in both directions", func() (bool, string) {
		s1, s2 := sess("1_1", "1_2"), sess("1_2", "1_1")
		return s1 != nil && s2 != nil && s1.udpOut.Load() && s2.udpOut.Load(), "a session still sends TLS heartbeats"
	})
	return sess
}

// TestLivenessDatagrams: on a direct path the sessions switch to
// datagrams (no TLS heartbeats), and a peer whose datagrams stop is
// Unreachable within DeadAfter, while its TCP session is still open.
func TestLivenessDatagrams(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	sess := ms.datagramPair()
	// Events (a delayed view, records) may still be written; heartbeats
	// every testHeartbeat may not: the TLS session must fall quiet.
	s := sess("1_1", "1_2")
	waitFor(t, 4*time.Second, "the TLS session quiet for 5 heartbeats", func() (bool, string) {
		sent := s.lastSent.Load()
		time.Sleep(5 * testHeartbeat)
		return s.lastSent.Load() == sent, "1_1 still writes to 1_2's TLS session with datagrams flowing"
	})
	if p := peerOf(ms.m("1_1"), "1_2"); p.Status != state.Authenticated {
		t.Fatalf("1_2 is %s on datagrams alone: %s", p.Status, p.Reason)
	}

	ms.m("1_2").testMuteUDP.Store(true)
	start := time.Now()
	ms.waitStatus("1_1", "1_2", state.Unreachable, "no heartbeat from 1_2 for 800ms over internal sync", testDeadAfter+time.Second)
	if d := time.Since(start); d < testDeadAfter/2 {
		t.Errorf("declared dead after %s, before DeadAfter", d)
	}
	// The next session starts on TLS heartbeats, which 1_2 still sends.
	waitFor(t, 6*time.Second, "Authenticated again", ms.allAuthenticated)
}

// TestEarlyRefusal: once a full handshake showed what an unpinned peer
// presents, its next attempts are refused at the ClientHello.
func TestEarlyRefusal(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.pin("1_1", "1_2") // 1_2 does not trust 1_1
	ms.startAll()
	ms.waitStatus("1_2", "1_1", state.Untrusted, "no trust established with 1_1 (presented SHA256:", 5*time.Second)
	m2 := ms.m("1_2")
	for _, tc := range []struct {
		name string
		sni  string
		want error
	}{
		{"unpinned peer that trusts us", sniName(mustID("1_1"), true), errEarlyRefusal},
		{"unpinned peer that does not", sniName(mustID("1_1"), false), errEarlyRefusal},
		{"no name", "", nil},
		{"not an orchestrator", "example.com", nil},
		{"unexpected ID", sniName(mustID("9_9"), true), nil},
	} {
		if _, err := m2.earlyRefusal(&tls.ClientHelloInfo{ServerName: tc.sni}); err != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A real client is refused before the server's certificate.
	m1 := ms.m("1_1")
	p := m1.peers[mustID("1_2")]
	// From 1_1's address: admission drops strangers before TLS.
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ms.nodes["1_1"].addr.Addr().AsSlice()}}
	c, err := tls.DialWithDialer(d, "tcp", ms.nodes["1_2"].addr.String(), m1.clientTLS(&handshake{dialed: p}))
	if err == nil {
		c.Close()
		t.Fatal("handshake of an unpinned peer succeeded")
	}
	if !strings.Contains(err.Error(), "internal error") {
		t.Errorf("refusal: %v, want an internal_error alert at the ClientHello", err)
	}
	// Once trusted, it is not refused any more.
	ms.pin("1_2", "1_1")
	if _, err := m2.earlyRefusal(&tls.ClientHelloInfo{ServerName: sniName(mustID("1_1"), true)}); err != nil {
		t.Errorf("pinned peer refused early: %v", err)
	}
}

// TestEarlyRefusalNudge: only a refused client that trusts us is waiting
// for us to dial once we trust it; one that did not trust us either dials
// by itself when it does, and a dial of ours would be a second session.
func TestEarlyRefusalNudge(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pinsServer bool
		nudge      bool
	}{
		{"client trusted us", true, true},
		{"client did not trust us", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := newMesh(t, "1_1", "1_2")
			m2 := ms.start("1_2") // 1_1 stays down: no other handshakes
			p := m2.peers[mustID("1_1")]
			m2.mu.Lock()
			p.presented = "SHA256:seen-before" // a full handshake showed its key
			m2.mu.Unlock()
			if _, err := m2.earlyRefusal(&tls.ClientHelloInfo{ServerName: sniName(mustID("1_1"), tc.pinsServer)}); err != errEarlyRefusal {
				t.Fatalf("early refusal: %v", err)
			}
			// What Reconcile does for a newly trusted peer, with the dial
			// far enough out that the loop does not take it meanwhile.
			m2.mu.Lock()
			m2.startTrustedLocked(p, true, m2.now(), time.Hour)
			nudge := !p.nudgeAt.IsZero()
			m2.mu.Unlock()
			if nudge != tc.nudge {
				t.Errorf("higher side dials after trusting: %v, want %v", nudge, tc.nudge)
			}
		})
	}
}

func TestSNIName(t *testing.T) {
	for _, s := range []string{"1_1", "254_254", "12_3"} {
		id := mustID(s)
		for _, pins := range []bool{true, false} {
			if got, gotPins, ok := sniID(sniName(id, pins)); !ok || got != id || gotPins != pins {
				t.Errorf("%s pins=%v: %q → %v %v %v", s, pins, sniName(id, pins), got, gotPins, ok)
			}
		}
	}
	for _, s := range []string{"", "o", "u", "1-1", "ox-1", "o1-1-1", "o0-1", "x1-1", "U1-1"} {
		if id, _, ok := sniID(s); ok {
			t.Errorf("%q parsed as %v", s, id)
		}
	}
}

func FuzzSNIName(f *testing.F) {
	for _, s := range []string{"o1-2", "u1-2", "o254-254", "", "o-", "o1_2", "u"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if id, pins, ok := sniID(s); ok && sniName(id, pins) != s {
			t.Fatalf("%q parsed as %v (pins %v), which names itself %q", s, id, pins, sniName(id, pins))
		}
	})
}

// Each tick makes and checks a datagram per session: garbage there made an
// idle 64-node daemon collect every few seconds, and a GC cycle can stall
// the tick on a busy host.
func TestDatagramNoAllocs(t *testing.T) {
	lower, higher := livePair()
	buf := make([]byte, 0, livePktLen)
	allocs := testing.AllocsPerRun(100, func() {
		b := lower.appendDatagram(buf[:0], false)
		d, err := parseDatagram(b)
		if err != nil || !higher.accept(d) {
			t.Fatal("datagram refused")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per datagram made and checked, want 0", allocs)
	}
}

// TestVerdictAtDeadline: a peer silent for DeadAfter is judged then, not
// at the next tick. With a 1 s tick, judging at ticks ends the session
// 3 s after the last datagram was read (the first tick past 2.1 s);
// judging at the deadline ends it 2.1 s after that datagram arrived. The
// 700 ms between them leave room for a loaded test machine.
func TestVerdictAtDeadline(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.hb, ms.dead = 2*time.Second, 2100*time.Millisecond
	ms.pinAll()
	ms.startAll()
	waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
	sess := func() *session {
		m := ms.m("1_1")
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.peers[mustID("1_2")].sess
	}
	waitFor(t, 5*time.Second, "1_2's datagrams reach 1_1", func() (bool, string) {
		s := sess()
		return s != nil && s.udpIn.Load(), "no datagram yet"
	})
	s := sess()
	// Mute 1_2 just after 1_1 heard a datagram: its next one is due a
	// heartbeat (2 s) later.
	h := s.lastHeard.Load()
	for s.lastHeard.Load() == h {
		time.Sleep(time.Millisecond)
	}
	ms.m("1_2").testMuteUDP.Store(true)
	ms.waitStatus("1_1", "1_2", state.Unreachable, "no heartbeat from 1_2", 5*time.Second)
	// From the last thing 1_1 heard, which may be a TLS frame 1_2 sent
	// after the mute (a deferred view): measured from the mute, a loaded
	// make test once saw 3.09 s.
	d := time.Since(time.Unix(0, s.lastHeard.Load()))
	if d < ms.dead || d > ms.dead+700*time.Millisecond {
		t.Errorf("1_2 judged dead %s after its last datagram, want %s to %s", d, ms.dead, ms.dead+700*time.Millisecond)
	}
}

// The first session of a starting daemon has liveness datagrams: the
// listeners, with their sockets, are up before the first dial (a session
// dialed before its socket was open ran on TLS heartbeats for its life).
func TestFirstSessionHasDatagrams(t *testing.T) {
	t.Parallel()
	for i := range 3 {
		ms := newMesh(t, "1_1", "1_2")
		ms.pinAll()
		ms.start("1_2")
		// The lower ID dials at once; its listener is slow to start.
		n := ms.nodes["1_1"]
		n.m = New(ms.config(n))
		n.m.testListenDelay = 200 * time.Millisecond
		ms.startWith("1_1", n.m)
		waitFor(t, 5*time.Second, "all Authenticated", ms.allAuthenticated)
		for _, a := range []string{"1_1", "1_2"} {
			m := ms.m(a)
			m.mu.Lock()
			var live bool
			for _, p := range m.peers {
				live = p.sess != nil && p.sess.live != nil
			}
			m.mu.Unlock()
			if !live {
				t.Fatalf("start %d: %s's first session has no liveness datagrams", i, a)
			}
		}
		ms.stop("1_1")
		ms.stop("1_2")
	}
}

// TestSlowLivenessInStorm: in a trust storm a node sends its datagrams
// every slowInterval, flagged, and a peer whose own storm is over judges
// it with strainedDeadAfter while the flag lasts (no false death); once
// the storm ends, the datagrams are fast again and a silence is judged at
// DeadAfter.
func TestSlowLivenessInStorm(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	sess := ms.datagramPair()
	m1, m2 := ms.m("1_1"), ms.m("1_2")
	m1.stormUntil.Store(0)
	m2.stormUntil.Store(time.Now().Add(time.Hour).UnixNano())
	s := sess("1_1", "1_2")
	// What 1_1 hears of 1_2: gaps of about slowInterval, longer than
	// DeadAfter, and 1_2 stays Authenticated.
	var maxGap time.Duration
	last, lastAt := s.lastHeard.Load(), time.Now()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if h := s.lastHeard.Load(); h != last {
			last, lastAt = h, time.Now()
		} else if g := time.Since(lastAt); g > maxGap {
			maxGap = g
		}
	}
	if maxGap < testDeadAfter {
		t.Errorf("longest silence of 1_2 in its storm %s, want about %s (slow datagrams)", maxGap, slowInterval)
	}
	if p := peerOf(m1, "1_2"); p.Status != state.Authenticated || sess("1_1", "1_2") != s {
		t.Fatalf("1_2's slow datagrams ended its session: %s: %s", p.Status, p.Reason)
	}
	// The storm ends: fast datagrams, then a silence is judged at DeadAfter.
	m2.stormUntil.Store(0)
	time.Sleep(3 * testHeartbeat)
	m2.testMuteUDP.Store(true)
	start := time.Now()
	ms.waitStatus("1_1", "1_2", state.Unreachable, "no heartbeat from 1_2 for 800ms", testDeadAfter+time.Second)
	if d := time.Since(start); d > testDeadAfter+testHeartbeat*5 {
		t.Errorf("silence judged after %s, want about %s once the storm is over", d, testDeadAfter)
	}
}
