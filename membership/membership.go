// Package membership owns the mesh membership (DESIGN §3): the
// orchestrators of topology.orchestrators plus every ID a trust command
// added, minus those removed by `delete maestro orchestrator` (here or by a
// signed removal notice). It is kept in var/lib/clishd/members.json and
// written through (atomic write, fsync, rename) like a pin: a member added
// by trust is expected at once and after a restart, without `save config`.
package membership

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/orchd/orchd/atomicfile"
	"github.com/orchd/orchd/identity"
)

// Schema is the members.json schema.
const Schema = 1

// MaxMembers bounds the mesh (254 sites of 254 would not fit any machine;
// this bounds a damaged or hostile list).
const MaxMembers = 4096

// Member is one orchestrator of the mesh.
type Member struct {
	ID    identity.ID
	Since time.Time
	// By says how it became a member ("topology", "admin via trust
	// command on 1_1 ...").
	By string
}

// Removed is a tombstone: the configuration's topology still lists the ID,
// but it was removed and stays removed until trust adds it again.
type Removed struct {
	ID identity.ID
	At time.Time
	By string
}

type memberJSON struct {
	ID    string    `json:"id"`
	Since time.Time `json:"since"`
	By    string    `json:"by"`
}

type removedJSON struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
	By string    `json:"by"`
}

type fileJSON struct {
	Schema  int           `json:"schema"`
	Members []memberJSON  `json:"members"`
	Removed []removedJSON `json:"removed"`
}

// Store is the membership. It is safe for concurrent use.
type Store struct {
	path string
	self identity.ID

	mu      sync.Mutex
	members map[identity.ID]Member
	removed map[identity.ID]Removed
}

// Open loads path and adds the topology's orchestrators that it does not
// know yet (nor removed), writing the file when that changed anything.
func Open(path string, self identity.ID, topology []identity.ID, now time.Time) (*Store, error) {
	s := &Store{path: path, self: self, members: map[identity.ID]Member{}, removed: map[identity.ID]Removed{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading membership: %w", err)
	default:
		if s.members, s.removed, err = Decode(b); err != nil {
			return nil, fmt.Errorf("membership %s: %w", path, err)
		}
	}
	changed := false
	for _, id := range append([]identity.ID{self}, topology...) {
		if _, ok := s.members[id]; ok {
			continue
		}
		if _, gone := s.removed[id]; gone && id != self {
			continue
		}
		s.members[id] = Member{ID: id, Since: now.UTC(), By: "topology"}
		delete(s.removed, id)
		changed = true
	}
	if changed {
		if err := s.writeLocked(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Decode parses members.json.
func Decode(b []byte) (map[identity.ID]Member, map[identity.ID]Removed, error) {
	var f fileJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		return nil, nil, fmt.Errorf("decoding JSON: %w", err)
	}
	if dec.More() {
		return nil, nil, errors.New("trailing data after the JSON object")
	}
	if f.Schema != Schema {
		return nil, nil, fmt.Errorf("schema %d, this orchd reads schema %d", f.Schema, Schema)
	}
	if len(f.Members)+len(f.Removed) > MaxMembers {
		return nil, nil, fmt.Errorf("%d entries, at most %d", len(f.Members)+len(f.Removed), MaxMembers)
	}
	ms := map[identity.ID]Member{}
	rs := map[identity.ID]Removed{}
	for i, m := range f.Members {
		id, err := identity.ParseID(m.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("member %d: %w", i+1, err)
		}
		if _, dup := ms[id]; dup {
			return nil, nil, fmt.Errorf("member %d: %s listed twice", i+1, id)
		}
		ms[id] = Member{ID: id, Since: m.Since, By: m.By}
	}
	for i, r := range f.Removed {
		id, err := identity.ParseID(r.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("removed %d: %w", i+1, err)
		}
		if _, dup := ms[id]; dup {
			return nil, nil, fmt.Errorf("removed %d: %s is also a member", i+1, id)
		}
		if _, dup := rs[id]; dup {
			return nil, nil, fmt.Errorf("removed %d: %s listed twice", i+1, id)
		}
		rs[id] = Removed{ID: id, At: r.At, By: r.By}
	}
	return ms, rs, nil
}

func (s *Store) writeLocked() error {
	f := fileJSON{Schema: Schema, Members: []memberJSON{}, Removed: []removedJSON{}}
	for _, m := range sortedMembers(s.members) {
		f.Members = append(f.Members, memberJSON{ID: m.ID.String(), Since: m.Since.UTC(), By: m.By})
	}
	for _, r := range s.removedLocked() {
		f.Removed = append(f.Removed, removedJSON{ID: r.ID.String(), At: r.At.UTC(), By: r.By})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding membership: %w", err)
	}
	if err := atomicfile.WriteFile(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing membership: %w", err)
	}
	return nil
}

func sortedMembers(m map[identity.ID]Member) []Member {
	ids := make([]identity.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	identity.SortIDs(ids)
	out := make([]Member, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out
}

func (s *Store) removedLocked() []Removed {
	ids := make([]identity.ID, 0, len(s.removed))
	for id := range s.removed {
		ids = append(ids, id)
	}
	identity.SortIDs(ids)
	out := make([]Removed, len(ids))
	for i, id := range ids {
		out[i] = s.removed[id]
	}
	return out
}

// Members returns every member, this orchestrator included, ordered by ID.
func (s *Store) Members() []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedMembers(s.members)
}

// Peers returns the members other than this orchestrator, ordered.
func (s *Store) Peers() []identity.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []identity.ID
	for _, m := range sortedMembers(s.members) {
		if m.ID != s.self {
			out = append(out, m.ID)
		}
	}
	return out
}

// Removed returns the tombstones, ordered by ID.
func (s *Store) Removed() []Removed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removedLocked()
}

// Has reports whether id is a member.
func (s *Store) Has(id identity.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.members[id]
	return ok
}

// Add makes ids members (trust reached them) and returns those that were
// not, written through before it returns.
func (s *Store) Add(ids []identity.ID, by string, now time.Time) ([]identity.ID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var added []identity.ID
	prevRemoved := map[identity.ID]Removed{}
	for _, id := range ids {
		if _, ok := s.members[id]; ok {
			continue
		}
		if len(s.members)+len(s.removed) >= MaxMembers {
			break
		}
		if r, ok := s.removed[id]; ok {
			prevRemoved[id] = r
			delete(s.removed, id)
		}
		s.members[id] = Member{ID: id, Since: now.UTC(), By: by}
		added = append(added, id)
	}
	if len(added) == 0 {
		return nil, nil
	}
	if err := s.writeLocked(); err != nil {
		for _, id := range added {
			delete(s.members, id)
		}
		for id, r := range prevRemoved {
			s.removed[id] = r
		}
		return nil, err
	}
	identity.SortIDs(added)
	return added, nil
}

// Remove removes id if it became a member before at (a removal notice
// issued at `at` never undoes a later re-add). It reports whether id was
// removed. This orchestrator cannot be removed from its own mesh.
func (s *Store) Remove(id identity.ID, by string, at time.Time) (bool, error) {
	if id == s.self {
		return false, fmt.Errorf("%s is this orchestrator: it cannot remove itself", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[id]
	if !ok || !m.Since.Before(at) {
		return false, nil
	}
	prev, hadTomb := s.removed[id]
	delete(s.members, id)
	s.removed[id] = Removed{ID: id, At: at.UTC(), By: by}
	if err := s.writeLocked(); err != nil {
		s.members[id] = m
		if hadTomb {
			s.removed[id] = prev
		} else {
			delete(s.removed, id)
		}
		return false, err
	}
	return true, nil
}
