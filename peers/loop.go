package peers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/orchd/orchd/acceptloop"
	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/state"
)

// backoff paces reconnection: exponential from backoffStart with ±20%
// jitter (so restarted meshes do not dial in lockstep), capped at
// backoffCap after network failures; refusedCap at once after a trust
// refusal — a refusal does not heal by itself, and Reconcile (on either
// side) dials at once when trust changes, so retries there only cost
// handshakes (~0.5 ms CPU each, DESIGN §7): O(N²) of them in a 64-node
// mesh while the pins of a trust command propagate.
type backoff struct{ next time.Duration }

func (b *backoff) reset() { b.next = 0 }

func (b *backoff) delay(limit time.Duration) time.Duration {
	if b.next == 0 {
		b.next = backoffStart
	} else {
		b.next = min(2*b.next, limit)
	}
	d := min(b.next, limit)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

type outcome int

const (
	outSession outcome = iota // a session ran a while (and ended): start over fast
	outNetwork                // no connection or a broken one
	outRefused                // a trust refusal, by us or by the peer
	outProbed                 // higher side: probe done, the peer dials us
)

// loop keeps the session with p: the lower side dials; the higher side
// waits for it, probing reachability meanwhile, and dials only when nudged.
func (m *Manager) loop(ctx context.Context, p *peer) {
	var bo backoff
	var wait time.Duration
	if !p.dialer {
		// Give the lower side the first move before probing it.
		wait = m.cfg.DeadAfter
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		kicked := false
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-p.kick:
			kicked = true
		}
		m.mu.Lock()
		down, live := m.linkDown[p.spec.Port], p.sess != nil || p.held
		refused := p.status == state.Untrusted
		// A key we hold revocations of is told so on every handshake
		// (revocationNotice): those dials stay handshakes.
		known := !p.pinned && p.presented != "" && m.now().Sub(p.keySeenAt) < untrustedRefresh &&
			m.revocationNotice(p.spec.ID, p.presented) == nil
		if p.fresh {
			bo.reset()
			p.fresh = false
		}
		nudge := !p.dialer && !p.nudgeAt.IsZero()
		var nudgeWait time.Duration
		if now := m.now(); nudge && !live && now.Before(p.nudgeAt) {
			nudgeWait = p.nudgeAt.Sub(now)
		} else {
			p.nudgeAt = time.Time{}
		}
		m.mu.Unlock()
		if down || live {
			timer.Stop() // wait for a kick: link up, the session ended, or Hold released
			continue
		}
		if nudgeWait > 0 {
			// The lower side was released too: give it the first move.
			timer.Reset(nudgeWait)
			continue
		}
		if kicked && !p.dialer && !nudge {
			// The session ended or the link came back: the lower side
			// redials within its backoff; probe only if it has not.
			timer.Reset(m.cfg.DeadAfter)
			continue
		}
		var out outcome
		began := time.Now()
		switch {
		case p.dialer && known:
			out = m.probeUntrusted(ctx, p)
		case p.dialer || nudge:
			out = m.connect(ctx, p)
		case refused:
			// We refused it, or it refused us: it is reachable, and
			// only a pin change (which kicks us) heals that. A probe
			// would tell nothing new.
			out = outRefused
		default:
			out = m.probe(ctx, p)
		}
		if ctx.Err() != nil {
			return
		}
		if nudge && (out == outNetwork || out == outSession && time.Since(began) < nudgeHold) {
			// Still our move: the lower side may be deep in its
			// refusal backoff. Seen in a 64-node trust storm: a nudge
			// timed out, or its session ended at once (the loaded peer
			// timed out its side of the setup), and the pair then
			// waited ~30 s.
			m.mu.Lock()
			if p.sess == nil {
				p.nudgeAt = m.now()
			}
			m.mu.Unlock()
		}
		var d time.Duration
		switch out {
		case outSession:
			bo.reset()
			d = bo.delay(backoffCap)
		case outRefused:
			// No ramp: a refusal heals only by a pin change, and then
			// the side whose pin changed dials at once (Reconcile).
			bo.next = refusedCap
			d = bo.delay(refusedCap)
		case outNetwork, outProbed:
			d = bo.delay(backoffCap)
		}
		timer.Reset(d)
	}
}

// nudgeHold is how long a nudged session must last for the nudge to have
// done its job.
const nudgeHold = 5 * time.Second

// nudgeDelay is how long a higher side released from Hold waits for its
// lower peer's own dial before dialing itself. In a 64-node trust storm the
// lower side's dials (maxParallel at once, on a loaded host) reach every
// peer within about a second.
const nudgeDelay = 2 * time.Second

func (m *Manager) acquire(ctx context.Context) bool {
	select {
	case m.dialSem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (m *Manager) release() { <-m.dialSem }

func listenConfig() net.ListenConfig {
	return net.ListenConfig{KeepAlive: noKeepAlive, Control: controlListen}
}

func (m *Manager) dialer(p *peer) *net.Dialer {
	d := &net.Dialer{
		Timeout:   dialTimeout,
		KeepAlive: noKeepAlive,
		Control:   controlDial,
	}
	if p.spec.Local.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.spec.Local, 0))
	}
	return d
}

// noKeepAlive (as KeepAlive) turns TCP keepalive off on sync sessions:
// liveness is the datagrams' and heartbeats' job (the tick ends a silent
// session within DeadAfter), and userTimeout (TCP_USER_TIMEOUT) still ends
// a connection whose data goes unacknowledged. Keepalive probes (5 s idle,
// 1 s apart) combined with the user timeout made the kernel end healthy
// idle sessions whose probe was not answered before the next one — on a
// busy 64-node host every few seconds ("timed out: connection timed out";
// bench/RESULTS.md).
const noKeepAlive = -1

func (m *Manager) dialFailure(p *peer, err error) {
	why := unwrapOp(err).Error()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		why = "no answer within " + fmtDur(dialTimeout)
	}
	m.setIfIdle(p, state.Unreachable, fmt.Sprintf("no TCP connection to %s over %s sync: %s", p.spec.Addr, p.spec.Port, why), "")
}

// connect dials p, verifies it and serves the session until it ends.
func (m *Manager) connect(ctx context.Context, p *peer) outcome {
	m.testConnects.Add(1)
	if !m.acquire(ctx) {
		return outNetwork
	}
	raw, err := m.dialer(p).DialContext(ctx, "tcp", p.spec.Addr.String())
	if err != nil {
		m.release()
		if ctx.Err() == nil {
			m.dialFailure(p, err)
		}
		return outNetwork
	}
	tuneConn(raw)
	hs := &handshake{dialed: p}
	tc := tls.Client(raw, m.clientTLS(hs))
	tc.SetDeadline(time.Now().Add(m.setupTimeout()))
	err = tc.HandshakeContext(ctx)
	m.release()
	if err != nil {
		tc.Close()
		return m.handshakeFailed(ctx, p, hs, err)
	}
	if hs.notice != nil {
		m.sendNotice(tc, hs)
		return outRefused
	}
	tc.SetDeadline(time.Time{})
	start := time.Now()
	attached, refused := m.runSession(ctx, hs, tc, identity.Less(m.self, p.spec.ID), true)
	switch {
	case attached && time.Since(start) >= m.cfg.DeadAfter:
		return outSession
	case attached:
		// A session that dies at once (a peer that keeps closing it)
		// must not turn the backoff into a hot loop of handshakes.
		return outNetwork
	case refused:
		return outRefused
	}
	return outNetwork
}

// handshakeFailed records a failed handshake with p (known or guessed).
func (m *Manager) handshakeFailed(ctx context.Context, p *peer, hs *handshake, err error) outcome {
	if ctx.Err() != nil {
		return outNetwork
	}
	if _, _, _, _, ourErr := hs.result(); ourErr != nil {
		return outRefused // verify recorded why
	}
	if p == nil {
		return outNetwork
	}
	if isRemoteAlert(err) {
		m.setIfIdle(p, state.Untrusted, m.refusedReason(p, err), "")
		return outRefused
	}
	m.setIfIdle(p, state.Unreachable, fmt.Sprintf("TLS handshake with %s at %s over %s sync failed: %v", p.spec.ID, p.spec.Addr, p.spec.Port, unwrapOp(err)), "")
	return outNetwork
}

// refusedReason is p's status when p refused our certificate (err). When
// we revoked p ourselves, that is the reason to show: the revoked one,
// told by the record, refuses us in turn, and "refused our certificate"
// would hide the revoke on the issuer's screen.
func (m *Manager) refusedReason(p *peer, err error) string {
	why := fmt.Sprintf("%s refused our certificate (%v); its own status says why", p.spec.ID, unwrapOp(err))
	if _, pinned := m.cfg.Trust.Pin(p.spec.ID); pinned {
		return why
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.revokedAt.IsZero() {
		return why
	}
	fp := p.presented
	if fp == "" {
		fp = p.fp
	}
	return m.noPinReason(p, fp)
}

// probe tells the higher side whether the lower one can be reached at all,
// with a bare TCP connect: no handshake, so it costs next to nothing.
func (m *Manager) probe(ctx context.Context, p *peer) outcome {
	if !m.reach(ctx, p) {
		return outProbed
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.sess == nil && p.status != state.Untrusted {
		m.setStatus(p, state.Unknown, fmt.Sprintf("reachable at %s over %s sync; waiting for %s to open the session (the lower ID dials)", p.spec.Addr, p.spec.Port, p.spec.ID))
	}
	return outProbed
}

// reach says whether a bare TCP connect to p succeeds; a failure is p's
// status (Unreachable).
func (m *Manager) reach(ctx context.Context, p *peer) bool {
	if !m.acquire(ctx) {
		return false
	}
	raw, err := m.dialer(p).DialContext(ctx, "tcp", p.spec.Addr.String())
	m.release()
	if err != nil {
		if ctx.Err() == nil {
			m.dialFailure(p, err)
		}
		return false
	}
	raw.Close()
	return true
}

// untrustedRefresh is how long the key a peer we do not trust presented is
// shown without a handshake to look again. Our own pin change kicks the
// dial at once; until then a handshake only refreshes the displayed
// fingerprint, and on a 64-node testbed before its trust those handshakes
// (every 30 s per pair) cost more than the trusted mesh's liveness.
const untrustedRefresh = 5 * time.Minute

// probeUntrusted is the lower side's look at a peer we do not trust and
// whose key a handshake showed lately: a bare TCP connect says whether it
// is still reachable (Untrusted) or not (Unreachable).
func (m *Manager) probeUntrusted(ctx context.Context, p *peer) outcome {
	if !m.reach(ctx, p) {
		return outNetwork
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.sess == nil && p.status != state.Untrusted {
		m.setStatus(p, state.Untrusted, m.noPinReason(p, p.presented))
	}
	return outRefused
}

// listen accepts sessions on a until ctx ends, retrying the bind while the
// address is not there yet.
// tried is called once, after the first attempt (and the liveness socket
// when it succeeded): a session dialed from a before its socket was open
// would run on TLS heartbeats for its whole life.
func (m *Manager) listen(ctx context.Context, wg *sync.WaitGroup, a netip.AddrPort, tried func()) {
	lc := listenConfig()
	var bo backoff
	time.Sleep(m.testListenDelay)
	for {
		ln, err := lc.Listen(ctx, "tcp", a.String())
		if err == nil {
			m.logf("peers: listening on %s", a)
			m.openUDP(netip.AddrPortFrom(a.Addr(), uint16(ln.Addr().(*net.TCPAddr).Port)))
			tried()
			m.accept(ctx, wg, ln)
			return
		}
		tried()
		m.limiter.logf(m.logf, "listen:"+a.String(), "peers: cannot listen on %s (retrying): %v", a, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(bo.delay(backoffCap)):
		}
	}
}

func (m *Manager) accept(ctx context.Context, wg *sync.WaitGroup, ln net.Listener) {
	acceptloop.Run(ctx, ln, func(f string, args ...any) { m.logf("peers: "+f, args...) }, func(c net.Conn) {
		if !m.admit(c) {
			return
		}
		wg.Go(func() { m.serve(ctx, c) })
	})
}

// serve handles one incoming connection.
func (m *Manager) serve(ctx context.Context, raw net.Conn) {
	release := m.handshakeSlot(ctx, remoteAddr(raw))
	if release == nil {
		raw.Close()
		return
	}
	tuneConn(raw)
	hs := &handshake{}
	tc := tls.Server(raw, m.serverTLS(hs))
	tc.SetDeadline(time.Now().Add(m.setupTimeout()))
	err := tc.HandshakeContext(ctx)
	release()
	if err != nil {
		tc.Close()
		// A client that refuses our certificate sends no certificate of
		// its own: attribute the refusal by source address.
		if p, _, _, _, _ := hs.result(); p == nil && isRemoteAlert(err) {
			if p := m.peerByAddr(raw.RemoteAddr()); p != nil {
				m.handshakeFailed(ctx, p, hs, err)
				return
			}
		}
		if p, _, _, _, ourErr := hs.result(); p != nil && ourErr == nil {
			m.handshakeFailed(ctx, p, hs, err)
		}
		return
	}
	if hs.notice != nil {
		m.sendNotice(tc, hs)
		return
	}
	tc.SetDeadline(time.Time{})
	p, _, _, _, _ := hs.result()
	m.runSession(ctx, hs, tc, identity.Less(p.spec.ID, m.self), false)
}

func (m *Manager) peerByAddr(a net.Addr) *peer {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return nil
	}
	ip := ta.AddrPort().Addr().Unmap()
	var found *peer
	for _, p := range m.order {
		if p.spec.Addr.Addr().Unmap() == ip {
			if found != nil {
				return nil // ambiguous
			}
			found = p
		}
	}
	return found
}

func tuneConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		// Go sets it by default; say so, since delayed ACKs cost 40 ms
		// stalls (DESIGN §7).
		tc.SetNoDelay(true)
		setUserTimeout(tc)
	}
}
