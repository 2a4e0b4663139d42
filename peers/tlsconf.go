package peers

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/records"
	"github.com/orchd/orchd/state"
)

// alpn names the sync protocol so that nothing else speaking TLS on the
// port is mistaken for a peer.
const alpn = "orchd-sync/1"

// handshake collects what verification learned about the other side.
type handshake struct {
	dialed *peer // the peer we dialed; nil when accepting

	mu   sync.Mutex
	p    *peer
	cert *x509.Certificate
	pub  ed25519.PublicKey
	fp   string
	err  error // our refusal, already recorded in the status
	// notice holds our revocations of the key the peer presented: the
	// handshake completed only to hand it those (see revocationNotice).
	notice []records.Record

	local *x509.Certificate // the certificate we presented
}

func (h *handshake) result() (*peer, *x509.Certificate, ed25519.PublicKey, string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.p, h.cert, h.pub, h.fp, h.err
}

// baseTLS is shared by both directions. The chain is not verified by
// crypto/tls (InsecureSkipVerify): certificates are self-signed and trust is
// the pinned key, checked in verify. TLS still checks that the peer holds
// the certificate's private key (CertificateVerify). No resumption: every
// session proves the pinned key afresh. X25519 alone: the hybrid
// post-quantum exchange costs ~40% more per handshake (DESIGN §7).
func (m *Manager) baseTLS(h *handshake) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		MaxVersion:             tls.VersionTLS13,
		CurvePreferences:       []tls.CurveID{tls.X25519},
		InsecureSkipVerify:     true,
		SessionTicketsDisabled: true,
		NextProtos:             []string{alpn},
		VerifyConnection:       func(cs tls.ConnectionState) error { return m.verify(h, cs) },
	}
}

func (m *Manager) clientTLS(h *handshake) *tls.Config {
	c := m.baseTLS(h)
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return m.localCert(h) }
	_, pinned := m.cfg.Trust.Pin(h.dialed.spec.ID)
	c.ServerName = sniName(m.self, pinned)
	return c
}

func (m *Manager) serverTLS(h *handshake) *tls.Config {
	c := m.baseTLS(h)
	c.ClientAuth = tls.RequireAnyClientCert
	c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return m.localCert(h) }
	c.GetConfigForClient = m.earlyRefusal
	return c
}

// The client names itself in the server name indication ("o1-2" for 1_2),
// so that the server can refuse a peer it has no pin for at the
// ClientHello, before any key exchange or signature: while the pins of a
// trust command propagate through a large mesh, about half the pairs dial
// before the other side trusts them. The name is a claim, not an identity:
// it can only make the server refuse early, never accept (verify decides).
//
// The first letter says whether the client holds a pin for the server ("o")
// or dials without one ("u", only to learn what the server presents). Only
// a refused client that trusts us backs off until we dial it (the nudge of
// startTrustedLocked); one that does not trust us either dials again as
// soon as it does. Without the letter, an untrusted testbed's refusals made
// most higher sides of a later trust storm dial too: 500-580 of ~2,600
// handshakes in an 8x8 trust were second sessions, thrown away.
func sniName(id identity.ID, pinsServer bool) string {
	lead := "u"
	if pinsServer {
		lead = "o"
	}
	return lead + strings.ReplaceAll(id.String(), "_", "-")
}

func sniID(name string) (id identity.ID, pinsServer, ok bool) {
	if name == "" {
		return identity.ID{}, false, false
	}
	pinsServer = name[0] == 'o'
	id, err := identity.ParseID(strings.ReplaceAll(name[1:], "-", "_"))
	// Only the canonical spelling: one name per orchestrator.
	return id, pinsServer, err == nil && sniName(id, pinsServer) == name
}

// errEarlyRefusal ends a handshake at the ClientHello (the client sees an
// internal_error alert, which crypto/tls sends for it).
var errEarlyRefusal = errors.New("no pin for the orchestrator named in the ClientHello")

// earlyRefusal refuses, at the ClientHello, an expected peer we have no pin
// for — once a full handshake has shown us what key it presents, so its
// status still names that key.
func (m *Manager) earlyRefusal(chi *tls.ClientHelloInfo) (*tls.Config, error) {
	id, pinsUs, ok := sniID(chi.ServerName)
	if !ok {
		return nil, nil
	}
	if _, pinned := m.cfg.Trust.Pin(id); pinned {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peers[id]
	if p == nil || p.presented == "" || p.sess != nil || m.revocationNotice(id, p.presented) != nil {
		return nil, nil
	}
	if pinsUs {
		p.refusedIn = m.now()
	}
	m.setStatus(p, state.Untrusted, m.noPinReason(p, p.presented))
	return nil, errEarlyRefusal
}

// localCert builds the certificate to present from Self() on every
// handshake, so a renewed certificate is used from the next session on.
func (m *Manager) localCert(h *handshake) (*tls.Certificate, error) {
	id := m.cfg.Self()
	if id == nil || id.Cert == nil {
		return nil, errors.New("no identity certificate")
	}
	h.mu.Lock()
	h.local = id.Cert
	h.mu.Unlock()
	return &tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key, Leaf: id.Cert}, nil
}

// verify is the trust decision of DESIGN §5.3, run inside the handshake on
// both sides. A refusal is recorded as the peer's status (Untrusted: it is
// reachable) unless a working session with that peer exists.
func (m *Manager) verify(h *handshake, cs tls.ConnectionState) error {
	if cs.NegotiatedProtocol != alpn {
		return fmt.Errorf("peer does not speak %s", alpn)
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no certificate presented")
	}
	p, pub, fp, err := m.checkCert(cs.PeerCertificates[0], h.dialed)
	var notice []records.Record
	if err != nil && p != nil && pub != nil {
		if id, idErr := identity.CertificateID(cs.PeerCertificates[0]); idErr == nil && id == p.spec.ID {
			notice = m.revocationNotice(id, fp)
		}
	}
	h.mu.Lock()
	h.p, h.cert, h.pub, h.fp, h.err, h.notice = p, cs.PeerCertificates[0], pub, fp, err, notice
	h.mu.Unlock()
	if err != nil {
		if p != nil {
			if h.dialed == nil {
				m.mu.Lock()
				p.refusedIn = m.now()
				m.mu.Unlock()
			}
			m.setIfIdle(p, state.Untrusted, err.Error(), fp)
		} else {
			m.limiter.logf(m.logf, "refused:"+err.Error(), "peers: refused a sync session: %v", err)
		}
	}
	if notice != nil {
		// Refused all the same (status, no session); the handshake
		// completes only so that the revoked side learns why.
		return nil
	}
	return err
}

// checkCert returns the peer a certificate belongs to (nil if it names none
// we expect) and why it is not acceptable.
func (m *Manager) checkCert(c *x509.Certificate, dialed *peer) (*peer, ed25519.PublicKey, string, error) {
	id, err := identity.CertificateID(c)
	if err != nil {
		if dialed != nil {
			return dialed, nil, "", fmt.Errorf("the orchestrator at %s presented a certificate that names no orchestrator ID", dialed.spec.Addr)
		}
		return nil, nil, "", err
	}
	pub, ok := c.PublicKey.(ed25519.PublicKey)
	if !ok {
		return dialed, nil, "", fmt.Errorf("certificate of %s carries a %T key, expected Ed25519", id, c.PublicKey)
	}
	fp := identity.Fingerprint(pub)
	if dialed != nil && id != dialed.spec.ID {
		return dialed, pub, fp, fmt.Errorf("the orchestrator at %s presented a certificate for %s, not %s (presented %s)", dialed.spec.Addr, id, dialed.spec.ID, fp)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peers[id]
	if p == nil {
		return nil, pub, fp, fmt.Errorf("%s (presented %s) is not an expected peer", id, fp)
	}
	pin, pinned := m.cfg.Trust.Pin(id)
	if reason := m.sessionTrust(p, pin, pinned, pub); reason != "" {
		return p, pub, fp, errors.New(reason)
	}
	now := m.now()
	if now.Before(c.NotBefore) {
		return p, pub, fp, fmt.Errorf("certificate not valid before %s (in %s)", c.NotBefore.UTC().Format(time.RFC3339), fmtDur(c.NotBefore.Sub(now)))
	}
	if now.After(c.NotAfter) {
		return p, pub, fp, fmt.Errorf("certificate expired %s ago", fmtDur(now.Sub(c.NotAfter)))
	}
	return p, pub, fp, nil
}

// fmtDur prints a duration the way an administrator reads it: "2h0m",
// "5m", "40s", "250ms".
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}
