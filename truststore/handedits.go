package truststore

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/orchd/orchd/atomicfile"
)

// adoptDiskBlockedLocked re-reads the block list before the daemon changes
// it, so that an administrator's hand edits since the last read (lines
// added, removed, commented) are merged into the write instead of being
// overwritten by the daemon's older copy (DESIGN §12). The file on disk
// wins: every change the daemon makes is written through at once, so the
// disk holds everything memory does plus the hand edits. A newly blocked
// key also loses its pin, as at load. A file that no longer parses is an
// error naming the line, and nothing changes: the daemon never overwrites a
// hand edit it cannot read. It reports whether anything changed.
func (s *Store) adoptDiskBlockedLocked() (bool, error) {
	bf := &blockedFile{header: defaultBlockedHeader}
	b, err := os.ReadFile(s.blockedPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return false, fmt.Errorf("reading blocked fingerprints: %w", err)
	default:
		if bf, err = parseBlocked(b); err != nil {
			return false, fmt.Errorf("blocked fingerprints %s (edited by hand?) %w: fix the file, then retry; nothing changed", s.blockedPath, err)
		}
	}
	changed := !slices.Equal(bf.list(), s.blocked.list())
	s.blocked = bf
	unpinned := false
	for id, p := range s.pins {
		if bf.has(p.Fingerprint) {
			delete(s.pins, id)
			unpinned = true
		}
	}
	if unpinned {
		// Memory keeps the pin dropped even if this write fails: the
		// block on disk makes every later load drop it too.
		if err := s.writePinsLocked(); err != nil && !atomicfile.Renamed(err) {
			return true, err
		}
	}
	return changed || unpinned, nil
}
