// Package records owns the signed mesh records that may only take trust
// away (DESIGN §3, §5.5): revocations ("issuer no longer trusts key F of
// orchestrator V") and removal notices ("issuer removed V from the mesh").
//
// A record is signed with its issuer's identity key and verified against the
// key pinned for the *issuer*, not the key of whoever relayed it, so any
// holder may pass it on. Records are kept (Store, written through) and
// exchanged at every sync session start, which makes them reach an
// orchestrator that was down or cut off when it was issued. issued_at and a
// nonce make each record unique; a record never undoes what was trusted after
// it was issued (the consumers compare pin and membership times with it).
package records

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/orchd/orchd/identity"
)

// Record kinds.
const (
	KindRevoke = "revoke"
	KindRemove = "remove"
)

const nonceSize = 16

// Record is one signed revocation or removal notice.
type Record struct {
	Kind    string
	Issuer  identity.ID
	Subject identity.ID // the revoked or removed orchestrator
	// Fingerprint is the revoked key (SHA256:...); empty for a removal.
	Fingerprint string
	IssuedAt    time.Time
	Nonce       []byte
	Signature   []byte
}

// wire is the JSON form, on disk and on the wire.
type wire struct {
	Kind        string `json:"kind"`
	Issuer      string `json:"issuer"`
	ID          string `json:"id"`
	Fingerprint string `json:"fingerprint,omitempty"`
	IssuedAt    string `json:"issued_at"`
	Nonce       string `json:"nonce"`
	Signature   string `json:"signature"`
}

// signed is the canonical byte string the signature covers. Times are
// signed as Unix nanoseconds, so the text form (time zone, precision) does
// not matter.
func (r *Record) signed() []byte {
	return []byte("orchd record v1\nkind=" + r.Kind +
		"\nissuer=" + r.Issuer.String() +
		"\nid=" + r.Subject.String() +
		"\nfingerprint=" + r.Fingerprint +
		"\nissued_at=" + strconv.FormatInt(r.IssuedAt.UnixNano(), 10) +
		"\nnonce=" + base64.RawStdEncoding.EncodeToString(r.Nonce) + "\n")
}

// New signs a record of kind by issuer (key) about subject; fp is the
// revoked key's fingerprint (revocations only).
func New(kind string, issuer identity.ID, key ed25519.PrivateKey, subject identity.ID, fp string, now time.Time) (Record, error) {
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return Record{}, fmt.Errorf("generating nonce: %w", err)
	}
	return NewWithNonce(kind, issuer, key, subject, fp, now, nonce)
}

// NewWithNonce is New with a given nonce (16 bytes), for reproducible
// test vectors; real records use New.
func NewWithNonce(kind string, issuer identity.ID, key ed25519.PrivateKey, subject identity.ID, fp string, now time.Time, nonce []byte) (Record, error) {
	r := Record{Kind: kind, Issuer: issuer, Subject: subject, Fingerprint: fp, IssuedAt: now.UTC().Round(0), Nonce: nonce}
	if err := r.check(); err != nil {
		return Record{}, err
	}
	r.Signature = ed25519.Sign(key, r.signed())
	return r, nil
}

// check validates everything but the signature.
func (r *Record) check() error {
	switch r.Kind {
	case KindRevoke:
		if c, err := identity.ParseFingerprint(r.Fingerprint); err != nil || c != r.Fingerprint {
			return fmt.Errorf("revocation of %s: fingerprint %q: expected SHA256:<base64>", r.Subject, r.Fingerprint)
		}
	case KindRemove:
		if r.Fingerprint != "" {
			return fmt.Errorf("removal of %s carries a fingerprint", r.Subject)
		}
	default:
		return fmt.Errorf("record kind %q: expected revoke or remove", r.Kind)
	}
	for _, id := range []identity.ID{r.Issuer, r.Subject} {
		if _, err := identity.ParseID(id.String()); err != nil {
			return fmt.Errorf("record: %w", err)
		}
	}
	if r.Issuer == r.Subject {
		return fmt.Errorf("record: %s cannot %s itself", r.Issuer, r.Kind)
	}
	if y := r.IssuedAt.Year(); y < 2000 || y > 2200 {
		return fmt.Errorf("record: issued_at %s out of range", r.IssuedAt.Format(time.RFC3339))
	}
	if len(r.Nonce) != nonceSize {
		return fmt.Errorf("record: nonce of %d bytes, expected %d", len(r.Nonce), nonceSize)
	}
	return nil
}

// Verify checks the signature against pub, the key pinned for the issuer
// (or the issuer's own key).
func (r *Record) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("no usable key for the issuer %s", r.Issuer)
	}
	if len(r.Signature) != ed25519.SignatureSize || !ed25519.Verify(pub, r.signed(), r.Signature) {
		return fmt.Errorf("bad signature: not signed by the key trusted for %s", r.Issuer)
	}
	return nil
}

// Key identifies the record: what two orchestrators compare to find what
// the other lacks.
func (r *Record) Key() string {
	sum := sha256.Sum256(r.Signature)
	return base64.RawStdEncoding.EncodeToString(sum[:16])
}

// KeyLen is the length of a Key.
const KeyLen = 22

func (r Record) toWire() wire {
	return wire{
		Kind: r.Kind, Issuer: r.Issuer.String(), ID: r.Subject.String(), Fingerprint: r.Fingerprint,
		IssuedAt: r.IssuedAt.UTC().Format(time.RFC3339Nano),
		Nonce:    base64.RawStdEncoding.EncodeToString(r.Nonce), Signature: base64.RawStdEncoding.EncodeToString(r.Signature),
	}
}

// MarshalJSON encodes the wire form.
func (r Record) MarshalJSON() ([]byte, error) { return json.Marshal(r.toWire()) }

// UnmarshalJSON decodes and validates the wire form (not the signature).
func (r *Record) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	out, err := fromWire(w)
	if err != nil {
		return err
	}
	*r = out
	return nil
}

func fromWire(w wire) (Record, error) {
	var r Record
	var err error
	r.Kind, r.Fingerprint = w.Kind, w.Fingerprint
	if r.Issuer, err = identity.ParseID(w.Issuer); err != nil {
		return r, fmt.Errorf("record issuer: %w", err)
	}
	if r.Subject, err = identity.ParseID(w.ID); err != nil {
		return r, fmt.Errorf("record id: %w", err)
	}
	if r.IssuedAt, err = time.Parse(time.RFC3339Nano, w.IssuedAt); err != nil {
		return r, fmt.Errorf("record issued_at %q: expected an RFC 3339 time", w.IssuedAt)
	}
	if r.Nonce, err = base64.RawStdEncoding.Strict().DecodeString(w.Nonce); err != nil {
		return r, errors.New("record nonce: expected unpadded base64")
	}
	if r.Signature, err = base64.RawStdEncoding.Strict().DecodeString(w.Signature); err != nil || len(r.Signature) != ed25519.SignatureSize {
		return r, fmt.Errorf("record signature: expected %d bytes of unpadded base64", ed25519.SignatureSize)
	}
	if err := r.check(); err != nil {
		return r, err
	}
	return r, nil
}

// Newer reports whether a thing made at t (a pin, a membership) predates r
// and so is undone by it.
func (r *Record) Newer(t time.Time) bool { return t.Before(r.IssuedAt) }
