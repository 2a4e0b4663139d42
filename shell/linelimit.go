package shell

import (
	"bytes"
	"errors"
	"fmt"
)

// MaxLine is the longest line the shell accepts, in bytes (DESIGN §12):
// far above any command (the longest real one, a trust of 64 IDs with
// their fingerprints, is ~4 KiB), and small enough that a client streaming
// bytes without a newline costs the daemon nothing.
const MaxLine = 64 << 10

// MaxTermLine is the longest line the line editor takes on a terminal. The
// editor (readline) redraws the whole line on every keystroke, so a line of
// n bytes costs O(n²): measured here ~0.7 s of CPU and ~8 MB of redraw
// output for 4 KiB, ~3 s for 8 KiB, minutes for 64 KiB. Typed or pasted
// commands are far shorter: the longest, naming 63 fingerprints, is ~3.5
// KiB and is meant for clish -c / ssh exec (MaxLine applies there), since
// at a terminal the fingerprints are confirmed at prompts.
const MaxTermLine = 4 << 10

// ErrLineTooLong ends a session whose client sent a line over its limit:
// the line is refused and the caller disconnects the client.
var ErrLineTooLong = errors.New("line too long: refused")

// lineTooLong is the error for a limit; it matches ErrLineTooLong.
func lineTooLong(limit int) error { return &tooLongError{limit} }

type tooLongError struct{ limit int }

func (e *tooLongError) Error() string {
	return fmt.Sprintf("line longer than %d KiB: refused", e.limit>>10)
}

func (e *tooLongError) Is(target error) bool { return target == ErrLineTooLong }

// IsLineTooLong reports whether err is ErrLineTooLong.
func IsLineTooLong(err error) bool { return errors.Is(err, ErrLineTooLong) }

// lineMeter counts the bytes the line editor has taken since the last end
// of line, so a line readline is still building can be cut off too.
type lineMeter struct{ n, limit int }

// add accounts for p and reports whether the current line went over the
// limit.
func (m *lineMeter) add(p []byte) bool {
	for _, b := range p {
		switch b {
		case '\r', '\n', 3: // Enter, or Ctrl-C abandoning the line
			m.n = 0
		default:
			m.n++
		}
	}
	return m.n > m.limit
}

// over reports whether the current line, continued by the bytes already
// received (ahead), goes over the limit before it ends. The editor takes
// one byte at a time and redraws the whole line for each, so a line is
// refused as soon as the bytes queued for it show it too long: a client
// streaming without a newline then costs a few redraws, not the ~8 MB of
// redraw output (and the RSS peak) of a line fed to the limit.
func (m *lineMeter) over(ahead []byte) bool {
	room := m.limit - m.n
	if len(ahead) <= room {
		return false
	}
	// IndexByte is vectorised: this runs for every byte the editor takes.
	w := ahead[:room+1]
	return bytes.IndexByte(w, '\n') < 0 && bytes.IndexByte(w, '\r') < 0 && bytes.IndexByte(w, 3) < 0
}

// refuseLine marks the stream as having carried an over-long line and
// closes it: the editor and any prompt see the end of input, and the
// session ends with ErrLineTooLong.
func (in *input) refuseLine() {
	in.mu.Lock()
	in.tooLong = true
	in.closed = true
	in.pending = nil
	in.cond.Broadcast()
	in.mu.Unlock()
}

func (in *input) lineTooLong() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.tooLong
}
