// Package audit owns the tamper-evident audit log (DESIGN §8.6): one JSON
// line per security event in var/log/clishd/audit.jsonl (0600), each line
// carrying its sequence number and the SHA-256 of the previous line, so an
// edited, deleted or reordered line breaks the chain at a line Verify names.
//
// The canonical form of a record is the exact line written: the hash is
// taken over the bytes on disk (line plus its newline), never over a
// re-encoding, so an admin can check a link with
// `sed -n Np audit.jsonl | sha256sum`.
package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Genesis is the prev of the first record.
var Genesis = strings.Repeat("0", 64)

// Event is what a caller records. Never put a secret in it.
type Event struct {
	Type     string            `json:"type"` // login, logout, command, trust, revoke, block, membership, expert, lockout, alarm, unseal, api ...
	User     string            `json:"user,omitempty"`
	Domain   string            `json:"domain,omitempty"`
	Provider string            `json:"provider,omitempty"`
	Source   string            `json:"source,omitempty"`
	Command  string            `json:"command,omitempty"`
	Result   string            `json:"result,omitempty"` // ok, failed, refused ...
	Reason   string            `json:"reason,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
}

// Record is one line of the log.
type Record struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Event
	Prev string `json:"prev"`
}

// Log appends records. It is safe for concurrent use.
type Log struct {
	path string
	// Notify, when set, also gets every record (the daemon's log/journald).
	Notify func(Record)

	syncMu sync.Mutex
	synced uint64 // the highest seq known to be on disk

	mu   sync.Mutex
	f    *os.File
	seq  uint64
	prev string
	now  func() time.Time
}

// Open opens (creating it 0600 if needed) the log at path and finds the
// chain's head. A torn last line (a crash in the middle of a write) is cut
// off and the cut recorded, so the chain stays verifiable.
func Open(path string) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("creating audit directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	// An existing file keeps its mode only if nobody loosened it: fix it.
	f.Chmod(0o600)
	l := &Log{path: path, f: f, prev: Genesis, now: time.Now}
	b, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading audit log: %w", err)
	}
	torn := 0
	if n := len(b); n > 0 && b[n-1] != '\n' {
		i := bytes.LastIndexByte(b, '\n')
		torn = n - (i + 1)
		if err := f.Truncate(int64(i + 1)); err != nil {
			f.Close()
			return nil, fmt.Errorf("cutting a torn audit line: %w", err)
		}
		b = b[:i+1]
	}
	if i := bytes.LastIndexByte(b[:max(len(b)-1, 0)], '\n'); len(b) > 0 {
		last := b[i+1:]
		var r Record
		if err := json.Unmarshal(last, &r); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit log %s: last line is not a record (%v): run audit verify", path, err)
		}
		l.seq = r.Seq
		l.prev = hashLine(last)
	}
	if torn > 0 {
		l.Record(Event{Type: "audit", Result: "repaired", Reason: fmt.Sprintf("cut a torn last line of %d bytes left by a crash", torn)})
	}
	return l, nil
}

func hashLine(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

// Record appends e as one line and syncs it to disk before returning: an
// event the daemon acted on is never lost in a crash.
func (l *Log) Record(e Event) error { return l.RecordAll([]Event{e}) }

// RecordAll appends es in order, one line each, with a single write and a
// single sync: a trust request that pins 63 orchestrators records 63
// events, and 63 syncs made it wait seconds on a busy disk.
func (l *Log) RecordAll(es []Event) error {
	if l == nil || len(es) == 0 {
		return nil
	}
	l.mu.Lock()
	seq, prev := l.seq, l.prev
	var buf []byte
	rs := make([]Record, 0, len(es))
	for _, e := range es {
		r := Record{Seq: seq + 1, Time: l.now().UTC(), Event: e, Prev: prev}
		line, err := json.Marshal(r)
		if err != nil {
			l.mu.Unlock()
			return fmt.Errorf("encoding audit record: %w", err)
		}
		line = append(line, '\n')
		buf = append(buf, line...)
		seq, prev = r.Seq, hashLine(line)
		rs = append(rs, r)
	}
	if _, err := l.f.Write(buf); err != nil {
		l.mu.Unlock()
		return fmt.Errorf("writing audit record: %w", err)
	}
	l.seq, l.prev = seq, prev
	notify := l.Notify
	l.mu.Unlock()
	if err := l.syncTo(seq); err != nil {
		return err
	}
	if notify != nil {
		for _, r := range rs {
			notify(r)
		}
	}
	return nil
}

// syncTo returns once record seq is on disk. Concurrent callers share one
// fsync (group commit): under a burst of API requests each waits for at
// most one sync instead of queueing behind one sync per record.
func (l *Log) syncTo(seq uint64) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.synced >= seq {
		return nil
	}
	l.mu.Lock()
	target := l.seq
	l.mu.Unlock()
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("syncing audit log: %w", err)
	}
	l.synced = target
	return nil
}

// Head returns the last sequence number and the hash of the last line.
func (l *Log) Head() (uint64, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.prev
}

// Path is the log's file.
func (l *Log) Path() string { return l.path }

// Close closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// BreakError names the first line whose chain link is broken.
type BreakError struct {
	Line   int // 1-based
	Reason string
}

func (e *BreakError) Error() string {
	return fmt.Sprintf("audit log broken at line %d: %s", e.Line, e.Reason)
}

// Verify reads the log at path and checks every link: each line is a
// record, sequence numbers count up by one from 1, and each prev is the
// hash of the line before. It returns the number of records, or a
// *BreakError naming the first bad line.
func Verify(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	prev, n := Genesis, 0
	for {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			return n, nil
		}
		if err != nil && err != io.EOF {
			return n, fmt.Errorf("reading audit log: %w", err)
		}
		n++
		if line[len(line)-1] != '\n' {
			return n - 1, &BreakError{Line: n, Reason: "unterminated last line"}
		}
		var rec Record
		if jerr := json.Unmarshal(line, &rec); jerr != nil {
			return n - 1, &BreakError{Line: n, Reason: "not a record: " + jerr.Error()}
		}
		if rec.Seq != uint64(n) {
			return n - 1, &BreakError{Line: n, Reason: fmt.Sprintf("sequence %d where %d was expected (a line was deleted, inserted or moved)", rec.Seq, n)}
		}
		if rec.Prev != prev {
			return n - 1, &BreakError{Line: n, Reason: "prev does not match the hash of line " + fmt.Sprint(n-1) + " (that line was edited, or lines were removed or reordered)"}
		}
		prev = hashLine(line)
	}
}

// VerifyFile is Verify on the file at path.
func VerifyFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("opening audit log: %w", err)
	}
	defer f.Close()
	return Verify(f)
}

// Tail returns the last n lines of the log at path, oldest first.
func Tail(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	defer f.Close()
	if n <= 0 {
		return nil, nil
	}
	ring := make([]string, 0, n)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if len(ring) == n {
			ring = ring[1:]
		}
		ring = append(ring, sc.Text())
	}
	return ring, sc.Err()
}
