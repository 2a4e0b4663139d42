// Package state owns the shared state file run/clishd/state.json: its schema
// (the orch_stat --json contract of DESIGN §2 plus daemon bookkeeping), the
// daemon's atomic writes and the readers' staleness verdict. orch_stat and
// hcp depend on this package and nothing else of the daemon.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/orchd/orchd/atomicfile"
)

// Peer statuses, exactly as DESIGN §5.4 names them.
const (
	Authenticated = "Authenticated"
	Unknown       = "Unknown"
	Unreachable   = "Unreachable"
	Untrusted     = "Untrusted"
)

// Sync port states.
const (
	PortUp      = "up"
	PortDown    = "down"
	PortMissing = "missing"
)

// SchemaVersion is bumped when a key changes meaning; keys are only added.
const SchemaVersion = 1

// Orchestrator describes this node.
type Orchestrator struct {
	ID           string    `json:"id"`
	Site         int       `json:"site"`
	Member       int       `json:"member"`
	Fingerprint  string    `json:"fingerprint"`
	CertNotAfter time.Time `json:"cert_not_after"`
	// CertRenewalError is the last failed renewal, "" when none failed.
	CertRenewalError string `json:"cert_renewal_error,omitempty"`
}

// SyncPort is one sync interface as syncport last saw it.
type SyncPort struct {
	Role      string    `json:"role"`
	Interface string    `json:"interface"`
	State     string    `json:"state"`
	Addresses []string  `json:"addresses"`
	Since     time.Time `json:"since"`
	// Error explains a failure to configure the port ("" when fine).
	Error string `json:"error,omitempty"`
}

// Peer is our view of one expected peer.
type Peer struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	Fingerprint string    `json:"fingerprint"`
	Reason      string    `json:"reason"`
	Since       time.Time `json:"since"`
	Port        string    `json:"port"`
	// Address is the peer's sync address we dial.
	Address string `json:"address,omitempty"`
	// CertNotAfter is the expiry of the certificate the peer last presented.
	CertNotAfter *time.Time `json:"cert_not_after,omitempty"`
	// PresentedFingerprint is what a refused or failed handshake presented
	// since the last session, when it differs from Fingerprint: unverified
	// (anyone can present anything), so it is kept apart from Fingerprint,
	// which holds only the pinned or last authenticated key.
	PresentedFingerprint string `json:"presented_fingerprint,omitempty"`
}

// Daemon is bookkeeping that lets readers judge freshness.
type Daemon struct {
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	// UpdatedAt is when the content was last written; without a change the
	// daemon only touches the file (its mtime) every RefreshSeconds.
	UpdatedAt time.Time `json:"updated_at"`
	// RefreshSeconds is how often the daemon rewrites or touches the file
	// at the latest.
	RefreshSeconds float64 `json:"refresh_seconds"`
	// ConfigState is "saved" or "unsaved" (running config vs saved).
	ConfigState string `json:"config_state,omitempty"`
	Version     string `json:"version,omitempty"`
}

// File is the whole state file.
type File struct {
	Schema       int          `json:"schema"`
	Orchestrator Orchestrator `json:"orchestrator"`
	SyncPorts    []SyncPort   `json:"sync_ports"`
	Peers        []Peer       `json:"peers"`
	Mesh         Mesh         `json:"mesh"`
	// StateAgeSeconds is filled in by readers from Daemon.UpdatedAt.
	StateAgeSeconds float64 `json:"state_age_seconds"`
	Daemon          Daemon  `json:"daemon"`
	// Logins is the login lockout table (absent from older daemons).
	Logins *Logins `json:"logins,omitempty"`
}

// Write stores f at path atomically. run/ is volatile, so no fsync: readers
// only need to never see a torn file.
func Write(path string, f *File) error {
	var w Writer
	return w.Write(path, f)
}

// Writer writes state files with one buffer it keeps: with 63 peers each
// file is ~144 KB, and a fresh one per write was most of an idle daemon's
// garbage (each GC cycle can stall the liveness tick on a busy host).
//
// It also keeps each mesh view's encoding, reused while the file's Mesh
// holds the same map for that orchestrator: callers replace a view to
// change it and never change one in place after a write (the daemon's
// views are immutable).
type Writer struct {
	mu   sync.Mutex
	buf  []byte
	rows map[string]encodedRow
}

// Write is the package's Write, reusing w's buffer.
func (w *Writer) Write(path string, f *File) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	f.Schema = SchemaVersion
	if f.Mesh == nil {
		f.Mesh = map[string]map[string]string{}
	}
	if n := encodedSize(f); cap(w.buf) < n {
		w.buf = make([]byte, 0, n)
	}
	if w.rows == nil {
		w.rows = map[string]encodedRow{}
	}
	b, err := appendEncode(w.buf[:0], f, w.rows)
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	b = append(b, '\n')
	w.buf = b[:0]
	return atomicfile.WriteFileVolatile(path, b, 0o644)
}

// ErrMissing means there is no state file: the daemon never ran under this root.
var ErrMissing = errors.New("state file missing")

// Read loads the state file and fills StateAgeSeconds relative to now: the
// age of the newer of updated_at and the file's modification time (the
// daemon touches an unchanged file instead of rewriting it).
func Read(path string, now time.Time) (*File, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist (is clishd running? start it with: clishd run)", ErrMissing, path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(fh)
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	f, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	confirmed := f.Daemon.UpdatedAt
	// A modification time in the reader's future proves nothing, except
	// by less than touchSlack: the daemon touches the file every refresh,
	// also while we read it, and a touch just after now (orch_stat takes
	// now before reading 144 kB) once made a live daemon's file look 78 s
	// stale — the age of its content, unchanged since a trust.
	if fi, err := fh.Stat(); err == nil && fi.ModTime().After(confirmed) && !fi.ModTime().After(now.Add(touchSlack)) {
		confirmed = fi.ModTime()
	}
	f.StateAgeSeconds = max(0, now.Sub(confirmed).Seconds())
	return f, nil
}

// touchSlack is how far in the reader's future a touch still counts.
const touchSlack = time.Second

// Decode parses state-file bytes.
func Decode(b []byte) (*File, error) {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if f.Schema != SchemaVersion {
		return nil, fmt.Errorf("schema %d, this tool reads schema %d", f.Schema, SchemaVersion)
	}
	return &f, nil
}

// Staleness says why a state file cannot be believed, or "" if it is fresh.
// A file is stale when it is older than three refresh periods (at least 3 s)
// or its writer process is gone.
func (f *File) Staleness() string {
	limit := 3 * f.Daemon.RefreshSeconds
	if limit < 3 {
		limit = 3
	}
	alive := processAlive(f.Daemon.PID)
	switch {
	case !alive:
		return fmt.Sprintf("clishd (pid %d) is not running; state last written %s ago", f.Daemon.PID, fmtAge(f.StateAgeSeconds))
	case f.StateAgeSeconds > limit:
		return fmt.Sprintf("state last written %s ago (expected every %gs): clishd (pid %d) is stuck", fmtAge(f.StateAgeSeconds), f.Daemon.RefreshSeconds, f.Daemon.PID)
	}
	return ""
}

func fmtAge(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
}

// processAlive reports whether pid exists. EPERM still means it exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
