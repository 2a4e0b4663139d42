package truststore

import (
	"fmt"
	"time"

	"github.com/orchd/orchd/identity"
)

// removeIf removes, with one durable write, every pin for which drop is
// true and returns them ordered by ID. The decision runs under the lock,
// so it sees the pins as they are when they are removed.
func (s *Store) removeIf(what string, drop func(Pin) bool) ([]Pin, error) {
	s.mu.Lock()
	var removed []Pin
	for id, p := range s.pins {
		if drop(p) {
			removed = append(removed, p)
			delete(s.pins, id)
		}
	}
	if len(removed) == 0 {
		s.mu.Unlock()
		return nil, nil
	}
	if err := s.writePinsLocked(); err != nil {
		for _, p := range removed {
			s.pins[p.ID] = p
		}
		s.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	s.mu.Unlock()
	sortPins(removed)
	for i := range removed {
		removed[i] = removed[i].clone()
	}
	s.changed()
	return removed, nil
}

func sortPins(ps []Pin) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && identity.Less(ps[j].ID, ps[j-1].ID); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// RevokePins removes the pins of ids and returns the removed pins (their
// keys go into the revocation records).
func (s *Store) RevokePins(ids ...identity.ID) ([]Pin, error) {
	want := map[identity.ID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	return s.removeIf("revoking", func(p Pin) bool { return want[p.ID] })
}

// RevokeKey applies a revocation record: id's pin goes only if it is the
// revoked key fp and was made before the record was issued, so trust
// re-established on purpose later is not undone by an old record.
func (s *Store) RevokeKey(id identity.ID, fp string, issuedAt time.Time) (bool, error) {
	removed, err := s.removeIf("applying revocation of "+id.String(), func(p Pin) bool {
		return p.ID == id && p.Fingerprint == fp && p.AddedAt.Before(issuedAt)
	})
	return len(removed) > 0, err
}

// DropPinsBefore removes every pin made before t: a revoked orchestrator,
// told by a record issued at t, stops trusting the rest of the mesh.
func (s *Store) DropPinsBefore(t time.Time) ([]identity.ID, error) {
	removed, err := s.removeIf("dropping pins after our revocation", func(p Pin) bool { return p.AddedAt.Before(t) })
	ids := make([]identity.ID, len(removed))
	for i, p := range removed {
		ids[i] = p.ID
	}
	return ids, err
}

// DropPinBefore removes id's pin, whatever its key, if made before t (a
// removal notice for a member this orchestrator still pinned).
func (s *Store) DropPinBefore(id identity.ID, t time.Time) (bool, error) {
	removed, err := s.removeIf("removing "+id.String(), func(p Pin) bool { return p.ID == id && p.AddedAt.Before(t) })
	return len(removed) > 0, err
}
