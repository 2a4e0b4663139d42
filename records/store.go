package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/orchd/orchd/atomicfile"
)

// Schema is the revocations.json schema this package reads and writes.
const Schema = 1

// MaxRecords bounds the store: records come only from trusted issuers,
// and a mesh sees a handful of revocations a year, but a bug or a
// compromised issuer must not grow the file (and every session start's
// exchange) without bound.
const MaxRecords = 2048

// Store keeps the verified records, written through (atomic write, fsync,
// rename) before Add returns: a revocation that was reported done survives
// kill -9. It is safe for concurrent use.
type Store struct {
	path string

	mu   sync.Mutex
	recs []Record // in the order added
	keys map[string]bool
}

type fileJSON struct {
	Schema  int      `json:"schema"`
	Records []Record `json:"records"`
}

// Open loads path; a missing file is an empty store, a damaged one an error
// naming the file (a trust decision is never guessed at).
func Open(path string) (*Store, error) {
	s := &Store{path: path, keys: map[string]bool{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("reading records: %w", err)
	}
	recs, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("records %s: %w", path, err)
	}
	for _, r := range recs {
		if !s.keys[r.Key()] {
			s.keys[r.Key()] = true
			s.recs = append(s.recs, r)
		}
	}
	return s, nil
}

// Decode parses a records file.
func Decode(b []byte) ([]Record, error) {
	var f fileJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if f.Schema != Schema {
		return nil, fmt.Errorf("schema %d, this orchd reads schema %d", f.Schema, Schema)
	}
	if len(f.Records) > MaxRecords {
		return nil, fmt.Errorf("%d records, at most %d", len(f.Records), MaxRecords)
	}
	return f.Records, nil
}

func encode(recs []Record) ([]byte, error) {
	f := fileJSON{Schema: Schema, Records: recs}
	if f.Records == nil {
		f.Records = []Record{}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Has reports whether the record with key is kept.
func (s *Store) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[key]
}

// All returns the records, oldest issued first.
func (s *Store) All() []Record {
	s.mu.Lock()
	out := append([]Record(nil), s.recs...)
	s.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].IssuedAt.Before(out[j].IssuedAt) })
	return out
}

// Add keeps r (already verified by the caller) and reports whether it was
// new. The file is written before Add returns; on a failed write nothing is
// kept.
func (s *Store) Add(r Record) (bool, error) {
	if err := r.check(); err != nil {
		return false, err
	}
	k := r.Key()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[k] {
		return false, nil
	}
	if len(s.recs) >= MaxRecords {
		return false, fmt.Errorf("keeping record: the store holds its maximum of %d records", MaxRecords)
	}
	next := append(append([]Record(nil), s.recs...), r)
	b, err := encode(next)
	if err != nil {
		return false, fmt.Errorf("encoding records: %w", err)
	}
	if err := atomicfile.WriteFile(s.path, b, 0o600); err != nil {
		return false, fmt.Errorf("writing records: %w", err)
	}
	s.recs = next
	s.keys[k] = true
	return true, nil
}
