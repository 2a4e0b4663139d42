package peers

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/records"
	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/truststore"
)

// Trust is what the sessions need of the trust store;
// *truststore.Store satisfies it.
type Trust interface {
	Pin(id identity.ID) (truststore.Pin, bool)
	Blocked(fp string) bool
}

// PeerSpec is one expected peer.
type PeerSpec struct {
	ID identity.ID
	// Port is the sync port role the peer is reached over: "internal" or
	// "external".
	Port string
	// Addr is the peer's sync address and port, which we dial.
	Addr netip.AddrPort
	// Local is our address on that port, bound when dialing so the session
	// leaves through the sync interface; invalid means any.
	Local netip.Addr
}

// Config configures a Manager.
type Config struct {
	// Self returns the current identity. Its certificate may be renewed
	// while running; Self must then return a new *Identity rather than
	// mutate the one it returned before (it is read concurrently).
	Self  func() *identity.Identity
	Trust Trust
	Peers []PeerSpec
	// Listen lists where sessions are accepted.
	Listen []netip.AddrPort
	// Heartbeat is the interval between one session's liveness
	// datagrams (default 250ms); the manager's tick runs twice per
	// interval, and sends TLS heartbeats where datagrams do not pass.
	Heartbeat time.Duration
	// DeadAfter closes a session that sent nothing for that long
	// (default 750ms, BFD's detect multiplier 3: a silently dead peer is
	// Unreachable within 0.9 s, and a sender may be held up ~400 ms — a
	// busy host's pause — before it looks dead).
	DeadAfter time.Duration
	Logf      func(format string, args ...any)
	// OnChange is called, from one goroutine and coalesced, after any
	// status, certificate or mesh view changed.
	OnChange func()
	// OnMeshChange, if set, is called instead of OnChange when only a
	// peer's view of the mesh changed: while a large mesh converges those
	// come by the thousand and need not be shown at once.
	OnMeshChange func()
	// Interfaces names the interface of each port role ("internal" →
	// "sync-int"), for reasons; optional.
	Interfaces map[string]string
	// Records holds the revocation records and removal notices to
	// exchange at session start (nil: none).
	Records Records
	// OnRecord is called with each record new to us that a peer sent and
	// that verified against its issuer's pin, after it was relayed to the
	// other sessions; the daemon keeps and applies it. It runs outside the
	// session goroutines and may block briefly.
	OnRecord func(records.Record)
	// OnStorm is called from the liveness tick when a trust storm
	// (TrustStorm) begins (true) and when it ends (false).
	OnStorm func(storm bool)
	// StartLinksDown treats every port as down until LinkState(port, true),
	// so a daemon whose sync interfaces do not exist stays silent on the
	// network (DESIGN §6).
	StartLinksDown bool
}

// Defaults.
const (
	DefaultHeartbeat = 250 * time.Millisecond
	DefaultDeadAfter = 750 * time.Millisecond

	dialTimeout = time.Second
	userTimeout = 10 * time.Second // unacknowledged data; no keepalive (loop.go)
	// maxParallel bounds our dials in flight. Sixteen per node put a
	// thousand handshakes in flight on a 64-node testbed, each slower than
	// its setup timeout; the host's throughput is the same with four, and
	// each finishes in time.
	maxParallel    = 4
	backoffStart   = 100 * time.Millisecond
	backoffCap     = 2 * time.Second
	refusedCap     = 30 * time.Second // see backoff in loop.go
	viewEvery      = 4                // heartbeats between piggybacked views
	sessionOutSize = 16
)

// Manager runs the sessions with every expected peer.
type Manager struct {
	cfg     Config
	self    identity.ID
	logf    func(string, ...any)
	now     func() time.Time
	dialSem chan struct{}
	notify  chan struct{}
	seen    seenSet
	meshNot chan struct{}
	limiter logLimiter
	adm     admission // incoming handshakes (admission.go)

	// testMuteUDP stops our liveness datagrams (a test's silent death).
	testMuteUDP atomic.Bool
	// testListenDelay holds back the listeners (a loaded host's start).
	testListenDelay time.Duration
	// testConnects counts TLS dials.
	testConnects atomic.Int32

	// udpSnap and tickSess are the sockets and the sessions for the
	// tick, which takes no lock.
	udpSnap  atomic.Pointer[udpList]
	tickSess atomic.Pointer[tickSessions]

	npeers atomic.Int32 // len(peers), for lock-free readers
	nauth  atomic.Int32 // peers Authenticated, for Settled

	// stormUntil (unix ns): judge silence as under strain until then
	// (tick.go, trustStormLocked).
	stormUntil atomic.Int64
	// stormMinPeers is the const of that name; tests lower it.
	stormMinPeers int

	// revokedBy is the last record received that revokes our current
	// key: the pins dropped after it are explained by it (noPinReason).
	revokedBy atomic.Pointer[records.Record]

	mu    sync.Mutex
	peers map[identity.ID]*peer
	// viewFrame is our view encoded once for every session, valid while
	// viewVer (bumped on every change) equals viewFrameVer.
	viewVer, viewFrameVer uint64
	viewFrame             []byte
	udpSocks              []*udpSock // copied on write
	order                 []*peer
	linkDown              map[string]bool
	holds                 int // Hold calls not released
	running               bool
	stopped               bool
	runCtx                context.Context // set by Run, for loops of peers added later
	runWG                 *sync.WaitGroup
}

// peer is the state of one expected peer. Fields are guarded by Manager.mu.
type peer struct {
	spec   PeerSpec
	dialer bool // our ID is lower: we open the session

	status, reason string
	since          time.Time
	fp             string // fingerprint of the last authenticated session, "" if none
	certNotAfter   *time.Time
	view           map[string]string // the peer's last reported view
	sess           *session

	pinned    bool      // a pin existed at the last look (New or Reconcile)
	revokedAt time.Time // when Reconcile saw the pin disappear
	// nudgeAt: higher side, dial from then on (zero: do not), until a
	// session or a refusal. Released from a Hold it is nudgeDelay later:
	// the lower side, released too, dials first (one session per pair).
	nudgeAt   time.Time
	held      bool      // trusted while dials were held (Hold)
	heldNewly bool      // ... and newly so
	allowed   bool      // not held: it trusts us (Hold.Allow)
	refusedIn time.Time // when we last refused its session (it backs off)
	trustedAt time.Time // newly trusted then, no session since (zero: none)
	fresh     bool      // reset the backoff (link up, newly trusted)
	kick      chan struct{}
	stop      context.CancelFunc // ends the peer's loop (removed from the mesh)

	// presented is the fingerprint a refused or failed handshake showed
	// since: unverified, so never shown as the peer's fingerprint.
	presented string
	keySeenAt time.Time // when a handshake last showed presented
}

// New prepares a Manager; nothing touches the network before Run.
func New(cfg Config) *Manager {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = DefaultDeadAfter
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	m := &Manager{
		cfg: cfg, logf: logf, now: time.Now,
		dialSem:  make(chan struct{}, maxParallel),
		notify:   make(chan struct{}, 1),
		meshNot:  make(chan struct{}, 1),
		peers:    map[identity.ID]*peer{},
		linkDown: map[string]bool{},

		stormMinPeers: stormMinPeers,
	}
	m.self = cfg.Self().ID
	for _, spec := range cfg.Peers {
		if m.addLocked(spec) != nil && cfg.StartLinksDown {
			m.linkDown[spec.Port] = true
		}
	}
	return m
}

// addLocked adds an expected peer (nil if it is us or known already).
// Callers hold m.mu or own m exclusively.
func (m *Manager) addLocked(spec PeerSpec) *peer {
	if spec.ID == m.self || m.peers[spec.ID] != nil {
		return nil
	}
	_, pinned := m.cfg.Trust.Pin(spec.ID)
	p := &peer{
		spec: spec, dialer: identity.Less(m.self, spec.ID),
		status: state.Unknown, reason: "no session yet", since: m.now(),
		pinned: pinned, kick: make(chan struct{}, 1),
	}
	m.peers[spec.ID] = p
	m.order = append(m.order, p)
	m.npeers.Store(int32(len(m.peers)))
	sort.Slice(m.order, func(i, j int) bool { return identity.Less(m.order[i].spec.ID, m.order[j].spec.ID) })
	return p
}

// SetPeers makes specs the expected peers while running (DESIGN §3
// membership: trust added a member, or a removal notice took one away).
// New peers get their session loop at once; peers no longer listed are
// disconnected and forgotten.
func (m *Manager) SetPeers(specs []PeerSpec) {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[identity.ID]bool{}
	for _, spec := range specs {
		want[spec.ID] = true
		if p := m.addLocked(spec); p != nil {
			m.logf("peers: %s joined the expected peers (%s sync, %s)", spec.ID, spec.Port, spec.Addr)
			m.startLoopLocked(p)
			m.changed()
		}
	}
	kept := m.order[:0]
	for _, p := range m.order {
		if want[p.spec.ID] {
			kept = append(kept, p)
			continue
		}
		m.logf("peers: %s is no longer a member; closing its session", p.spec.ID)
		if s := p.sess; s != nil {
			p.sess = nil
			m.publishSessionsLocked()
			s.close(nil, true)
		}
		if p.stop != nil {
			p.stop()
		}
		delete(m.peers, p.spec.ID)
		m.npeers.Store(int32(len(m.peers)))
		if p.status == state.Authenticated {
			m.nauth.Add(-1)
		}
		for _, q := range m.order {
			if q.sess != nil {
				q.sess.viewChanged()
			}
		}
		m.changed()
	}
	m.order = kept
}

// startLoopLocked runs p's session loop when the manager runs.
func (m *Manager) startLoopLocked(p *peer) {
	if !m.running || m.stopped || m.runCtx == nil {
		return
	}
	ctx, cancel := context.WithCancel(m.runCtx)
	p.stop = cancel
	m.runWG.Go(func() { m.loop(ctx, p) })
}

// Run serves until ctx is cancelled, then closes every session and returns
// nil. Listen addresses that cannot be bound yet are retried in the
// background (the sync address may appear later).
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running || m.stopped {
		m.mu.Unlock()
		return errors.New("peers: manager already ran")
	}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// runCtx stays nil until the listeners are up: no loop starts before.
	m.running, m.runWG = true, &wg
	m.recallSelfRevocationLocked()
	m.mu.Unlock()

	wg.Go(func() { m.notifier(ctx) })
	wg.Go(func() { m.ticker(ctx) })
	wg.Go(func() { m.expirer(ctx) })
	// Listen (and open the liveness sockets) before the first dial: a
	// session set up from an address without its socket has no datagrams.
	var tried sync.WaitGroup
	for _, a := range m.cfg.Listen {
		tried.Add(1)
		wg.Go(func() { m.listen(ctx, &wg, a, sync.OnceFunc(tried.Done)) })
	}
	tried.Wait()
	m.mu.Lock()
	m.runCtx = ctx
	for _, p := range m.order {
		m.startLoopLocked(p)
	}
	m.mu.Unlock()
	<-ctx.Done()

	m.mu.Lock()
	m.stopped = true
	for _, p := range m.order {
		if s := p.sess; s != nil {
			s.close(nil, true)
		}
	}
	m.mu.Unlock()
	wg.Wait()
	m.mu.Lock()
	for _, u := range m.udpSocks {
		u.close()
	}
	m.udpSocks = nil
	m.udpSnap.Store(nil)
	m.mu.Unlock()
	return nil
}

func (m *Manager) notifier(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.notify:
			if m.cfg.OnChange != nil {
				m.cfg.OnChange()
			}
		case <-m.meshNot:
			if m.cfg.OnMeshChange != nil {
				m.cfg.OnMeshChange()
			} else if m.cfg.OnChange != nil {
				m.cfg.OnChange()
			}
		}
	}
}

func (m *Manager) changed() {
	m.viewVer++ // callers hold m.mu; our view may have changed
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

func (m *Manager) meshChanged() {
	select {
	case m.meshNot <- struct{}{}:
	default:
	}
}

// Statuses returns every expected peer, ordered by ID.
func (m *Manager) Statuses() []state.Peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]state.Peer, 0, len(m.order))
	for _, p := range m.order {
		// Only verified keys in Fingerprint (an admin copies it into a
		// trust command): the pinned one, else the last one a session
		// authenticated. What a refused handshake showed is apart.
		fp := p.fp
		if pin, ok := m.cfg.Trust.Pin(p.spec.ID); ok {
			fp = pin.Fingerprint
		}
		sp := state.Peer{
			ID: p.spec.ID.String(), Status: p.status, Fingerprint: fp, Reason: p.reason,
			Since: p.since.UTC(), Port: p.spec.Port, Address: p.spec.Addr.Addr().String(),
		}
		if p.sess == nil && p.presented != fp {
			sp.PresentedFingerprint = p.presented
		}
		if p.certNotAfter != nil {
			t := p.certNotAfter.UTC()
			sp.CertNotAfter = &t
		}
		out = append(out, sp)
	}
	return out
}

// Mesh returns each peer's last reported view: peer ID → (other ID →
// status). A peer that never reported is absent. The views are shared,
// not copied (a state-file write with 63 peers copied 4,032 entries):
// a stored view is never modified, only replaced, and callers must not
// modify it either.
func (m *Manager) Mesh() map[string]map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]map[string]string, len(m.order))
	for _, p := range m.order {
		if p.view != nil {
			out[p.spec.ID.String()] = p.view
		}
	}
	return out
}

// setStatus records a status; Since moves only when the status changes.
// Callers hold m.mu.
func (m *Manager) setStatus(p *peer, status, reason string) {
	if p.status == status && p.reason == reason {
		return
	}
	if p.status != status {
		m.logf("peers: %s %s → %s: %s", p.spec.ID, p.status, status, reason)
		p.since = m.now()
		// Our view changed: every peer hears it now, not at the next
		// piggyback.
		for _, q := range m.order {
			if q.sess != nil {
				q.sess.viewChanged()
			}
		}
	}
	switch {
	case status == state.Authenticated && p.status != state.Authenticated:
		m.nauth.Add(1)
	case status != state.Authenticated && p.status == state.Authenticated:
		m.nauth.Add(-1)
	}
	p.status, p.reason = status, reason
	if status == state.Untrusted {
		// Whatever view it reported came from a key we no longer accept
		// for it (revoked, blocked, changed, expired): do not show it as
		// that orchestrator's view of the mesh.
		p.view = nil
	}
	m.changed()
}

// dropLocked closes p's session, if any, having recorded why.
func (m *Manager) dropLocked(p *peer, status, reason string) {
	if s := p.sess; s != nil {
		p.sess = nil
		m.publishSessionsLocked()
		s.close(nil, true)
		if !s.byLoop {
			p.kickLoop(false)
		}
	}
	m.setStatus(p, status, reason)
}

// setIfIdle records a status for a peer without a live session: a failed
// attempt (an impostor's, say) must not override a working session.
func (m *Manager) setIfIdle(p *peer, status, reason, fp string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.sess != nil {
		m.limiter.logf(m.logf, "idle:"+p.spec.ID.String(), "peers: %s: %s (a session is up; status unchanged)", p.spec.ID, reason)
		return
	}
	if fp != "" {
		p.keySeenAt = m.now()
		if fp != p.presented {
			p.presented = fp
			m.changed()
		}
	}
	m.setStatus(p, status, reason)
}

// viewLocked is our view of the mesh as sent to peers.
func (m *Manager) viewLocked() map[string]string {
	v := make(map[string]string, len(m.order))
	for _, p := range m.order {
		v[p.spec.ID.String()] = p.status
	}
	return v
}

func (p *peer) kickLoop(fresh bool) {
	if fresh {
		p.fresh = true
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (m *Manager) portName(port string) string {
	if ifc := m.cfg.Interfaces[port]; ifc != "" {
		return fmt.Sprintf("local %s sync link %s", port, ifc)
	}
	return fmt.Sprintf("local %s sync link", port)
}

// LinkState reports the local sync link of port going down or up (from
// syncport's netlink events). Down: every peer on that port is Unreachable
// at once and its session closed; up: reconnect immediately.
func (m *Manager) LinkState(port string, up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	wasDown := m.linkDown[port]
	m.linkDown[port] = !up
	for _, p := range m.order {
		if p.spec.Port != port {
			continue
		}
		switch {
		case !up:
			m.dropLocked(p, state.Unreachable, m.portName(port)+" is down")
		case wasDown:
			if p.status == state.Unreachable {
				m.setStatus(p, state.Unreachable, m.portName(port)+" is up again; reconnecting")
			}
			// The lower side may be deep in its backoff: do not wait for it.
			p.nudgeAt = time.Time{}
			if !p.dialer {
				p.nudgeAt = m.now()
			}
			p.kickLoop(true)
		}
	}
}

// Reconcile applies a trust-store change: sessions whose peer is no longer
// trusted (revoked, key replaced, blocked) are closed, and peers newly
// trusted are dialed now.
func (m *Manager) Reconcile() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for _, p := range m.order {
		pin, ok := m.cfg.Trust.Pin(p.spec.ID)
		if p.pinned && !ok {
			p.revokedAt = now
		}
		if ok {
			p.revokedAt = time.Time{}
		}
		newly := ok && !p.pinned
		p.pinned = ok
		if newly {
			p.trustedAt = now
			m.trustStormLocked(now)
			// Trusting again ends what a revocation of us explained.
			m.revokedBy.Store(nil)
		}
		if s := p.sess; s != nil {
			if reason := m.sessionTrust(p, pin, ok, s.peerKey); reason != "" {
				// What it reported was believed because it was trusted.
				p.view = nil
				m.dropLocked(p, state.Untrusted, reason)
			}
			continue
		}
		if ok && (newly || p.status == state.Untrusted) {
			if m.holds > 0 && !p.allowed {
				p.held, p.heldNewly = true, newly || p.heldNewly
				continue
			}
			m.startTrustedLocked(p, newly, now, 0)
		}
	}
}

// startTrustedLocked dials a newly trusted peer. A higher side dials too
// (after delay) when the lower one may be backing off from our refusal;
// otherwise both sides of every pair would handshake during a trust storm,
// and one of the two sessions be thrown away.
func (m *Manager) startTrustedLocked(p *peer, newly bool, now time.Time, delay time.Duration) {
	p.nudgeAt = time.Time{}
	if !p.dialer && (!newly || now.Sub(p.refusedIn) < 2*refusedCap) {
		p.nudgeAt = now.Add(delay)
	}
	p.kickLoop(true)
}

// Hold defers the dials that trust changes start, per peer until Allow
// names it, and for all at Release (holds nest). A trust command pins the
// whole mesh on every target, and a target dials a member only once that
// member holds its pin too: dialing it earlier only earns a refusal, after
// which the refused side waits for a nudge (bench/RESULTS.md, issue 16).
// Sessions that end meanwhile reconnect as usual; revocations apply at
// once.
type Hold struct {
	m    *Manager
	once sync.Once
}

// Hold starts holding; the caller must Release.
func (m *Manager) Hold() *Hold {
	m.mu.Lock()
	m.holds++
	m.mu.Unlock()
	return &Hold{m: m}
}

// Allow lets the held dials to ids start now (they trust us).
func (h *Hold) Allow(ids []identity.ID) {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.holds == 0 {
		return
	}
	now := m.now()
	for _, id := range ids {
		p := m.peers[id]
		if p == nil {
			continue
		}
		p.allowed = true
		m.unholdLocked(p, now)
	}
}

// Release ends the hold: every held dial starts.
func (h *Hold) Release() {
	h.once.Do(func() {
		m := h.m
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.holds--; m.holds > 0 {
			return
		}
		now := m.now()
		for _, p := range m.order {
			m.unholdLocked(p, now)
			p.allowed = false
		}
	})
}

func (m *Manager) unholdLocked(p *peer, now time.Time) {
	if !p.held {
		return
	}
	newly := p.heldNewly
	p.held, p.heldNewly = false, false
	if p.pinned && p.sess == nil {
		// The lower side was held too, most likely (a trust command's
		// targets are released together): give its dial the first move.
		m.startTrustedLocked(p, newly, now, nudgeDelay)
	}
}

// sessionTrust says why a session with key may not continue, "" if it may.
func (m *Manager) sessionTrust(p *peer, pin truststore.Pin, pinned bool, key ed25519.PublicKey) string {
	fp := identity.Fingerprint(key)
	switch {
	case m.cfg.Trust.Blocked(fp):
		return fmt.Sprintf("fingerprint %s is blocked", fp)
	case !pinned:
		return m.noPinReason(p, fp)
	case !pin.PublicKey.Equal(key):
		return fmt.Sprintf("presented key %s does not match the trusted %s", fp, pin.Fingerprint)
	}
	return ""
}

// revokedReason says that r revoked us, and what undoes it.
func (m *Manager) revokedReason(r *records.Record) string {
	return fmt.Sprintf("%s revoked this orchestrator's key at %s; a member's trust command trusts %s again",
		r.Issuer, r.IssuedAt.UTC().Format(time.RFC3339), m.self)
}

func (m *Manager) noPinReason(p *peer, presented string) string {
	if r := m.revokedBy.Load(); r != nil && (p.revokedAt.IsZero() || !p.revokedAt.Before(r.IssuedAt)) {
		// While we are revoked, no pin is expected: that is the reason.
		dropped := ""
		if !p.revokedAt.IsZero() {
			dropped = ", dropped at " + p.revokedAt.UTC().Format(time.RFC3339) + ","
		}
		return fmt.Sprintf("not trusted: no pin for %s%s because %s (presented %s)", p.spec.ID, dropped, m.revokedReason(r), presented)
	}
	if !p.revokedAt.IsZero() {
		return fmt.Sprintf("not trusted: no pin for %s (revoked at %s; presented %s)", p.spec.ID, p.revokedAt.UTC().Format(time.RFC3339), presented)
	}
	return fmt.Sprintf("no trust established with %s (presented %s)", p.spec.ID, presented)
}

// logLimiter keeps a repeating log line (a scanner, a refused peer
// retrying) to one per interval.
type logLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (l *logLimiter) logf(logf func(string, ...any), key, format string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if t, ok := l.last[key]; ok && now.Sub(t) < 30*time.Second {
		l.mu.Unlock()
		return
	}
	if len(l.last) > 1024 {
		clear(l.last)
	}
	l.last[key] = now
	l.mu.Unlock()
	logf(format, args...)
}

// isRemoteAlert reports whether err is a TLS alert sent by the peer: in TLS
// 1.3 a client learns that the server refused its certificate only on its
// first read after the handshake.
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
