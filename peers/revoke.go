package peers

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orchd/orchd/identity"
)

// A revocation notice asks the peers of its sender to drop the listed
// orchestrators too (DESIGN §5.5). It is signed with the sender's identity
// key and checked against the key *pinned* for the sender, so it carries the
// sender's authority even if it were relayed; issued_at and a nonce keep a
// captured notice from being replayed after trust was re-established.

const (
	revokeNonceSize = 16
	// revokeWindow is how far issued_at may be from our clock. Notices are
	// delivered over live sessions within milliseconds; the window only
	// absorbs clock skew between appliances.
	revokeWindow = 10 * time.Minute
	maxRevoked   = 1024
)

// revokeSigned is the canonical byte string a notice's signature covers.
func revokeSigned(from identity.ID, revoked []identity.ID, issuedAt time.Time, nonce []byte) []byte {
	ids := make([]string, len(revoked))
	for i, id := range revoked {
		ids[i] = id.String()
	}
	return []byte("orchd revoke v1\nfrom=" + from.String() +
		"\nissued_at=" + strconv.FormatInt(issuedAt.UnixNano(), 10) +
		"\nnonce=" + base64.RawStdEncoding.EncodeToString(nonce) +
		"\nrevoked=" + strings.Join(ids, ",") + "\n")
}

// signRevoke builds a notice from self revoking ids.
func signRevoke(self *identity.Identity, revoked []identity.ID, now time.Time) (*wireRevoke, error) {
	ids := uniqueSorted(revoked)
	if len(ids) == 0 || len(ids) > maxRevoked {
		return nil, fmt.Errorf("revocation notice must name 1 to %d orchestrators, not %d", maxRevoked, len(ids))
	}
	nonce := make([]byte, revokeNonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generating nonce: %w", err)
	}
	return signRevokeNonce(self, ids, now, nonce), nil
}

func signRevokeNonce(self *identity.Identity, ids []identity.ID, now time.Time, nonce []byte) *wireRevoke {
	now = now.UTC().Round(0)
	sig := ed25519.Sign(self.Key, revokeSigned(self.ID, ids, now, nonce))
	w := &wireRevoke{
		Type: typeRevoke, From: self.ID.String(), IssuedAt: now.Format(time.RFC3339Nano),
		Nonce: base64.RawStdEncoding.EncodeToString(nonce), Signature: base64.RawStdEncoding.EncodeToString(sig),
	}
	for _, id := range ids {
		w.Revoked = append(w.Revoked, id.String())
	}
	return w
}

func uniqueSorted(ids []identity.ID) []identity.ID {
	seen := map[identity.ID]bool{}
	var out []identity.ID
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	identity.SortIDs(out)
	return out
}

func decodeRevoke(b []byte) (*revokeMsg, error) {
	var w wireRevoke
	if err := unmarshal(b, &w); err != nil {
		return nil, err
	}
	if w.Type != typeRevoke {
		return nil, protof("expected revoke, got %q", w.Type)
	}
	from, err := identity.ParseID(w.From)
	if err != nil {
		return nil, protof("revoke: from: %v", err)
	}
	if len(w.Revoked) == 0 || len(w.Revoked) > maxRevoked {
		return nil, protof("revoke: %d orchestrators listed, expected 1 to %d", len(w.Revoked), maxRevoked)
	}
	var ids []identity.ID
	for _, s := range w.Revoked {
		id, err := identity.ParseID(s)
		if err != nil {
			return nil, protof("revoke: %v", err)
		}
		ids = append(ids, id)
	}
	if u := uniqueSorted(ids); len(u) != len(ids) {
		return nil, protof("revoke: an orchestrator is listed twice")
	} else {
		ids = u
	}
	at, err := time.Parse(time.RFC3339Nano, w.IssuedAt)
	if err != nil {
		return nil, protof("revoke: issued_at %q is not an RFC 3339 time", w.IssuedAt)
	}
	if at.Year() < 2000 || at.Year() > 2200 {
		return nil, protof("revoke: issued_at %s out of range", w.IssuedAt)
	}
	nonce, err := base64.RawStdEncoding.Strict().DecodeString(w.Nonce)
	if err != nil || len(nonce) != revokeNonceSize {
		return nil, protof("revoke: nonce is not %d bytes of unpadded base64", revokeNonceSize)
	}
	sig, err := base64.RawStdEncoding.Strict().DecodeString(w.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, protof("revoke: signature is not %d bytes of unpadded base64", ed25519.SignatureSize)
	}
	return &revokeMsg{From: from, Revoked: ids, IssuedAt: at, Nonce: nonce, Sig: sig}, nil
}

// verifyRevoke checks a notice's signature against pub (the sender's pin)
// and its age against now. Replays are checked separately (nonceCache).
func verifyRevoke(r *revokeMsg, pub ed25519.PublicKey, now time.Time) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("no usable pinned key for the sender")
	}
	if !ed25519.Verify(pub, revokeSigned(r.From, r.Revoked, r.IssuedAt, r.Nonce), r.Sig) {
		return errors.New("bad signature")
	}
	if d := now.Sub(r.IssuedAt); d > revokeWindow || d < -revokeWindow {
		return fmt.Errorf("issued at %s, more than %s from our clock", r.IssuedAt.Format(time.RFC3339), revokeWindow)
	}
	return nil
}

// nonceCache remembers the nonces of accepted notices for as long as their
// issued_at is within the window.
type nonceCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// fresh records nonce and reports whether it was new.
func (c *nonceCache) fresh(nonce []byte, issuedAt, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	for k, exp := range c.seen {
		if now.After(exp) {
			delete(c.seen, k)
		}
	}
	k := string(nonce)
	if _, ok := c.seen[k]; ok {
		return false
	}
	c.seen[k] = issuedAt.Add(revokeWindow)
	return true
}
