package truststore

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/orchd/orchd/atomicfile"
	"github.com/orchd/orchd/identity"
)

// PinsSchema is the trust.json schema this package reads and writes.
const PinsSchema = 1

// Pin is the key trusted for one orchestrator.
type Pin struct {
	ID          identity.ID
	Fingerprint string
	PublicKey   ed25519.PublicKey
	AddedAt     time.Time
	// AddedBy says who established the trust, for the audit trail
	// ("admin via trust command on 1_1").
	AddedBy string
}

func (p Pin) clone() Pin {
	p.PublicKey = append(ed25519.PublicKey(nil), p.PublicKey...)
	return p
}

type pinJSON struct {
	ID          string    `json:"id"`
	Fingerprint string    `json:"fingerprint"`
	PublicKey   string    `json:"public_key"`
	AddedAt     time.Time `json:"added_at"`
	AddedBy     string    `json:"added_by"`
}

type pinsFileJSON struct {
	Schema int       `json:"schema"`
	Pins   []pinJSON `json:"pins"`
}

// decodePins parses trust.json. Every pin must name a valid ID and a 32-byte
// key whose fingerprint matches the recorded one: a mismatch means the file
// was damaged or edited, and trusting either value would be a guess.
func decodePins(b []byte) (map[identity.ID]Pin, error) {
	var f pinsFileJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if f.Schema != PinsSchema {
		return nil, fmt.Errorf("schema %d, this orchd reads schema %d", f.Schema, PinsSchema)
	}
	pins := make(map[identity.ID]Pin, len(f.Pins))
	for i, pj := range f.Pins {
		id, err := identity.ParseID(pj.ID)
		if err != nil {
			return nil, fmt.Errorf("pin %d: %w", i+1, err)
		}
		if _, dup := pins[id]; dup {
			return nil, fmt.Errorf("pin %d: orchestrator %s pinned twice", i+1, id)
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(pj.PublicKey)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("pin %d (%s): public_key is not %d bytes of base64", i+1, id, ed25519.PublicKeySize)
		}
		pub := ed25519.PublicKey(raw)
		fp := identity.Fingerprint(pub)
		if pj.Fingerprint != fp {
			return nil, fmt.Errorf("pin %d (%s): recorded fingerprint %q does not match its key (%s)", i+1, id, pj.Fingerprint, fp)
		}
		pins[id] = Pin{ID: id, Fingerprint: fp, PublicKey: pub, AddedAt: pj.AddedAt, AddedBy: pj.AddedBy}
	}
	return pins, nil
}

func encodePins(pins map[identity.ID]Pin) ([]byte, error) {
	ids := make([]identity.ID, 0, len(pins))
	for id := range pins {
		ids = append(ids, id)
	}
	identity.SortIDs(ids)
	f := pinsFileJSON{Schema: PinsSchema, Pins: []pinJSON{}}
	for _, id := range ids {
		p := pins[id]
		f.Pins = append(f.Pins, pinJSON{
			ID: id.String(), Fingerprint: p.Fingerprint,
			PublicKey: base64.StdEncoding.EncodeToString(p.PublicKey),
			AddedAt:   p.AddedAt.UTC(), AddedBy: p.AddedBy,
		})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding trust store: %w", err)
	}
	return append(b, '\n'), nil
}

func (s *Store) writePinsLocked() error {
	b, err := encodePins(s.pins)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.pinsPath, b, 0o600); err != nil {
		return fmt.Errorf("writing trust store: %w", err)
	}
	return nil
}

// blockedError is the refusal the shell shows as is.
func blockedError(fp string) error {
	return fmt.Errorf("fingerprint %s is blocked (delete maestro authentication block fingerprint %s to unblock)", fp, fp)
}

// SetPin trusts pub for id, replacing any previous pin (the caller decides
// whether a changed key may replace it: DESIGN §3 asks for force). A blocked
// key is refused. Re-pinning the same key changes nothing.
func (s *Store) SetPin(id identity.ID, pub ed25519.PublicKey, by string) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("pinning %s: public key is %d bytes, expected %d", id, len(pub), ed25519.PublicKeySize)
	}
	if _, err := identity.ParseID(id.String()); err != nil {
		return fmt.Errorf("pinning: %w", err)
	}
	fp := identity.Fingerprint(pub)
	s.mu.Lock()
	if s.blocked.has(fp) {
		s.mu.Unlock()
		return blockedError(fp)
	}
	if old, ok := s.pins[id]; ok && old.PublicKey.Equal(pub) {
		s.mu.Unlock()
		return nil
	}
	prev, had := s.pins[id]
	s.pins[id] = Pin{ID: id, Fingerprint: fp, PublicKey: append(ed25519.PublicKey(nil), pub...), AddedAt: s.now().UTC(), AddedBy: by}
	if err := s.writePinsLocked(); err != nil {
		// Memory must not claim what the disk does not hold, nor deny
		// what it does (a failure after the rename).
		renamed := atomicfile.Renamed(err)
		if !renamed {
			if had {
				s.pins[id] = prev
			} else {
				delete(s.pins, id)
			}
		}
		s.mu.Unlock()
		if renamed {
			s.changed()
		}
		return fmt.Errorf("pinning %s: %w", id, err)
	}
	s.mu.Unlock()
	s.changed()
	return nil
}

// Revoke removes the pins of ids and returns those that were actually
// pinned, ordered. Nothing is written when none was.
func (s *Store) Revoke(ids ...identity.ID) ([]identity.ID, error) {
	s.mu.Lock()
	removed := map[identity.ID]Pin{}
	for _, id := range ids {
		if p, ok := s.pins[id]; ok {
			removed[id] = p
			delete(s.pins, id)
		}
	}
	if len(removed) == 0 {
		s.mu.Unlock()
		return nil, nil
	}
	if err := s.writePinsLocked(); err != nil {
		renamed := atomicfile.Renamed(err)
		if !renamed {
			for id, p := range removed {
				s.pins[id] = p
			}
		}
		s.mu.Unlock()
		if renamed {
			s.changed()
		}
		return nil, fmt.Errorf("revoking %s: %w", idList(removed), err)
	}
	s.mu.Unlock()
	out := make([]identity.ID, 0, len(removed))
	for id := range removed {
		out = append(out, id)
	}
	identity.SortIDs(out)
	s.changed()
	return out, nil
}

func idList(m map[identity.ID]Pin) string {
	var s []string
	for id := range m {
		s = append(s, id.String())
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// NewPin is one key to pin with SetPins.
type NewPin struct {
	ID  identity.ID
	Key ed25519.PublicKey
}

// SetPins pins several keys with one durable write and one change
// notification: a trust-all hands each orchestrator the whole mesh, and
// pinning 63 peers one write (and one session reconcile) at a time costs
// seconds on a busy machine. Blocked or malformed keys are not pinned and
// come back in the error map; the rest are pinned (replacing old pins, as
// SetPin does). A failed write pins nothing and returns the error.
func (s *Store) SetPins(ps []NewPin, by string) (map[identity.ID]error, error) {
	return s.SetPinsIf(ps, by, nil)
}

// SetPinsIf is SetPins deciding, under the store's lock, whether a changed
// key may replace a pin: replace(id) false refuses it (DESIGN §3: only with
// force and the new fingerprint named). A nil replace allows every change.
// Deciding inside the lock means two trust commands, or a trust and a
// revoke, cannot both act on a pin state that one of them already changed.
//
// Pinning a key that is already pinned renews its added_at: trusting it
// again is a decision made now, which a revocation record issued before
// must not undo (DESIGN §5.5).
func (s *Store) SetPinsIf(ps []NewPin, by string, replace func(id identity.ID) bool) (map[identity.ID]error, error) {
	refused := map[identity.ID]error{}
	s.mu.Lock()
	prev := make(map[identity.ID]Pin, len(ps))
	had := map[identity.ID]bool{}
	// Full precision: a revocation record issued a moment before a re-trust
	// must compare as older than the new pin (DESIGN §5.5).
	now := s.now().UTC()
	changed := false
	for _, p := range ps {
		if len(p.Key) != ed25519.PublicKeySize {
			refused[p.ID] = fmt.Errorf("pinning %s: public key is %d bytes, expected %d", p.ID, len(p.Key), ed25519.PublicKeySize)
			continue
		}
		fp := identity.Fingerprint(p.Key)
		if s.blocked.has(fp) {
			refused[p.ID] = blockedError(fp)
			continue
		}
		old, ok := s.pins[p.ID]
		if ok && replace != nil && !old.PublicKey.Equal(p.Key) && !replace(p.ID) {
			refused[p.ID] = fmt.Errorf("key of %s changed: trusted %s, now %s (re-run with force and fingerprints %s=%s to replace it)", p.ID, old.Fingerprint, fp, p.ID, fp)
			continue
		}
		if _, seen := prev[p.ID]; !seen {
			prev[p.ID], had[p.ID] = old, ok
		}
		s.pins[p.ID] = Pin{ID: p.ID, Fingerprint: fp, PublicKey: append(ed25519.PublicKey(nil), p.Key...), AddedAt: now, AddedBy: by}
		changed = true
	}
	if !changed {
		s.mu.Unlock()
		return refused, nil
	}
	if err := s.writePinsLocked(); err != nil {
		renamed := atomicfile.Renamed(err)
		for id, p := range prev {
			if renamed {
				break
			}
			if had[id] {
				s.pins[id] = p
			} else {
				delete(s.pins, id)
			}
		}
		s.mu.Unlock()
		if renamed {
			s.changed()
		}
		return refused, fmt.Errorf("pinning: %w", err)
	}
	s.mu.Unlock()
	s.changed()
	return refused, nil
}
