package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Exit codes of Exec and RunScript.
const (
	ExitOK     = 0 // the command ran and succeeded (or the line was blank)
	ExitFailed = 1 // the command failed, or was refused before running
	ExitUsage  = 2 // the line did not parse: nothing ran
)

// SessionOptions are what the daemon hands a session.
type SessionOptions struct {
	// In is the keystroke stream; nil when there is nobody to ask (clish
	// -c with --input-json), which makes prompts without answers fail.
	In io.Reader
	// Out receives output; Err receives Exec and RunScript errors
	// (default Out). Interactive sessions print errors on Out.
	Out, Err io.Writer
	// Term is set when the far side is a raw terminal (an SSH pty, or
	// clish on a tty): line editing, echo and "\r\n" are then ours to do.
	// Otherwise In and Out are plain line streams.
	Term bool
	// Width and Height are the initial window size; see Session.Resize.
	Width, Height int
	// Prompt is shown before each line, such as "1_1> ".
	Prompt string
	// User is who the session belongs to.
	User string
	// ReadOnlyReason says why the session may not change anything, or ""
	// when it may. It is asked again before every command, since a
	// configuration lock can be taken or released meanwhile.
	ReadOnlyReason func() string
	// Answers pre-answer Prompt and Confirm by key (clish --input-json).
	Answers map[string]string
	// HistoryFile keeps interactive history across sessions ("" = memory).
	HistoryFile string
	// Authorize, when set, is asked before every command that parsed: a
	// non-nil error refuses it (role-based access per command feature).
	Authorize func(cmd *Command) error
	// Ran, when set, is told of every command that parsed and was allowed
	// to run, with its outcome (the audit log).
	Ran func(cmd *Command, line string, err error)
}

// Session runs commands for one user over one stream.
type Session struct {
	eng    *Engine
	opts   SessionOptions
	in     *input
	out    io.Writer // Ctx.Out: "\r\n" on a terminal, serialized
	errOut io.Writer
	rawOut io.Writer // Raw.Out: untranslated

	mu            sync.Mutex
	width, height int
	onWidth       func()        // readline's width-change hook
	resized       chan struct{} // of the Raw in use, if any
	snapshot      string        // the line being edited, up to the cursor
	skipLF        bool          // the last answer ended with "\r": drop a following "\n"
}

// NewSession prepares a session; nothing is read until it runs.
func NewSession(eng *Engine, opts SessionOptions) *Session {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	s := &Session{eng: eng, opts: opts, in: newInput(opts.In), rawOut: opts.Out, width: opts.Width, height: opts.Height}
	if opts.Term {
		s.out = &crlfWriter{w: opts.Out}
		s.in.meter.limit = MaxTermLine
	} else {
		s.out = &lockedWriter{w: opts.Out}
	}
	s.errOut = s.out
	if opts.Err != nil {
		s.errOut = opts.Err
		if opts.Term {
			s.errOut = &crlfWriter{w: opts.Err}
		}
	}
	return s
}

// Resize records a window-size change (an SSH window-change request) and
// passes it to the line editor and to a command holding the Raw stream.
func (s *Session) Resize(width, height int) {
	s.mu.Lock()
	s.width, s.height = width, height
	hook, ch := s.onWidth, s.resized
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Size returns the window size last given.
func (s *Session) Size() (width, height int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.width, s.height
}

// Exec runs one line non-interactively (clish -c, ssh host "cmd"), writing
// any error to Err, and returns its exit code.
func (s *Session) Exec(ctx context.Context, line string) int {
	if len(line) > MaxLine {
		fmt.Fprintln(s.errOut, lineTooLong(MaxLine))
		return ExitUsage
	}
	code, err := s.run(ctx, line)
	if err != nil && !errors.Is(err, ErrExit) {
		fmt.Fprintln(s.errOut, err)
	}
	return code
}

// RunScript runs r line by line (clish -f), skipping blank lines and lines
// starting with #, and stops at the first error, reported as "line N: ...".
// exit or quit ends the script successfully.
func (s *Session) RunScript(ctx context.Context, r io.Reader) int {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), MaxLine+1) // the line and its newline
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		code, err := s.run(ctx, line)
		if errors.Is(err, ErrExit) {
			return ExitOK
		}
		if err != nil {
			fmt.Fprintf(s.errOut, "line %d: %v\n", n, err)
			return code
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		fmt.Fprintf(s.errOut, "line %d: %v\n", n+1, lineTooLong(MaxLine))
		return ExitUsage
	} else if err != nil {
		fmt.Fprintf(s.errOut, "reading script after line %d: %v\n", n, err)
		return ExitFailed
	}
	return ExitOK
}

// run parses and runs one line. Nothing runs unless the line parsed and
// the session may run it.
func (s *Session) run(ctx context.Context, line string) (code int, err error) {
	if err := ctx.Err(); err != nil {
		return ExitFailed, err
	}
	p, err := s.eng.Parse(line)
	if err != nil {
		return ExitUsage, err
	}
	if p == nil {
		return ExitOK, nil
	}
	reason := ""
	if s.opts.ReadOnlyReason != nil {
		reason = s.opts.ReadOnlyReason()
	}
	if s.opts.Authorize != nil {
		if err := s.opts.Authorize(p.Command); err != nil {
			return ExitFailed, fmt.Errorf("%q: not allowed: %w", p.Name, err)
		}
	}
	if p.Command.Write && reason != "" {
		return ExitFailed, fmt.Errorf("%q: not allowed: this session is read-only (%s)", p.Name, reason)
	}
	if s.opts.Ran != nil {
		defer func() { s.opts.Ran(p.Command, line, err) }()
	}
	c := &Ctx{Context: ctx, Out: s.out, User: s.opts.User, ReadOnly: reason != "", ReadOnlyReason: reason,
		Name: p.Name, Line: line, s: s, owner: s.in.newOwner()}
	stop := context.AfterFunc(ctx, s.in.close) // a prompt must not outlive the session
	defer func() {
		stop()
		s.in.setOwner(ownerNobody)
		s.mu.Lock()
		s.resized = nil
		s.mu.Unlock()
		// A bug in one command must not take the daemon down with it.
		if r := recover(); r != nil {
			code, err = ExitFailed, fmt.Errorf("%q: internal error: %v", p.Name, r)
		}
	}()
	if err := p.Command.Run(c, p.Args); err != nil {
		if errors.Is(err, ErrExit) {
			return ExitOK, ErrExit
		}
		return ExitFailed, err
	}
	return ExitOK, nil
}
