package peers

import (
	"bytes"
	"context"
	"crypto/x509"
	"net/netip"
	"runtime"
	"time"
)

// setupTime bounds a TLS handshake and the hello exchange. It is longer
// than DeadAfter on purpose: during a trust storm on a loaded machine a
// handshake waits for CPU, and timing it out only makes another one.
const setupTime = 3 * time.Second

func (m *Manager) setupTimeout() time.Duration { return max(m.cfg.DeadAfter, setupTime) }

// silenceError ends a session whose peer said nothing for DeadAfter; it is
// a timeout, so ended() reports "no heartbeat".
type silenceError struct{}

func (silenceError) Error() string   { return "no heartbeat" }
func (silenceError) Timeout() bool   { return true }
func (silenceError) Temporary() bool { return true }

// ticker is the one timer of all sessions (DESIGN §7: the per-session
// timers and wakeups were most of the idle cost of a large mesh). Every
// Heartbeat it reads every queued liveness datagram, ends the sessions
// whose peer fell silent, sends each session's datagram, and hands the
// writers what is due: a TLS heartbeat only where datagrams do not reach
// the peer and the session sent nothing else, delayed views, renewed
// certificates.
//
// It runs on its own OS thread, prioritised when allowed and sleeping in the
// kernel, so that a machine saturated by other work delays it least.
func (m *Manager) ticker(ctx context.Context) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if !prioritiseThread() {
		m.logf("peers: liveness tick at normal priority (not permitted to raise it)")
	}
	buf := make([]byte, 512)
	var pkt []byte
	var sessions []*session
	last := time.Now()
	next := last
	var strainedUntil time.Time
	perSecond := max(1, int(time.Second/m.cfg.Heartbeat))
	for n := 1; ; n++ {
		next = next.Add(m.cfg.Heartbeat)
		sleepUntil(next)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		late := now.Sub(next)
		if late > m.cfg.Heartbeat {
			next = now // fell behind (stopped, starved): do not catch up in a burst
		}
		// A tick this late means this process did not run (stopped, or
		// starved of CPU): what it heard meanwhile is still queued, so
		// judge nobody on this tick.
		judge := now.Sub(last) < m.cfg.DeadAfter
		last = now
		// While our own tick runs late the machine is saturated (a trust
		// storm on a shared host): peers are likely late for the same
		// reason, and ending their sessions would only add handshakes.
		// Judge with strainedDeadAfter until we ran on time for a while.
		if late > m.cfg.DeadAfter/4 {
			strainedUntil = now.Add(strainWindow)
		}
		deadAfter := m.cfg.DeadAfter
		if now.Before(strainedUntil) {
			deadAfter = max(deadAfter, strainedDeadAfter)
		}
		m.drainUDP(buf, now)
		slow := n%perSecond == 0

		sessions = sessions[:0]
		m.mu.Lock()
		for _, p := range m.order {
			if p.sess != nil {
				sessions = append(sessions, p.sess)
			}
		}
		m.mu.Unlock()
		var cert *x509.Certificate
		if slow {
			if id := m.cfg.Self(); id != nil {
				cert = id.Cert
			}
		}
		for _, s := range sessions {
			if judge && now.Sub(time.Unix(0, s.lastHeard.Load())) > deadAfter {
				// Bytes waiting in the kernel mean it spoke and our reader
				// is late (a busy process) — unless the count stands still
				// (a reader stuck for good must not keep a session alive).
				if n := unreadInput(s.conn.NetConn()); n == 0 || n == s.unreadSeen {
					s.close(silenceError{}, false)
					continue
				} else {
					s.unreadSeen = n
				}
				s.lastHeard.Store(now.UnixNano())
			}
			if s.live != nil && !m.testMuteUDP.Load() {
				pkt = s.live.appendDatagram(pkt[:0])
				if err := s.udp.send(pkt, s.udpTo); err != nil {
					m.limiter.logf(m.logf, "udp:"+s.p.spec.ID.String(), "peers: liveness datagram to %s at %s: %v", s.p.spec.ID, s.udpTo, err)
				}
			}
			var w uint32
			if !s.udpOut.Load() && now.Sub(time.Unix(0, s.lastSent.Load())) >= m.cfg.Heartbeat/2 {
				w |= wantHeartbeat
			}
			if slow {
				if sc := s.sentCert.Load(); cert != nil && sc != nil && cert != sc && !bytes.Equal(cert.Raw, sc.Raw) {
					w |= wantCert
				}
				if now.Sub(time.Unix(0, s.lastView.Load())) >= viewRefresh {
					w |= wantView
				}
				if m.expire(s) {
					continue
				}
			}
			if w != 0 || s.pending.Load() != 0 {
				s.want(w)
			}
		}
	}
}

// Under strain (our own tick late) a peer is declared dead only after
// strainedDeadAfter, until our tick ran on time for strainWindow.
const (
	strainedDeadAfter = 3 * time.Second
	strainWindow      = 5 * time.Second
)

// viewRefresh repeats an unchanged view now and then: views are sent on
// every change, this only bounds how long a lost one could linger.
const viewRefresh = 30 * time.Second

// maxDrain bounds one socket's reads per tick (a flood must not stall the
// tick); a mesh's worth is 254 × a few.
const maxDrain = 4096

// drainUDP reads every queued liveness datagram: authentic, new ones are
// evidence of life for their session.
func (m *Manager) drainUDP(buf []byte, now time.Time) {
	m.mu.Lock()
	socks := m.udpSocks
	m.mu.Unlock()
	for _, u := range socks {
		for range maxDrain {
			n, ok, err := u.recv(buf)
			if err != nil {
				m.limiter.logf(m.logf, "udprecv", "peers: reading liveness datagrams on %s: %v", u.local, err)
			}
			if !ok {
				break
			}
			d, err := parseDatagram(buf[:n])
			if err != nil {
				continue
			}
			m.mu.Lock()
			s := m.liveTags[d.tag]
			m.mu.Unlock()
			if s == nil || !s.live.accept(d) {
				continue
			}
			s.lastHeard.Store(now.UnixNano())
			if !s.udpIn.Swap(true) {
				s.want(wantUDPOK)
			}
		}
	}
}

// udpFor returns the liveness socket that serves local, or nil.
func (m *Manager) udpFor(local netip.Addr) *udpSock {
	m.mu.Lock()
	defer m.mu.Unlock()
	var any *udpSock
	for _, u := range m.udpSocks {
		switch a := u.local.Addr(); {
		case a == local:
			return u
		case a.IsUnspecified():
			any = u
		}
	}
	return any
}

// openUDP binds the liveness socket next to a sync listener (same address
// and port number); without one, sessions there keep TLS heartbeats.
func (m *Manager) openUDP(a netip.AddrPort) {
	u, err := listenUDP(a)
	if err != nil {
		m.logf("peers: %v; sessions on %s keep TLS heartbeats", err, a)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Copy on write: drainUDP reads a snapshot without the lock. Run
	// closes the sockets once the tick has stopped.
	m.udpSocks = append(append([]*udpSock(nil), m.udpSocks...), u)
}
