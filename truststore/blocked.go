package truststore

import (
	"fmt"
	"sort"
	"strings"

	"github.com/orchd/orchd/atomicfile"
	"github.com/orchd/orchd/identity"
)

// defaultBlockedHeader heads a block list written when the file had no
// comment of its own, so an administrator opening it knows what it is.
const defaultBlockedHeader = `# Blocked fingerprints: orchd never trusts these keys.
# One SHA256:... fingerprint a line, as ssh-keygen -lf prints it; '#' starts a
# comment. Managed by "set/delete maestro authentication block fingerprint FP";
# hand edits take effect at SIGHUP (systemctl reload clishd) or the next start,
# and are kept when the daemon next writes this file.
`

// blockedFile is the block list as written on disk, comments included, so
// that rewriting it after a change keeps what the administrator wrote.
type blockedFile struct {
	header  string // leading comment block, up to its last blank line
	entries []blockedEntry
	trailer []string // lines after the last fingerprint
}

type blockedEntry struct {
	fp     string
	before []string // comment and blank lines just above, kept with it
	inline string   // "# ..." after the fingerprint, "" if none
}

// parseBlocked parses the block list. A line that is neither blank, a
// comment, nor exactly one valid fingerprint is an error naming the line
// number and the token: skipping it would silently drop a block.
func parseBlocked(b []byte) (*blockedFile, error) {
	f := &blockedFile{}
	text := strings.TrimSuffix(string(b), "\n")
	var pending []string
	headerDone := false
	if text != "" {
		for n, line := range strings.Split(text, "\n") {
			line = strings.TrimSuffix(line, "\r")
			t := strings.TrimSpace(line)
			if t == "" || strings.HasPrefix(t, "#") {
				pending = append(pending, line)
				continue
			}
			tok, rest, found := strings.Cut(t, "#")
			inline := ""
			if found {
				inline = "#" + rest
			}
			fields := strings.Fields(tok)
			if len(fields) != 1 {
				return nil, fmt.Errorf("line %d: %q: expected one fingerprint a line (# starts a comment)", n+1, strings.TrimSpace(tok))
			}
			fp, err := identity.ParseFingerprint(fields[0])
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			if !headerDone {
				// The header is the leading block up to its last blank line;
				// comments right above the first fingerprint are its own.
				cut := len(pending)
				for i := len(pending) - 1; i >= 0; i-- {
					if strings.TrimSpace(pending[i]) == "" {
						cut = i + 1
						break
					}
				}
				f.header, pending, headerDone = joinLines(pending[:cut]), pending[cut:], true
			}
			f.entries = append(f.entries, blockedEntry{fp: fp, before: pending, inline: inline})
			pending = nil
		}
	}
	if !headerDone {
		f.header, pending = joinLines(pending), nil
	}
	f.trailer = pending
	if !strings.Contains(f.header, "#") {
		f.header = defaultBlockedHeader
	}
	return f, nil
}

func joinLines(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return strings.Join(l, "\n") + "\n"
}

func (f *blockedFile) format() []byte {
	var sb strings.Builder
	sb.WriteString(f.header)
	for _, e := range f.entries {
		sb.WriteString(joinLines(e.before))
		sb.WriteString(e.fp)
		if e.inline != "" {
			sb.WriteString(" " + e.inline)
		}
		sb.WriteString("\n")
	}
	sb.WriteString(joinLines(f.trailer))
	return []byte(sb.String())
}

func (f *blockedFile) has(fp string) bool {
	for _, e := range f.entries {
		if e.fp == fp {
			return true
		}
	}
	return false
}

func (f *blockedFile) list() []string {
	seen := map[string]bool{}
	out := []string{}
	for _, e := range f.entries {
		if !seen[e.fp] {
			seen[e.fp] = true
			out = append(out, e.fp)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Store) writeBlockedLocked() error {
	if err := atomicfile.WriteFile(s.blockedPath, s.blocked.format(), 0o644); err != nil {
		return fmt.Errorf("writing blocked fingerprints: %w", err)
	}
	return nil
}

// Block adds fp to the block list and removes every pin with that key (see
// the package comment). Blocking an already blocked fingerprint is a no-op.
// The block is on disk before the pins are touched, so a crash in between
// leaves the key blocked, and the next Open drops the stale pin.
func (s *Store) Block(fp string) error {
	canon, err := identity.ParseFingerprint(fp)
	if err != nil {
		return err
	}
	s.mu.Lock()
	adopted, err := s.adoptDiskBlockedLocked()
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("blocking %s: %w", canon, err)
	}
	if s.blocked.has(canon) {
		s.mu.Unlock()
		if adopted {
			s.changed()
		}
		return nil
	}
	old := s.blocked.entries
	s.blocked.entries = append(append([]blockedEntry(nil), old...), blockedEntry{
		fp: canon, inline: "# blocked " + s.now().UTC().Format("2006-01-02T15:04:05Z"),
	})
	if err := s.writeBlockedLocked(); err != nil {
		if !atomicfile.Renamed(err) { // memory follows the disk
			s.blocked.entries = old
		}
		s.mu.Unlock()
		if adopted || atomicfile.Renamed(err) {
			s.changed()
		}
		return fmt.Errorf("blocking %s: %w", canon, err)
	}
	unpinned := false
	for id, p := range s.pins {
		if p.Fingerprint == canon {
			delete(s.pins, id)
			unpinned = true
		}
	}
	if unpinned {
		// Memory keeps the pin removed even if this write fails: the block
		// already on disk makes the next load drop it too.
		err = s.writePinsLocked()
	}
	s.mu.Unlock()
	s.changed()
	if err != nil {
		return fmt.Errorf("blocking %s: removing its pin: %w", canon, err)
	}
	return nil
}

// Unblock removes fp from the block list. It does not re-trust the key.
func (s *Store) Unblock(fp string) error {
	canon, err := identity.ParseFingerprint(fp)
	if err != nil {
		return err
	}
	s.mu.Lock()
	adopted, err := s.adoptDiskBlockedLocked()
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("unblocking %s: %w", canon, err)
	}
	if adopted {
		defer s.changed() // after the unlock below (defers run last)
	}
	if !s.blocked.has(canon) {
		s.mu.Unlock()
		return fmt.Errorf("fingerprint %s is not blocked (show maestro authentication blocked lists the blocked ones)", canon)
	}
	old := s.blocked.entries
	var kept []blockedEntry
	for _, e := range old {
		if e.fp != canon {
			kept = append(kept, e)
		}
	}
	s.blocked.entries = kept
	if err := s.writeBlockedLocked(); err != nil {
		if !atomicfile.Renamed(err) { // memory follows the disk
			s.blocked.entries = old
		}
		s.mu.Unlock()
		if atomicfile.Renamed(err) {
			s.changed()
		}
		return fmt.Errorf("unblocking %s: %w", canon, err)
	}
	s.mu.Unlock()
	s.changed()
	return nil
}
