package shell

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeTerm drives RunInteractive the way an SSH client with a pty would:
// raw keystrokes in, terminal output out.
type fakeTerm struct {
	t    *testing.T
	keys *io.PipeWriter
	out  *syncBuffer
	done chan error
}

func startTerm(t *testing.T, e *Engine, opts SessionOptions) *fakeTerm {
	t.Helper()
	pr, pw := io.Pipe()
	ft := &fakeTerm{t: t, keys: pw, out: &syncBuffer{}, done: make(chan error, 1)}
	opts.In, opts.Out, opts.Term = pr, ft.out, true
	if opts.Prompt == "" {
		opts.Prompt = "1_1> "
	}
	s := NewSession(e, opts)
	go func() {
		ft.done <- s.RunInteractive(context.Background())
		pr.Close()
	}()
	t.Cleanup(func() { pw.Close() })
	return ft
}

func (ft *fakeTerm) typeKeys(s string) {
	ft.t.Helper()
	if _, err := io.WriteString(ft.keys, s); err != nil {
		ft.t.Fatalf("typing %q: %v", s, err)
	}
}

// waitOut waits until the output after mark contains want, and returns
// the new mark.
func (ft *fakeTerm) waitOut(mark int, want string) int {
	ft.t.Helper()
	waitFor(ft.t, "output "+want, func() bool { return strings.Contains(ft.out.String()[mark:], want) }, ft.out.String)
	return len(ft.out.String())
}

func TestInteractiveTerminal(t *testing.T) {
	e, r := testEngine(t)
	ft := startTerm(t, e, SessionOptions{Width: 100, Height: 40, User: "admin"})
	m := ft.waitOut(0, "1_1> ")

	ft.typeKeys("sh\t")
	m = ft.waitOut(m, "ow ") // completed to "show "

	ft.typeKeys("?")
	m = ft.waitOut(m, "maestro")
	out := ft.out.String()
	for _, want := range []string{"1_1> show ?\r\n", "commands", "list every command", "3 commands"} {
		if !strings.Contains(out, want) {
			t.Errorf("help output lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, "\n\n") || strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\n") {
		t.Errorf("bare newline on a raw terminal:\n%q", out)
	}

	ft.typeKeys("maes auth\r")
	m = ft.waitOut(m, "ran show maestro authentication\r\n")
	if got := r.get(); len(got) != 1 || got[0] != "show maestro authentication" {
		t.Errorf("ran %q, want [show maestro authentication]", got)
	}

	ft.typeKeys("set ssh port 22\x03")
	m = ft.waitOut(m, "^C")
	ft.typeKeys("show bogus\r")
	ft.waitOut(m, `unknown word "bogus" after "show"`)
	if got := r.get(); len(got) != 1 {
		t.Errorf("a cancelled or bad line ran something: %q", got)
	}

	ft.typeKeys("exit\r")
	if err := <-ft.done; err != nil {
		t.Fatalf("RunInteractive: %v", err)
	}
}

// promptEngine adds commands that prompt and one that takes over the stream.
func promptEngine(t *testing.T) (*Engine, *ran) {
	e, r := testEngine(t)
	e.Register(Command{Syntax: "set password", Help: "change password", Write: true, Run: func(c *Ctx, _ Args) error {
		pw, err := c.Prompt("password", "Password: ", true)
		if err != nil {
			return err
		}
		ok, err := c.Confirm("Really?")
		if err != nil {
			return err
		}
		r.add("password=" + pw + " confirmed=" + map[bool]string{true: "yes", false: "no"}[ok])
		return nil
	}})
	e.Register(Command{Syntax: "expert", Help: "raw stream", Run: func(c *Ctx, _ Args) error {
		raw := c.Raw()
		defer raw.Close()
		io.WriteString(raw.Out, "raw> ")
		var got []byte
		b := make([]byte, 1)
		for {
			if _, err := raw.In.Read(b); err != nil {
				return err
			}
			if b[0] == 'q' {
				break
			}
			got = append(got, b[0])
		}
		r.add("raw=" + string(got))
		return nil
	}})
	return e, r
}

func TestInteractivePromptAndTypeahead(t *testing.T) {
	e, r := promptEngine(t)
	ft := startTerm(t, e, SessionOptions{Width: 80})
	m := ft.waitOut(0, "1_1> ")
	// Everything typed at once: the editor must leave the answers to the
	// command, and the command must leave the next line to the editor.
	ft.typeKeys("set password\rs3cr\x7fret\ry\rshow users\r")
	m = ft.waitOut(m, "ran show users")
	want := []string{"password=s3cret confirmed=yes", "show users"}
	if got := r.get(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ran %q, want %q", got, want)
	}
	out := ft.out.String()
	if strings.Contains(out, "s3c") {
		t.Errorf("secret echoed:\n%q", out)
	}
	if !strings.Contains(out, "Really? [y/n] y\r\n") {
		t.Errorf("confirmation not echoed:\n%q", out)
	}

	ft.typeKeys("expert\rabc\r\nq" + "show users\r")
	m = ft.waitOut(m, "ran show users")
	want = append(want, "raw=abc\r\n", "show users")
	if got := r.get(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ran %q, want %q", got, want)
	}

	ft.typeKeys("\x04") // Ctrl-D on an empty line
	if err := <-ft.done; err != nil {
		t.Fatalf("RunInteractive: %v", err)
	}
	_ = m
}

func TestInteractiveReadOnlyAndCutOffLine(t *testing.T) {
	e, r := testEngine(t)
	ft := startTerm(t, e, SessionOptions{ReadOnlyReason: func() string { return "role monitorRole is read-only" }})
	m := ft.waitOut(0, "1_1> ")
	ft.typeKeys("set ssh port 2222\r")
	ft.waitOut(m, `"set ssh port": not allowed: this session is read-only (role monitorRole is read-only)`)
	// A line the user never finished with Enter must not run when the
	// connection drops.
	ft.typeKeys("show users")
	ft.keys.Close()
	if err := <-ft.done; err != nil {
		t.Fatalf("RunInteractive: %v", err)
	}
	if got := r.get(); len(got) != 0 {
		t.Errorf("ran %q, want nothing", got)
	}
}

func TestInteractivePlainStream(t *testing.T) {
	e, r := testEngine(t)
	out := &syncBuffer{}
	s := NewSession(e, SessionOptions{In: strings.NewReader("show users\nshow maestro ?\nshow bogus\nexit\nshow users\n"), Out: out, Prompt: "> "})
	if err := s.RunInteractive(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"> ran show users\n", "authentication  peers, status", `unknown word "bogus"`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\r") {
		t.Errorf("a plain stream got \\r:\n%q", got)
	}
	if n := len(r.get()); n != 1 {
		t.Errorf("ran %d commands, want 1 (exit stops the session)", n)
	}
}

func TestInteractiveHistoryResizeAndNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	hist := filepath.Join(t.TempDir(), "history")
	e, r := testEngine(t)

	ft := startTerm(t, e, SessionOptions{HistoryFile: hist})
	m := ft.waitOut(0, "1_1> ")
	ft.typeKeys("show users\r")
	m = ft.waitOut(m, "ran show users")
	ft.typeKeys("exit\r")
	if err := <-ft.done; err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(hist)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("history mode %v, want 0600", st.Mode().Perm())
	}

	// A new session recalls the line with Up (ESC [ A).
	pr, pw := io.Pipe()
	out := &syncBuffer{}
	s := NewSession(e, SessionOptions{In: pr, Out: out, Term: true, Prompt: "> ", HistoryFile: hist, Width: 80})
	done := make(chan error, 1)
	go func() { done <- s.RunInteractive(context.Background()); pr.Close() }()
	waitFor(t, "prompt", func() bool { return strings.Contains(out.String(), "> ") }, out.String)
	s.Resize(120, 50)
	if w, h := s.Size(); w != 120 || h != 50 {
		t.Errorf("Size() = %d,%d after Resize(120,50)", w, h)
	}
	io.WriteString(pw, "\x1b[A\x1b[A\r") // the last line is exit
	waitFor(t, "recalled command", func() bool { return len(r.get()) == 2 }, out.String)
	io.WriteString(pw, "quit\r")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pw.Close()
	_ = m

	// readline's goroutines and the input pump all end with the session.
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before }, func() string {
		buf := make([]byte, 1<<16)
		return fmt.Sprintf("%d goroutines, %d before\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
	})
}
