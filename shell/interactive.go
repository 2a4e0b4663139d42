package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/chzyer/readline"
)

// RunInteractive runs the command loop until exit, quit, Ctrl-D, the end
// of In or ctx. Errors are printed and the loop goes on. On a terminal it
// edits lines with readline: history, TAB completion, `?` help, Ctrl-C to
// abandon a line. On a plain stream it reads lines, and a line ending in
// `?` prints help. The session reads In until it ends, so the caller closes
// In after RunInteractive returns.
func (s *Session) RunInteractive(ctx context.Context) error {
	if s.opts.In == nil {
		return errors.New("interactive session without an input stream")
	}
	defer s.in.close()
	stop := context.AfterFunc(ctx, s.in.close) // unblocks the line editor
	defer stop()
	var err error
	if !s.opts.Term {
		err = s.runPlain(ctx)
	} else {
		err = s.runTerm(ctx)
	}
	if s.in.lineTooLong() {
		return lineTooLong(s.in.meter.limit)
	}
	return err
}

func (s *Session) runPlain(ctx context.Context) error {
	for ctx.Err() == nil {
		io.WriteString(s.out, s.opts.Prompt)
		s.in.setOwner(ownerEditor)
		line, err := s.readLine(ownerEditor, false)
		s.in.setOwner(ownerNobody)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if q, ok := strings.CutSuffix(strings.TrimRight(line, " \t\r"), "?"); ok && !inOpenQuote(q) {
			io.WriteString(s.out, s.eng.HelpText(q))
			continue
		}
		if s.runShown(ctx, line) {
			return nil
		}
	}
	return nil
}

// runShown runs a line typed at the prompt, printing any error. It reports
// whether the session should end.
func (s *Session) runShown(ctx context.Context, line string) bool {
	_, err := s.run(ctx, line)
	if errors.Is(err, ErrExit) {
		return true
	}
	if err != nil {
		fmt.Fprintln(s.out, err)
	}
	return false
}

func (s *Session) runTerm(ctx context.Context) error {
	rlOut := &crlfWriter{w: s.out} // only so it can be muted on the way out
	var rl *readline.Instance
	cfg := &readline.Config{
		Prompt: s.opts.Prompt,
		// readline gets the stream only through the input arbiter, one byte
		// per read, so its buffer never holds keystrokes meant for a command.
		Stdin:  &reader{in: s.in, who: ownerEditor, max: 1},
		Stdout: rlOut,
		Stderr: rlOut,
		// The far side's terminal is already raw; there is no local tty.
		FuncIsTerminal: func() bool { return true },
		FuncMakeRaw:    func() error { return nil },
		FuncExitRaw:    func() error { return nil },
		FuncGetWidth: func() int {
			if w, _ := s.Size(); w > 0 {
				return w
			}
			return 80 // readline disables completion at width 0
		},
		FuncOnWidthChanged: func(f func()) {
			s.mu.Lock()
			s.onWidth = f
			s.mu.Unlock()
		},
		AutoComplete: completer{s.eng},
		Listener: readline.FuncListener(func(line []rune, pos int, _ rune) ([]rune, int, bool) {
			s.mu.Lock()
			s.snapshot = string(line[:min(pos, len(line))])
			s.mu.Unlock()
			return nil, 0, false
		}),
		FuncFilterInputRune: func(r rune) (rune, bool) {
			if r != '?' {
				return r, true
			}
			s.mu.Lock()
			line := s.snapshot
			s.mu.Unlock()
			if inOpenQuote(line) {
				return r, true
			}
			// Written through readline so it clears the line first and
			// redraws it, unchanged, after the help.
			fmt.Fprintf(rl.Stdout(), "%s%s?\n%s", s.opts.Prompt, line, s.eng.HelpText(line))
			// Bell is a key readline ignores. Dropping the rune instead
			// (false) would make readline queue a read for later, and it
			// would then read ahead while the next command runs.
			return readline.CharBell, true
		},
		DisableAutoSaveHistory: true, // saved by remember, to our file
		HistoryLimit:           historyLimit,
		EOFPrompt:              "exit",
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return fmt.Errorf("starting the line editor: %w", err)
	}
	defer func() {
		rlOut.mute()
		s.in.close()
		// Not rl.Close: it would also queue an io.EOF that nobody reads
		// and leave readline's goroutine blocked forever on it.
		rl.Terminal.Close()
	}()
	s.loadHistory(rl)
	for {
		s.in.setOwner(ownerEditor)
		line, err := rl.Readline()
		s.in.setOwner(ownerNobody)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, readline.ErrInterrupt):
			continue
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		case s.in.editorEnded():
			return nil // a line cut off by the end of input, not entered
		case strings.TrimSpace(line) == "":
			continue
		}
		if _, perr := s.eng.Parse(line); perr == nil {
			// Only lines that parsed: a mistyped line may be a password
			// typed at the wrong moment.
			s.remember(rl, line)
		}
		if s.runShown(ctx, line) {
			return nil
		}
	}
}

// completer adapts Engine.Complete to readline, which wants the endings
// of the candidates and the length, in runes, of what they share.
type completer struct{ eng *Engine }

func (c completer) Do(line []rune, pos int) ([][]rune, int) {
	head := string(line[:pos])
	cands, n := c.eng.Complete(head)
	typed := head[len(head)-n:]
	out := make([][]rune, 0, len(cands))
	for _, cand := range cands {
		out = append(out, []rune(strings.TrimPrefix(cand, typed)))
	}
	return out, len([]rune(typed))
}
