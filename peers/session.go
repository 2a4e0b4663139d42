package peers

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/state"
)

// session is one authenticated TLS connection with a peer.
type session struct {
	m             *Manager
	p             *peer
	conn          *tls.Conn
	hs            *handshake
	dialedByLower bool
	byLoop        bool // run by the peer's own loop, which needs no kick when it ends
	peerKey       ed25519.PublicKey
	records       bool // the peer speaks the record exchange (version 2)

	out       chan outFrame // encoded frames (revocation notices)
	viewDirty chan struct{} // our view changed
	poke      chan struct{} // the tick left work in pending
	pending   atomic.Uint32 // want* bits for the writer
	done      chan struct{}

	// Liveness, judged by the manager's tick (tick.go): lastHeard is the
	// last frame or datagram from the peer, lastSent our last TLS write,
	// lastView our last view frame (UnixNano each).
	lastHeard, lastSent, lastView atomic.Int64
	// viewDue (UnixNano, 0: none) holds back a changed view for a random
	// part of the view interval: see viewHeld.
	viewDue  atomic.Int64
	sentCert atomic.Pointer[x509.Certificate]
	// Liveness datagrams (livewire.go); live is nil when the peer did not
	// offer them, and then TLS heartbeats carry liveness. live is used
	// only by the tick goroutine once the session is attached.
	live   *liveKeys
	udp    *udpSock
	udpTo  netip.AddrPort
	udpIn  atomic.Bool // the peer's datagrams reach us (and we said so)
	udpOut atomic.Bool // ours reach the peer: TLS heartbeats are not needed
	// unreadSeen is the unread byte count the tick last excused (tick
	// goroutine only).
	unreadSeen int
	// refreshJitter spreads the sessions' periodic view refreshes, which
	// would otherwise all fall on one tick (sessions start together).
	refreshJitter time.Duration

	closeOnce sync.Once
	quiet     atomic.Bool // closed by the manager, which set the status itself
	errMu     sync.Mutex
	err       error // first failure, the reason the session ended
}

// outFrame is a queued frame; written is closed once it is on the socket.
type outFrame struct {
	b       []byte
	written chan struct{}
}

// send queues frame and returns a channel closed once it was written, or
// nil when the queue is full.
func (s *session) send(frame []byte) chan struct{} {
	f := outFrame{b: frame, written: make(chan struct{})}
	select {
	case s.out <- f:
		return f.written
	default:
		return nil
	}
}

// Work the tick asks of the writer.
const (
	wantHeartbeat uint32 = 1 << iota
	wantView
	wantCert
	wantUDPOK
)

// want hands the writer work without blocking the caller.
func (s *session) want(w uint32) {
	s.pending.Or(w)
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// ended reports whether the session was closed.
func (s *session) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *session) viewChanged() {
	select {
	case s.viewDirty <- struct{}{}:
	default:
	}
}

// close ends the session. err is the cause (kept if first); quiet means the
// caller already recorded the peer's status.
func (s *session) close(err error, quiet bool) {
	if quiet {
		s.quiet.Store(true)
	}
	s.errMu.Lock()
	if s.err == nil && err != nil {
		s.err = err
	}
	s.errMu.Unlock()
	s.closeOnce.Do(func() {
		close(s.done)
		// Wake the reader now; Close sends close_notify (so the peer
		// tells a clean stop from a crash), which can block up to 5 s on
		// a stuck peer: never under the manager's lock.
		s.conn.SetReadDeadline(time.Now())
		go s.conn.Close()
	})
}

func (s *session) cause(readErr error) error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err != nil {
		return s.err
	}
	return readErr
}

// runSession exchanges hellos on a verified TLS connection and, once the
// peer's hello arrived, serves the session until it ends. It reports whether
// the peer refused us after the handshake (TLS 1.3 clients learn it here)
// and whether a session was attached.
func (m *Manager) runSession(ctx context.Context, hs *handshake, conn *tls.Conn, dialedByLower, byLoop bool) (attached, refused bool) {
	p, _, pub, fp, _ := hs.result()
	port := p.spec.Port
	s := &session{
		m: m, p: p, conn: conn, hs: hs, dialedByLower: dialedByLower, byLoop: byLoop, peerKey: pub,
		out: make(chan outFrame, sessionOutSize), viewDirty: make(chan struct{}, 1), poke: make(chan struct{}, 1), done: make(chan struct{}),
		refreshJitter: rand.N(viewRefresh / 3),
	}
	stop := context.AfterFunc(ctx, func() { s.close(nil, true) })
	defer stop()

	local, remote := addrOf(conn.LocalAddr()), addrOf(conn.RemoteAddr())
	udp := m.udpFor(local)
	udpPort := 0
	if udp != nil {
		udpPort = int(udp.local.Port())
	}
	m.mu.Lock()
	hello, err := m.helloFrameLocked(udpPort)
	m.mu.Unlock()
	if err == nil {
		conn.SetWriteDeadline(time.Now().Add(m.setupTimeout()))
		_, err = conn.Write(hello)
	}
	br := bufio.NewReader(conn)
	var body []byte
	if err == nil {
		conn.SetReadDeadline(time.Now().Add(m.setupTimeout()))
		body, err = readFrame(br)
	}
	if err != nil {
		s.close(err, false)
		if ctx.Err() != nil {
			return false, false
		}
		if isRemoteAlert(err) {
			m.setIfIdle(p, state.Untrusted, m.refusedReason(p, err), fp)
			return false, true
		}
		m.setIfIdle(p, state.Unreachable, fmt.Sprintf("session with %s over %s sync failed before hello: %v", p.spec.ID, port, unwrapOp(err)), fp)
		return false, false
	}
	msg, err := decodeMessage(body)
	if r, ok := msg.(*recordsMsg); ok && err == nil {
		// Records instead of a hello: the peer refuses us, revoked.
		s.close(nil, true)
		m.noticeReceived(p, fp, r.Records)
		return false, true
	}
	if err == nil {
		if h, ok := msg.(*helloMsg); !ok {
			err = protof("expected hello first, got %s", msg.msgType())
		} else if h.From != p.spec.ID {
			err = protof("hello from %s on a session authenticated as %s", h.From, p.spec.ID)
		} else if s.setupLiveness(udp, remote, h.UDPPort, h.Version >= 3); !m.attach(s, hs, h) {
			s.close(nil, true)
			return false, false
		}
	}
	if err != nil {
		m.logf("peers: closing session with %s: %v", p.spec.ID, err)
		s.close(err, false)
		m.setIfIdle(p, state.Unknown, fmt.Sprintf("closed the session with %s: %v", p.spec.ID, err), fp)
		return false, false
	}

	conn.SetDeadline(time.Time{})
	var wg sync.WaitGroup
	wg.Go(s.writer)
	err = s.reader(br)
	s.close(err, false)
	wg.Wait()
	m.ended(s)
	return true, false
}

// attach makes s the peer's session, or refuses it when the link went down,
// trust changed during the handshake, or a preferred session exists.
func (m *Manager) attach(s *session, hs *handshake, h *helloMsg) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := s.p
	if m.stopped || m.linkDown[p.spec.Port] {
		return false
	}
	pin, ok := m.cfg.Trust.Pin(p.spec.ID)
	if reason := m.sessionTrust(p, pin, ok, s.peerKey); reason != "" {
		m.setStatus(p, state.Untrusted, reason)
		return false
	}
	if cur := p.sess; cur != nil {
		// Both sides keep the session dialed by the lower ID.
		if !s.dialedByLower || cur.dialedByLower {
			return false
		}
		cur.close(nil, true)
	}
	_, cert, _, fp, _ := hs.result()
	p.sess = s
	m.publishSessionsLocked()
	p.fp, p.presented = fp, ""
	na := cert.NotAfter
	p.certNotAfter = &na
	if h.View != nil {
		p.view = h.View
	}
	p.revokedAt = time.Time{}
	now := time.Now().UnixNano()
	s.lastHeard.Store(now)
	s.lastSent.Store(now)
	s.sentCert.Store(hs.local)
	// The first tick repeats the hello's view: one sent while the peer was
	// still attaching the session may have been dropped.
	s.pending.Store(wantView)
	if h.Version >= 2 {
		// Each side says which records it holds; the other answers with
		// what is missing (DESIGN §5.5).
		s.records = true
		if f := m.haveFrame(); f != nil {
			s.send(f)
		}
	}
	m.setStatus(p, state.Authenticated, fmt.Sprintf("TLS session over %s sync with the pinned key", p.spec.Port))
	if t := time.Unix(0, now); !p.trustedAt.IsZero() {
		if t.Sub(p.trustedAt) < stormSpan {
			m.trustStormLocked(t)
		}
		p.trustedAt = time.Time{}
	}
	m.changed()
	return true
}

// setupLiveness prepares liveness datagrams when the peer offered them
// (udpPort) and we have a socket on the session's local address; slowOK
// says the peer understands the slow flag (protocol version 3).
func (s *session) setupLiveness(udp *udpSock, remote netip.Addr, udpPort int, slowOK bool) {
	if udp == nil || udpPort <= 0 || !remote.IsValid() {
		return
	}
	k, err := deriveLiveKeys(s.conn.ConnectionState(), identity.Less(s.m.self, s.p.spec.ID))
	if err != nil {
		s.m.logf("peers: %s: %v; TLS heartbeats only", s.p.spec.ID, err)
		return
	}
	k.slowOK = slowOK
	s.live, s.udp, s.udpTo = k, udp, netip.AddrPortFrom(remote, uint16(udpPort))
}

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// ended records why an attached session ended, unless the manager closed it.
func (m *Manager) ended(s *session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := s.p
	if p.sess != s {
		return
	}
	p.sess = nil
	m.publishSessionsLocked()
	if !s.byLoop {
		p.kickLoop(false)
	}
	if s.quiet.Load() {
		return
	}
	err := s.cause(nil)
	if errors.As(err, new(protoError)) {
		m.logf("peers: closed the session with %s: %v", p.spec.ID, err)
	}
	status, reason := endStatus(err, p.spec.ID.String(), p.spec.Port, m.cfg.DeadAfter)
	m.setStatus(p, status, reason)
}

// endStatus is the status and reason of a session that ended with err.
func endStatus(err error, id, port string, deadAfter time.Duration) (string, string) {
	var ne net.Error
	var silent silenceError
	switch {
	case errors.As(err, new(protoError)):
		return state.Unknown, fmt.Sprintf("closed the session with %s: %v", id, err)
	case errors.As(err, &silent):
		if silent.after > 0 {
			deadAfter = silent.after
		}
		return state.Unreachable, fmt.Sprintf("no heartbeat from %s for %s over %s sync", id, fmtDur(deadAfter), port)
	case errors.As(err, new(writeStallError)):
		return state.Unreachable, fmt.Sprintf("%s took none of our data for %s over %s sync", id, fmtDur(writeTimeout), port)
	case errors.As(err, &ne) && ne.Timeout():
		return state.Unreachable, fmt.Sprintf("session with %s over %s sync timed out: %v", id, port, unwrapOp(err))
	case errors.Is(err, io.EOF):
		return state.Unreachable, fmt.Sprintf("%s closed the session over %s sync", id, port)
	}
	return state.Unreachable, fmt.Sprintf("session with %s over %s sync failed: %v", id, port, unwrapOp(err))
}

// minViewInterval spaces view frames on one session: views are for
// display (the mesh matrix), and while a 64-node mesh converges every
// status change would otherwise send 63 of them, each decoded by its
// receiver and rewriting its state file.
const minViewInterval = 2 * time.Second

// viewInterval is minViewInterval scaled to the mesh: a 4-node mesh needs
// no spacing (and its matrix should show at once), a 64-node one all of it;
// stormViewFactor times that during a trust storm, when every status of the
// mesh changes within seconds and the views only show the way.
func (m *Manager) viewInterval() time.Duration {
	d := max(100*time.Millisecond, minViewInterval*time.Duration(m.npeers.Load())/63)
	if m.TrustStorm() {
		d *= stormViewFactor
	}
	return d
}

const stormViewFactor = 3

// viewSpread is how long a changed view waits before its first frame:
// a quarter to five quarters of d, d scaled to the mesh (4 nodes: ~2 ms,
// 64: ~1 s). One peer's change (a death) reaches every node at once: 63
// nodes each sending 62 views in the same instant kept a 2-core host
// saturated for the ~300 ms in which the other nodes judge that peer's
// silence, and late ticks put them in strained mode (bench/RESULTS.md).
// The floor keeps the views of the first nodes to judge out of the
// moments in which the others judge and write their state files (within
// ~250 ms of each other, the datagram interval). Views are display only.
func (m *Manager) viewSpread() time.Duration {
	n := time.Duration(m.npeers.Load())
	if d := m.viewInterval() * n / 63 / 2; d > 0 {
		return d/4 + rand.N(d)
	}
	return 0
}

// viewHeld reports whether a changed view must still wait at now.
func (s *session) viewHeld(now time.Time) bool {
	return now.Sub(time.Unix(0, s.lastView.Load())) < s.m.viewInterval() || now.UnixNano() < s.viewDue.Load()
}

// PeerCount is the number of expected peers.
func (m *Manager) PeerCount() int { return int(m.npeers.Load()) }

// Settled reports whether every expected peer is Authenticated: a trust
// storm is over for this node's own relations, whatever its peers still
// set up among themselves.
func (m *Manager) Settled() bool {
	n := m.npeers.Load()
	return n > 0 && m.nauth.Load() == n
}

// Constant frames, encoded once.
var (
	heartbeatFrame, _ = appendFrame(nil, &wireHeartbeat{Type: typeHeartbeat})
	udpOKFrame, _     = appendFrame(nil, &wireUDPOK{Type: typeUDPOK})
)

// writer sends what the session has to say: views on change, queued
// notices, and what the manager's tick asks for (a heartbeat when the
// session sent nothing else and liveness datagrams do not reach the peer,
// a renewed certificate, a delayed view). It has no timer of its own.
func (s *session) writer() {
	m := s.m
	var buf []byte
	for {
		buf = buf[:0]
		var written chan struct{}
		select {
		case <-s.done:
			return
		case <-s.poke:
			w := s.pending.Swap(0)
			if w&wantView != 0 {
				if s.viewHeld(time.Now()) {
					s.pending.Or(wantView) // the tick pokes again when due
				} else {
					buf = s.appendView(buf)
				}
			}
			if w&wantCert != 0 {
				if cur := m.cfg.Self(); cur != nil && cur.Cert != nil && cur.Cert != s.sentCert.Load() {
					var err error
					if buf, err = appendFrame(buf, &wireCert{Type: typeCert, PEM: string(cur.CertPEM)}); err != nil {
						m.logf("peers: %v", err)
					}
					s.sentCert.Store(cur.Cert)
				}
			}
			if w&wantUDPOK != 0 {
				buf = append(buf, udpOKFrame...)
			}
			if w&wantHeartbeat != 0 && len(buf) == 0 {
				buf = append(buf, heartbeatFrame...)
			}
		case <-s.viewDirty:
			// During a storm of changes (a large mesh converging) one
			// view per minViewInterval is enough; the tick sends the
			// latest later.
			now := time.Now()
			if s.viewDue.Load() == 0 {
				s.viewDue.Store(now.Add(m.viewSpread()).UnixNano())
			}
			if s.viewHeld(now) {
				s.pending.Or(wantView)
				continue
			}
			buf = s.appendView(buf)
		case f := <-s.out:
			buf = append(buf, f.b...)
			written = f.written
		}
		if len(buf) == 0 {
			continue
		}
		s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := s.conn.Write(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = writeStallError{err}
			}
			s.close(err, false)
			return
		}
		s.lastSent.Store(time.Now().UnixNano())
		if written != nil {
			close(written)
		}
	}
}

// expirer ends, every second, the sessions whose peer certificate expired
// while they ran (its renewal failed): validity is a condition of trust,
// not only of the handshake. Not the tick's job: it takes the manager's
// lock.
func (m *Manager) expirer(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Our renewed certificate goes to every session (Self may take
		// the daemon's lock: not in the tick either).
		var cert *x509.Certificate
		if id := m.cfg.Self(); id != nil {
			cert = id.Cert
		}
		m.mu.Lock()
		now := m.now()
		for _, p := range m.order {
			s := p.sess
			if s == nil {
				continue
			}
			if p.certNotAfter != nil && now.After(*p.certNotAfter) {
				m.dropLocked(p, state.Untrusted, fmt.Sprintf("certificate expired %s ago", fmtDur(now.Sub(*p.certNotAfter))))
				continue
			}
			if sc := s.sentCert.Load(); cert != nil && sc != nil && cert != sc && !bytes.Equal(cert.Raw, sc.Raw) {
				s.want(wantCert)
			}
		}
		m.mu.Unlock()
	}
}

// appendView appends our current view, encoded once per change for all
// sessions (a 64-node mesh has 63 of them).
func (s *session) appendView(buf []byte) []byte {
	s.lastView.Store(time.Now().UnixNano())
	s.viewDue.Store(0)
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := m.viewFrameLocked()
	if err != nil {
		m.logf("peers: %v", err)
		return buf
	}
	return append(buf, f...)
}

// viewFrameLocked returns our view as one frame, encoded once per change
// for every session.
func (m *Manager) viewFrameLocked() ([]byte, error) {
	if m.viewFrame == nil || m.viewFrameVer != m.viewVer {
		f, err := appendFrame(nil, &wireView{Type: typeView, View: m.viewLocked()})
		if err != nil {
			return nil, err
		}
		m.viewFrame, m.viewFrameVer = f, m.viewVer
	}
	return m.viewFrame, nil
}

// helloFrameLocked returns our hello frame. It is json.Marshal of wireHello
// (TestHelloFrame), put together from the cached view frame: every session
// of a 64-node trust sends one, and reflection over the 63-entry view was a
// visible part of each session's set-up.
func (m *Manager) helloFrameLocked(udpPort int) ([]byte, error) {
	vf, err := m.viewFrameLocked()
	if err != nil {
		return nil, err
	}
	// vf is the frame header, {"type":"view","view":, the view, and }.
	view := vf[4+len(viewPrefix)+len(`"view":`) : len(vf)-1]
	b := make([]byte, 4, 4+len(view)+96)
	b = append(b, `{"type":"hello","from":`...)
	b = strconv.AppendQuote(b, m.self.String())
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, protocolVersion, 10)
	b = append(b, `,"view":`...)
	b = append(b, view...)
	if udpPort != 0 {
		b = append(b, `,"udp_port":`...)
		b = strconv.AppendInt(b, int64(udpPort), 10)
	}
	b = append(b, '}')
	if len(b)-4 > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes exceeds the %d-byte limit", len(b)-4, maxFrame)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b, nil
}

// reader handles the peer's frames until the session fails. Every frame is
// evidence of life; silence is judged by the manager's tick (tick.go), which
// closes the session and so ends this read.
func (s *session) reader(br *bufio.Reader) error {
	var lastView []byte
	for {
		body, err := readFrame(br)
		if err != nil {
			return err
		}
		s.lastHeard.Store(time.Now().UnixNano())
		// A view identical to the last one (a refresh, the first-tick
		// repeat) changes nothing: skip decoding 63 entries.
		if lastView != nil && bytes.Equal(body, lastView) {
			continue
		}
		msg, err := decodeMessage(body)
		if err != nil {
			return err
		}
		switch msg := msg.(type) {
		case *heartbeatMsg:
		case *udpOKMsg:
			s.udpOut.Store(true)
		case *viewMsg:
			s.m.setView(s, msg.View)
			lastView = body
		case *certMsg:
			if err := s.m.certRenewed(s, msg.Cert); err != nil {
				return err
			}
		case *haveMsg:
			s.m.have(s, msg)
		case *recordsMsg:
			s.m.received(s, msg.Records)
		case *helloMsg:
			return protof("second hello")
		}
	}
}

func (m *Manager) setView(s *session, v map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.p.sess != s || mapsEqual(s.p.view, v) {
		return
	}
	s.p.view = v
	m.meshChanged()
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// certRenewed accepts a peer's renewed certificate if it carries the same,
// still pinned key: renewal never breaks trust, and never changes it.
func (m *Manager) certRenewed(s *session, c *x509.Certificate) error {
	id, err := identity.CertificateID(c)
	if err != nil || id != s.p.spec.ID {
		return protof("renewed certificate does not name %s", s.p.spec.ID)
	}
	pub, ok := c.PublicKey.(ed25519.PublicKey)
	if !ok || !pub.Equal(s.peerKey) {
		return protof("renewed certificate of %s carries a different key; a new key needs trust re-established", s.p.spec.ID)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		return protof("renewed certificate of %s is not self-signed by its key: %v", s.p.spec.ID, err)
	}
	now := m.now()
	if now.After(c.NotAfter) || now.Before(c.NotBefore) {
		return protof("renewed certificate of %s is not valid now (%s to %s)", s.p.spec.ID, c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.p.sess == s {
		na := c.NotAfter
		s.p.certNotAfter = &na
		m.logf("peers: %s renewed its certificate, valid until %s", s.p.spec.ID, na.UTC().Format(time.RFC3339))
		m.changed()
	}
	return nil
}

// unwrapOp strips net.OpError's "read tcp a->b:" prefix and the syscall
// name, for reasons an administrator reads.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		if op.Op == "remote error" {
			return fmt.Errorf("remote error: %v", op.Err)
		}
		err = op.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}
