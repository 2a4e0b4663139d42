package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteReadStaleness(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run", "state.json")
	if _, err := Read(p, time.Now()); !errors.Is(err, ErrMissing) {
		t.Fatalf("missing file: %v", err)
	}
	now := time.Now()
	f := &File{Orchestrator: Orchestrator{ID: "1_1", Site: 1, Member: 1},
		Daemon: Daemon{PID: os.Getpid(), UpdatedAt: now, RefreshSeconds: 1}}
	if err := Write(p, f); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		at    time.Time
		pid   int
		stale string
	}{
		{"fresh", now.Add(500 * time.Millisecond), os.Getpid(), ""},
		{"old", now.Add(10 * time.Second), os.Getpid(), "stuck"},
		{"dead", now, 1 << 30, "not running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.Daemon.PID = tc.pid
			if err := Write(p, f); err != nil {
				t.Fatal(err)
			}
			g, err := Read(p, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			s := g.Staleness()
			if (tc.stale == "") != (s == "") || !strings.Contains(s, tc.stale) {
				t.Fatalf("Staleness() = %q, want containing %q", s, tc.stale)
			}
		})
	}
	os.WriteFile(p, []byte(`{"schema": 99}`), 0o644)
	if _, err := Read(p, now); err == nil || !strings.Contains(err.Error(), "schema 99") {
		t.Fatalf("future schema: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"schema":1,"orchestrator":{"id":"1_1"},"peers":[{"id":"1_2","status":"Unknown"}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) { Decode(b) })
}

// TestTouchKeepsFresh: the daemon touches an unchanged file instead of
// rewriting it; readers count the touch, also one made while they read,
// but not a time in their future.
func TestTouchKeepsFresh(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	now := time.Now()
	written := now.Add(-10 * time.Second)
	f := &File{Orchestrator: Orchestrator{ID: "1_1", Site: 1, Member: 1},
		Daemon: Daemon{PID: os.Getpid(), UpdatedAt: written, RefreshSeconds: 1}}
	if err := Write(p, f); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		touched time.Time
		wantAge time.Duration
	}{
		{"untouched since the write", written, 10 * time.Second},
		{"touched 200ms ago", now.Add(-200 * time.Millisecond), 200 * time.Millisecond},
		{"touched while it was read (just after now)", now.Add(20 * time.Millisecond), 0},
		{"touched in the reader's future", now.Add(time.Hour), 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Chtimes(p, tc.touched, tc.touched); err != nil {
				t.Fatal(err)
			}
			g, err := Read(p, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(g.StateAgeSeconds * float64(time.Second)); got < tc.wantAge-10*time.Millisecond || got > tc.wantAge+10*time.Millisecond {
				t.Errorf("age %v, want %v", got, tc.wantAge)
			}
		})
	}
}
