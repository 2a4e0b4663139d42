package peers

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Admission of incoming sync connections (DESIGN §12). A TLS handshake
// costs the accepting side ~0.3 ms of CPU and the attacker next to nothing,
// so before any crypto:
//
//   - the source must be a member's sync address (the address we would
//     dial it at, from which it dials us: PeerSpec.Local binds it); anything
//     else is closed at once;
//   - each source address has a token bucket, sourceBurst deep, refilled at
//     sourceRate a second: far above what one member needs (one session,
//     reconnecting with backoff from 100 ms, plus the higher side's bare
//     TCP probes) and far below what costs the daemon anything;
//   - at most maxHandshakes run at once; a connection waits up to
//     handshakeWait for a slot, then is dropped (its dialer retries with
//     backoff).
//
// Sessions already up are never touched, so a flood from a member's address
// (an impostor that took it) cannot disturb the real session.
const (
	maxHandshakes = 32
	handshakeWait = 500 * time.Millisecond
	sourceBurst   = 20
	sourceRate    = 5.0 // tokens a second
)

// admission is the Manager's admission state; its zero value is ready.
type admission struct {
	once  sync.Once
	slots chan struct{}

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket // member sources only: bounded by the mesh
}

type bucket struct {
	tokens float64
	last   time.Time
}

// take spends a token of src's bucket, reporting false when it is empty.
func (a *admission) take(src netip.Addr, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.buckets == nil {
		a.buckets = map[netip.Addr]*bucket{}
	}
	b := a.buckets[src]
	if b == nil {
		b = &bucket{tokens: sourceBurst, last: now}
		a.buckets[src] = b
	}
	b.tokens = min(sourceBurst, b.tokens+now.Sub(b.last).Seconds()*sourceRate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (a *admission) sem() chan struct{} {
	a.once.Do(func() { a.slots = make(chan struct{}, maxHandshakes) })
	return a.slots
}

// admit decides whether an accepted connection may go on to the TLS
// handshake; a refused one is closed here. Refusals are logged at most
// once per source and reason every 30 s.
func (m *Manager) admit(c net.Conn) bool {
	src := remoteAddr(c)
	refuse := func(why string) bool {
		m.limiter.logf(m.logf, "admit:"+why+src.String(), "peers: dropped a sync connection from %s before the handshake: %s", src, why)
		c.Close()
		return false
	}
	if !m.isMemberAddr(src) {
		return refuse("not a member's sync address")
	}
	if !m.adm.take(src, m.now()) {
		return refuse("too many connections from this address")
	}
	return true
}

// handshakeSlot waits for one of maxHandshakes slots and returns its
// release, or nil when none came free within handshakeWait.
func (m *Manager) handshakeSlot(ctx context.Context, src netip.Addr) func() {
	sem := m.adm.sem()
	t := time.NewTimer(handshakeWait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-sem }) }
	case <-t.C:
		m.limiter.logf(m.logf, "admit:busy", "peers: dropped a sync connection from %s: %d handshakes already running", src, maxHandshakes)
	case <-ctx.Done():
	}
	return nil
}

// isMemberAddr reports whether a is the sync address of an expected peer.
func (m *Manager) isMemberAddr(a netip.Addr) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.order {
		if p.spec.Addr.Addr().Unmap() == a {
			return true
		}
	}
	return false
}

func remoteAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
