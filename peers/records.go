package peers

import (
	"crypto/ed25519"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/records"
	"github.com/orchd/orchd/state"
)

// Revocation records and removal notices (DESIGN §5.5) travel over the
// sessions: at every session start each side lists the keys of the records
// it holds ("have") and the other sends what is missing ("records"); a
// record new to us is relayed to every other live session. A record is
// believed only if it verifies against the key pinned for its *issuer*, so
// whoever relays it adds no authority of its own.

// Records is what the sessions need of the record store; *records.Store
// satisfies it.
type Records interface {
	All() []records.Record
	Has(key string) bool
}

// recordsPerFrame keeps a records frame well under maxFrame (a record is
// ~350 bytes of JSON).
const recordsPerFrame = 128

// maxHave bounds the keys listed in one have frame.
const maxHave = records.MaxRecords

// haveFrame lists the keys of every record we hold.
func (m *Manager) haveFrame() []byte {
	w := &wireHave{Type: typeHave, Keys: []string{}}
	if m.cfg.Records != nil {
		for _, r := range m.cfg.Records.All() {
			w.Keys = append(w.Keys, r.Key())
		}
	}
	b, err := appendFrame(nil, w)
	if err != nil {
		m.logf("peers: %v", err)
		return nil
	}
	return b
}

// recordFrames encodes recs in frames of at most recordsPerFrame.
func recordFrames(recs []records.Record) ([][]byte, error) {
	var out [][]byte
	for len(recs) > 0 {
		n := min(len(recs), recordsPerFrame)
		b, err := appendFrame(nil, &wireRecords{Type: typeRecords, Records: recs[:n]})
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		recs = recs[n:]
	}
	return out, nil
}

// have answers a peer's have list with the records it lacks.
func (m *Manager) have(s *session, h *haveMsg) {
	if m.cfg.Records == nil {
		return
	}
	var missing []records.Record
	for _, r := range m.cfg.Records.All() {
		if !h.Keys[r.Key()] {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return
	}
	frames, err := recordFrames(missing)
	if err != nil {
		m.logf("peers: %v", err)
		return
	}
	for _, f := range frames {
		if s.send(f) == nil {
			m.logf("peers: records for %s dropped: session send queue full", s.p.spec.ID)
		}
	}
}

// issuerKey is the key a record from issuer must be signed with: ours, or
// the one pinned for it.
func (m *Manager) issuerKey(issuer identity.ID) ed25519.PublicKey {
	if issuer == m.self {
		return m.cfg.Self().Public()
	}
	if pin, ok := m.cfg.Trust.Pin(issuer); ok {
		return pin.PublicKey
	}
	return nil
}

// received handles records a peer sent: each one new to us and verified
// against its issuer's pin is relayed to every other session and then
// handed to OnRecord. Relaying first means an orchestrator about to lose
// its session because of the record (the revoked one) still hears it.
func (m *Manager) received(from *session, recs []records.Record) {
	fresh := m.fresh(from.p, recs)
	if len(fresh) == 0 {
		return
	}
	m.logf("peers: %d new record(s) from %s", len(fresh), from.p.spec.ID)
	// Not in the reader: relaying waits for sockets, and applying a
	// record may close this very session.
	go func() {
		m.relay(fresh, from, 500*time.Millisecond)
		if fn := m.cfg.OnRecord; fn != nil {
			for _, r := range fresh {
				fn(r)
			}
		}
	}()
}

// fresh returns the records of recs new to us that verify against their
// issuer's pin, marking them seen; from sent them.
func (m *Manager) fresh(from *peer, recs []records.Record) []records.Record {
	var out []records.Record
	for _, r := range recs {
		k := r.Key()
		if m.cfg.Records != nil && m.cfg.Records.Has(k) {
			continue
		}
		if err := r.Verify(m.issuerKey(r.Issuer)); err != nil {
			m.limiter.logf(m.logf, "record:"+k, "peers: ignoring a %s record of %s about %s relayed by %s: %v", r.Kind, r.Issuer, r.Subject, from.spec.ID, err)
			continue
		}
		if m.seen.mark(k) {
			out = append(out, r)
			m.noteSelfRevocation(r)
		}
	}
	return out
}

// recallSelfRevocationLocked restores, at start, the newest kept record
// that revokes our current key, unless a pin made after it says we were
// trusted again: a restart must not make a revoked orchestrator's statuses
// (and its notices, see revocationNotice) forget why it holds no pins.
func (m *Manager) recallSelfRevocationLocked() {
	if m.cfg.Records == nil {
		return
	}
	var newest *records.Record
	for _, r := range m.cfg.Records.All() {
		if r.Kind == records.KindRevoke && r.Subject == m.self && (newest == nil || r.IssuedAt.After(newest.IssuedAt)) {
			if me := m.cfg.Self(); me != nil && r.Fingerprint == me.Fingerprint() {
				newest = &r
			}
		}
	}
	if newest == nil {
		return
	}
	for _, p := range m.order {
		if pin, ok := m.cfg.Trust.Pin(p.spec.ID); ok && pin.AddedAt.After(newest.IssuedAt) {
			return
		}
	}
	m.revokedBy.Store(newest)
}

// noteSelfRevocation remembers r if it revokes our current key.
func (m *Manager) noteSelfRevocation(r records.Record) {
	if r.Kind != records.KindRevoke || r.Subject != m.self {
		return
	}
	if me := m.cfg.Self(); me != nil && r.Fingerprint == me.Fingerprint() {
		m.revokedBy.Store(&r)
	}
}

// Publish sends records this orchestrator just issued (and stored) to
// every live session and waits, up to a second, until each is on its
// socket, so the caller can drop trust right after without the peer about
// to be dropped missing it. It returns how many sessions it reached.
func (m *Manager) Publish(recs []records.Record) int {
	for _, r := range recs {
		m.seen.mark(r.Key())
	}
	return m.relay(recs, nil, time.Second)
}

// relay writes recs to every live session but skip's.
func (m *Manager) relay(recs []records.Record, skip *session, wait time.Duration) int {
	frames, err := recordFrames(recs)
	if err != nil {
		m.logf("peers: not relaying records: %v", err)
		return 0
	}
	type pending struct {
		id identity.ID
		c  []chan struct{}
	}
	var ps []pending
	m.mu.Lock()
	for _, p := range m.order {
		s := p.sess
		if s == nil || s == skip || !s.records {
			continue
		}
		pe := pending{id: p.spec.ID}
		for _, f := range frames {
			if c := s.send(f); c != nil {
				pe.c = append(pe.c, c)
			} else {
				m.logf("peers: records for %s dropped: session send queue full (it gets them at its next session start)", p.spec.ID)
			}
		}
		ps = append(ps, pe)
	}
	m.mu.Unlock()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	n := 0
	for _, pe := range ps {
		ok := len(pe.c) > 0
		for _, c := range pe.c {
			select {
			case <-c:
			case <-deadline.C:
				ok = false
			}
		}
		if ok {
			n++
		}
	}
	return n
}

// seenSet remembers the records this process already relayed, so a record
// arriving over several sessions at once is relayed once.
type seenSet struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (s *seenSet) mark(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]bool{}
	}
	if s.keys[k] {
		return false
	}
	if len(s.keys) > 4*records.MaxRecords {
		clear(s.keys)
	}
	s.keys[k] = true
	return true
}

// revocationNotice returns our revocations of key fp of id, when id is
// not pinned and fp not blocked: an orchestrator revoked while it was down
// (or cut off) still pins the rest, and every member refuses it, so no
// session would ever tell it (DESIGN §5.5: the revoked one, told by the
// record, drops its pins). Such a handshake completes, the records are
// written and the connection closed: nothing is read from the peer, and no
// session is attached.
//
// Not while we are revoked ourselves: then we dropped our pins because of
// our own revocation, and a record about id we hold (an old one, id
// trusted again since) is no reason to tell it anything.
func (m *Manager) revocationNotice(id identity.ID, fp string) []records.Record {
	if m.cfg.Records == nil || fp == "" || m.cfg.Trust.Blocked(fp) || m.revokedBy.Load() != nil {
		return nil
	}
	if _, pinned := m.cfg.Trust.Pin(id); pinned {
		return nil
	}
	var out []records.Record
	for _, r := range m.cfg.Records.All() {
		if r.Kind == records.KindRevoke && r.Subject == id && r.Fingerprint == fp {
			out = append(out, r)
		}
	}
	return out
}

// sendNotice hands a revoked peer our revocations of its key and closes
// the connection (see revocationNotice).
func (m *Manager) sendNotice(conn net.Conn, hs *handshake) {
	defer conn.Close()
	hs.mu.Lock()
	p, fp, recs := hs.p, hs.fp, hs.notice
	hs.mu.Unlock()
	frames, err := recordFrames(recs)
	if err != nil {
		m.logf("peers: %v", err)
		return
	}
	conn.SetWriteDeadline(time.Now().Add(m.setupTimeout()))
	for _, f := range frames {
		if _, err := conn.Write(f); err != nil {
			return
		}
	}
	m.limiter.logf(m.logf, "notice:"+p.spec.ID.String(), "peers: told %s that its key %s is revoked (%d record(s)); no session", p.spec.ID, fp, len(recs))
}

// noticeReceived handles the records a peer sent instead of its hello: it
// refuses us and says why. Only records about us that verify against
// their issuer's pin count; they reach OnRecord like relayed ones.
func (m *Manager) noticeReceived(p *peer, fp string, recs []records.Record) {
	var ours []records.Record
	for _, r := range recs {
		if r.Kind == records.KindRevoke && r.Subject == m.self {
			ours = append(ours, r)
		}
	}
	fresh := m.fresh(p, ours)
	why := "it holds a revocation of this orchestrator's key"
	if r := m.revokedBy.Load(); r != nil {
		why = m.revokedReason(r)
	}
	m.setIfIdle(p, state.Untrusted, fmt.Sprintf("%s refused us: %s", p.spec.ID, why), fp)
	if len(fresh) == 0 {
		return
	}
	m.logf("peers: %s holds %d revocation(s) of this orchestrator's key", p.spec.ID, len(fresh))
	if fn := m.cfg.OnRecord; fn != nil {
		go func() {
			for _, r := range fresh {
				fn(r)
			}
		}()
	}
}
