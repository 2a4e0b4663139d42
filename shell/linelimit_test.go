package shell

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// endless yields b forever: a client streaming without a newline.
type endless struct {
	b    byte
	read int
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	e.read += len(p)
	return len(p), nil
}

func TestLineLimitInteractive(t *testing.T) {
	for _, term := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "terminal"}[term], func(t *testing.T) {
			e, r := testEngine(t)
			src := &endless{b: 'a'}
			s := NewSession(e, SessionOptions{In: src, Out: io.Discard, Term: term, Prompt: "> "})
			if want := map[bool]int{false: MaxLine, true: MaxTermLine}[term]; s.in.meter.limit != want {
				t.Fatalf("limit %d, want %d", s.in.meter.limit, want)
			}
			if term {
				// readline's redraws make a long line quadratic: a short
				// limit keeps the test fast on a loaded machine.
				s.in.meter.limit = 512
			}
			wantRefused(t, s)
			// Read-ahead is bounded: the pump stops at maxPending.
			if src.read > MaxLine+2*maxPending {
				t.Errorf("read %d bytes of the endless line, want about %d", src.read, MaxLine)
			}
			if len(r.get()) != 0 {
				t.Errorf("ran %q", r.get())
			}
		})
	}
}

func TestLineLimitBoundary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra int // bytes beyond MaxLine in the argument line
		ok    bool
	}{
		{"exactly 64 KiB", 0, true},
		{"one byte over", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, r := testEngine(t)
			cmd := "set banner message "
			line := cmd + strings.Repeat("x", MaxLine-len(cmd)+tc.extra)
			s := NewSession(e, SessionOptions{In: strings.NewReader(line + "\nshow users\n"), Out: io.Discard, Prompt: "> "})
			err := s.RunInteractive(context.Background())
			if tc.ok {
				if err != nil || len(r.get()) != 2 {
					t.Errorf("err %v, ran %d commands, want 2", err, len(r.get()))
				}
				return
			}
			if !IsLineTooLong(err) || len(r.get()) != 0 {
				t.Errorf("err %v, ran %d commands; want ErrLineTooLong and nothing run (not even the next line)", err, len(r.get()))
			}
		})
	}
}

func TestLineLimitExecScriptAndPrompt(t *testing.T) {
	e, r := testEngine(t)
	errOut := &strings.Builder{}
	s := NewSession(e, SessionOptions{Out: io.Discard, Err: errOut})
	long := "show users " + strings.Repeat("x", MaxLine)
	if code := s.Exec(context.Background(), long); code != ExitUsage || !strings.Contains(errOut.String(), "longer than 64 KiB") {
		t.Errorf("exec: code %d, %q", code, errOut)
	}
	errOut.Reset()
	if code := s.RunScript(context.Background(), strings.NewReader("show users\n"+long+"\nshow users\n")); code != ExitUsage ||
		!strings.Contains(errOut.String(), "line 2: line longer than 64 KiB") {
		t.Errorf("script: code %d, %q", code, errOut)
	}
	if n := len(r.get()); n != 1 {
		t.Errorf("ran %d commands, want 1", n)
	}

	// A prompt's answer is a line too.
	pe, _ := promptEngine(t)
	errOut.Reset()
	ps := NewSession(pe, SessionOptions{In: &endless{b: 'p'}, Out: io.Discard, Err: errOut})
	if code := ps.Exec(context.Background(), "set password"); code != ExitFailed || !strings.Contains(errOut.String(), "longer than 64 KiB") {
		t.Errorf("prompt: code %d, %q", code, errOut)
	}
}

// History keeps only lines that parsed: a password typed at the prompt by
// mistake is not a command, and must not be kept.
func TestHistoryKeepsOnlyParsedLines(t *testing.T) {
	hist := filepath.Join(t.TempDir(), "history")
	e, _ := testEngine(t)
	ft := startTerm(t, e, SessionOptions{HistoryFile: hist})
	m := ft.waitOut(0, "1_1> ")
	ft.typeKeys("Sup3r-secret-pw\r")
	m = ft.waitOut(m, "unknown word")
	ft.typeKeys("show users\r")
	m = ft.waitOut(m, "ran show users")
	ft.typeKeys("exit\r")
	if err := <-ft.done; err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != "show users\nexit\n" {
		t.Errorf("history %q, want only the parsed lines", got)
	}
	_ = m
}

// countWriter counts what the editor draws.
type countWriter struct{ n atomic.Int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

// A terminal line is refused as soon as the bytes queued for it show it
// too long, before the editor redraws it byte by byte: at the full 4 KiB
// limit that redraw was ~8 MB of output (and the daemon's RSS peak).
func TestLineLimitRefusedAhead(t *testing.T) {
	e, r := testEngine(t)
	var out countWriter
	s := NewSession(e, SessionOptions{In: &endless{b: 'a'}, Out: &out, Term: true, Prompt: "> "})
	wantRefused(t, s)
	if n := out.n.Load(); n > 256<<10 {
		t.Errorf("the editor drew %d bytes before the refusal, want under 256 KiB", n)
	}
	if len(r.get()) != 0 {
		t.Errorf("ran %q", r.get())
	}
}

// Looking ahead refuses nothing that fits: a pasted block whose lines are
// each within the limit runs line by line, and Ctrl-C starts a line anew.
func TestLineLimitAheadBoundary(t *testing.T) {
	const limit = 512
	cmd := "set banner message "
	for _, tc := range []struct {
		name  string
		input string
		ran   int
		ok    bool
	}{
		{"exactly the limit, then more lines", cmd + strings.Repeat("x", limit-len(cmd)) + "\rshow users\rexit\r", 2, true},
		{"one byte over, then more lines", cmd + strings.Repeat("x", limit-len(cmd)+1) + "\rshow users\rexit\r", 0, false},
		{"Ctrl-C resets the count", strings.Repeat("y", limit-10) + "\x03" + cmd + strings.Repeat("x", limit-len(cmd)) + "\rexit\r", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, r := testEngine(t)
			s := NewSession(e, SessionOptions{In: strings.NewReader(tc.input), Out: io.Discard, Term: true, Prompt: "> "})
			s.in.meter.limit = limit // readline's redraws are quadratic: keep it quick
			err := s.RunInteractive(context.Background())
			if tc.ok && err != nil || !tc.ok && !IsLineTooLong(err) {
				t.Errorf("RunInteractive: %v, want ok=%v", err, tc.ok)
			}
			if n := len(r.get()); n != tc.ran {
				t.Errorf("ran %d commands %q, want %d", n, r.get(), tc.ran)
			}
		})
	}
}

// wantRefused runs s, fed an endless line, and expects ErrLineTooLong.
func wantRefused(t *testing.T, s *Session) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.RunInteractive(context.Background()) }()
	select {
	case err := <-done:
		if !IsLineTooLong(err) {
			t.Fatalf("RunInteractive: %v, want ErrLineTooLong", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("an endless line did not end the session")
	}
}
