package shell

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestExecExitCodes(t *testing.T) {
	e, r := promptEngine(t)
	e.Register(Command{Syntax: "fail", Help: "fails", Run: func(*Ctx, Args) error { return errors.New("peer 1_2 unreachable") }})
	e.Register(Command{Syntax: "crash", Help: "panics", Run: func(*Ctx, Args) error { panic("boom") }})
	tests := []struct {
		line      string
		code      int
		out, errs string
	}{
		{"show users", ExitOK, "ran show users\n", ""},
		{"", ExitOK, "", ""},
		{"exit", ExitOK, "", ""},
		{"show bogus", ExitUsage, "", `unknown word "bogus" after "show"`},
		{"show orchestrator 1-2", ExitUsage, "", `invalid orchestrator ID "1-2": expected S_M such as 1_2`},
		{"fail", ExitFailed, "", "peer 1_2 unreachable\n"},
		{"crash", ExitFailed, "", `"crash": internal error: boom`},
		{"set password", ExitFailed, "", `no answer for "password": run interactively or pass it with --input-json`},
	}
	for _, tt := range tests {
		out, errs := &strings.Builder{}, &strings.Builder{}
		s := NewSession(e, SessionOptions{Out: out, Err: errs})
		code := s.Exec(context.Background(), tt.line)
		if code != tt.code || out.String() != tt.out || !strings.Contains(errs.String(), tt.errs) || (tt.errs == "" && errs.Len() > 0) {
			t.Errorf("Exec(%q) = %d, out %q, err %q; want %d, %q, %q", tt.line, code, out, errs, tt.code, tt.out, tt.errs)
		}
	}
	if got := r.get(); len(got) != 1 {
		t.Errorf("ran %q, want only show users", got)
	}
}

func TestReadOnlyRefusal(t *testing.T) {
	e, r := testEngine(t)
	reason := "configuration lock held by admin from 198.19.129.1"
	var gotCtx *Ctx
	e.Register(Command{Syntax: "show lock", Help: "who holds the lock", Run: func(c *Ctx, _ Args) error { gotCtx = c; return nil }})
	errs := &strings.Builder{}
	s := NewSession(e, SessionOptions{Out: &strings.Builder{}, Err: errs, User: "monitor", ReadOnlyReason: func() string { return reason }})
	if code := s.Exec(context.Background(), "set user admin role adminRole"); code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	want := `"set user": not allowed: this session is read-only (` + reason + ")"
	if !strings.Contains(errs.String(), want) || !strings.Contains(errs.String(), "read-only") {
		t.Errorf("error %q, want %q", errs, want)
	}
	if got := r.get(); len(got) != 0 {
		t.Errorf("a refused command ran: %q", got)
	}
	// Read commands still run, and see why the session is read-only.
	if code := s.Exec(context.Background(), "show lock"); code != ExitOK {
		t.Fatalf("show lock: exit %d", code)
	}
	if !gotCtx.ReadOnly || gotCtx.ReadOnlyReason != reason || gotCtx.User != "monitor" || gotCtx.Name != "show lock" {
		t.Errorf("Ctx = %+v", gotCtx)
	}
	// The reason is asked again for each command: the lock may go away.
	reason = ""
	if code := s.Exec(context.Background(), "set user admin role adminRole"); code != ExitOK {
		t.Errorf("after the lock went: exit %d", code)
	}
}

func TestPromptAnswers(t *testing.T) {
	e, r := promptEngine(t)
	s := NewSession(e, SessionOptions{Answers: map[string]string{"password": "pw", "confirm": "yes"}})
	if code := s.Exec(context.Background(), "set password"); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if got := r.get(); len(got) != 1 || got[0] != "password=pw confirmed=yes" {
		t.Errorf("ran %q", got)
	}

	errs := &strings.Builder{}
	s = NewSession(e, SessionOptions{Err: errs, Answers: map[string]string{"password": "pw"}})
	if code := s.Exec(context.Background(), "set password"); code != ExitFailed || !strings.Contains(errs.String(), `no answer for "confirm"`) {
		t.Errorf("missing confirm: exit %d, %q", code, errs)
	}
	errs.Reset()
	s = NewSession(e, SessionOptions{Err: errs, Answers: map[string]string{"password": "pw", "confirm": "maybe"}})
	if code := s.Exec(context.Background(), "set password"); code != ExitFailed || !strings.Contains(errs.String(), `invalid answer "maybe" for "confirm": expected y or n`) {
		t.Errorf("bad confirm: exit %d, %q", code, errs)
	}
}

func TestPromptFromPlainStream(t *testing.T) {
	e, r := promptEngine(t)
	out := &strings.Builder{}
	// A plain stream: no echo handling, "\r\n" tolerated, a bad y/n asked again.
	s := NewSession(e, SessionOptions{In: strings.NewReader("hunter2\r\nperhaps\nn\n"), Out: out})
	if code := s.Exec(context.Background(), "set password"); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if got := r.get(); len(got) != 1 || got[0] != "password=hunter2 confirmed=no" {
		t.Errorf("ran %q", got)
	}
	if want := "Password: Really? [y/n] Please answer y or n.\nReally? [y/n] "; out.String() != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestRunScript(t *testing.T) {
	e, r := testEngine(t)
	script := `# trust the site
show users

  sh maes auth
set maes auth trust orch 1-2
show users
`
	errs := &strings.Builder{}
	s := NewSession(e, SessionOptions{Out: &strings.Builder{}, Err: errs})
	if code := s.RunScript(context.Background(), strings.NewReader(script)); code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	if want := `line 5: invalid orchestrator ID "1-2": expected S_M such as 1_2`; !strings.HasPrefix(errs.String(), want) {
		t.Errorf("error %q, want %q...", errs, want)
	}
	if got := r.get(); strings.Join(got, "|") != "show users|show maestro authentication" {
		t.Errorf("ran %q: the script must stop at the error", got)
	}

	r.lines = nil
	if code := s.RunScript(context.Background(), strings.NewReader("show users\nexit\nshow users\n")); code != ExitOK || len(r.get()) != 1 {
		t.Errorf("exit in a script: code %d, ran %q", code, r.get())
	}

	errs.Reset()
	e.Register(Command{Syntax: "fail", Run: func(*Ctx, Args) error { return errors.New("it broke") }})
	if code := s.RunScript(context.Background(), strings.NewReader("\n\nfail\n")); code != ExitFailed || errs.String() != "line 3: it broke\n" {
		t.Errorf("failing command: code %d, %q", code, errs)
	}
}

func TestCancelledContext(t *testing.T) {
	e, r := testEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := NewSession(e, SessionOptions{Err: &strings.Builder{}})
	if code := s.Exec(ctx, "show users"); code != ExitFailed || len(r.get()) != 0 {
		t.Errorf("cancelled: exit %d, ran %q", code, r.get())
	}
}
