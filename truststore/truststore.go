// Package truststore owns this orchestrator's trust decisions on disk: the
// pins (orchestrator ID → the Ed25519 key trusted for it, in
// var/lib/clishd/trust.json) and the administrator's block list ("do not
// trust these keys", in etc/clishd/blocked_fingerprints).
//
// Every change is written through atomically (atomicfile: temp, fsync,
// rename, directory fsync) before the call returns, so a revoke or a block
// survives kill -9 or a power cut (DESIGN §5.6).
//
// Blocking is stronger than revoking: blocking a fingerprint that is pinned
// also removes that pin, because an administrator who says "do not trust
// this key" means it now, not after the next restart. Unblocking only lifts
// the ban; it never re-trusts anything — trust is added again only through
// the admin-authenticated trust command.
package truststore

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/orchd/orchd/identity"
)

// Store is the loaded trust store. It is safe for concurrent use.
type Store struct {
	pinsPath, blockedPath string
	now                   func() time.Time

	mu      sync.Mutex
	pins    map[identity.ID]Pin
	blocked *blockedFile

	hookMu sync.Mutex
	hooks  []func()
}

// Open loads the pins file and the blocked-fingerprints file; a missing file
// is an empty one. A malformed file is an error naming the file (and, for
// the block list, the line): a damaged trust decision is never guessed at.
//
// A pin whose fingerprint is blocked (left by a crash between the two writes
// of Block) is dropped and the pins file rewritten, finishing that Block.
func Open(pinsPath, blockedPath string) (*Store, error) {
	s := &Store{pinsPath: pinsPath, blockedPath: blockedPath, now: time.Now}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads both files, for an administrator who edited the block list
// by hand, and notifies the hooks.
func (s *Store) Reload() error {
	if err := s.load(); err != nil {
		return err
	}
	s.changed()
	return nil
}

func (s *Store) load() error {
	pins := map[identity.ID]Pin{}
	b, err := os.ReadFile(s.pinsPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading trust store: %w", err)
	default:
		if pins, err = decodePins(b); err != nil {
			return fmt.Errorf("trust store %s: %w", s.pinsPath, err)
		}
	}
	bf := &blockedFile{header: defaultBlockedHeader}
	b, err = os.ReadFile(s.blockedPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading blocked fingerprints: %w", err)
	default:
		if bf, err = parseBlocked(b); err != nil {
			return fmt.Errorf("blocked fingerprints %s: %w", s.blockedPath, err)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.pins, s.blocked = pins, bf
	dropped := false
	for id, p := range s.pins {
		if bf.has(p.Fingerprint) {
			delete(s.pins, id)
			dropped = true
		}
	}
	if dropped {
		return s.writePinsLocked()
	}
	return nil
}

// OnChange registers fn to run after every change has been written (pins,
// revocations, blocks, reloads). fn runs synchronously in the caller's
// goroutine, outside the store's lock: it may read the store, and it should
// return quickly (peers.Manager.Reconcile does).
func (s *Store) OnChange(fn func()) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.hooks = append(s.hooks, fn)
}

func (s *Store) changed() {
	s.hookMu.Lock()
	hooks := append([]func(){}, s.hooks...)
	s.hookMu.Unlock()
	for _, fn := range hooks {
		fn()
	}
}

// Pin returns the pin for id.
func (s *Store) Pin(id identity.ID) (Pin, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pins[id]
	return p.clone(), ok
}

// Pins returns every pin, ordered by ID.
func (s *Store) Pins() []Pin {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Pin, 0, len(s.pins))
	for _, p := range s.pins {
		out = append(out, p.clone())
	}
	sort.Slice(out, func(i, j int) bool { return identity.Less(out[i].ID, out[j].ID) })
	return out
}

// Blocked reports whether fingerprint fp (canonical SHA256:... form) is on
// the block list.
func (s *Store) Blocked(fp string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocked.has(fp)
}

// BlockedList returns the blocked fingerprints, sorted, without duplicates.
func (s *Store) BlockedList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocked.list()
}
