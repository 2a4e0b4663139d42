package shell

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Ctx is what a command's Run gets besides its Args.
type Ctx struct {
	// Context ends when the session does.
	Context context.Context
	// Out is the session's output; on a terminal "\n" becomes "\r\n".
	Out io.Writer
	// User is who the session belongs to.
	User string
	// ReadOnly is set when the session may not change anything;
	// ReadOnlyReason then says why ("role monitorRole is read-only",
	// "configuration lock held by admin from 198.19.129.1"). Write commands
	// never reach Run in such a session; others may use it to adapt.
	ReadOnly       bool
	ReadOnlyReason string
	// Name is the command's leading keywords, Line the line as typed.
	Name, Line string

	s     *Session
	owner uint64 // input owner number of this run
}

// CanPrompt reports whether Prompt and Confirm can ask on the stream when
// Answers lack a key. Commands use it to refuse early, before changing
// anything, when a non-interactive caller did not supply what they need.
func (c *Ctx) CanPrompt() bool { return c.s.opts.In != nil }

// Prompt asks for a value. The session's Answers (clish --input-json) are
// used first; otherwise the question is asked on the stream, without echo
// when secret is set. Without either it fails, telling how to supply it.
func (c *Ctx) Prompt(key, question string, secret bool) (string, error) {
	if v, ok := c.s.opts.Answers[key]; ok {
		return v, nil
	}
	if !c.CanPrompt() {
		return "", fmt.Errorf("no answer for %q: run interactively or pass it with --input-json", key)
	}
	io.WriteString(c.Out, question)
	v, err := c.s.readLine(c.owner, !secret)
	if err != nil {
		return "", fmt.Errorf("reading %q: %w", key, err)
	}
	return v, nil
}

// Confirm asks a yes/no question; the answer key is "confirm".
func (c *Ctx) Confirm(question string) (bool, error) {
	return c.ConfirmKey("confirm", question)
}

// ConfirmKey is Confirm with its own answer key, for commands that ask
// several different questions.
func (c *Ctx) ConfirmKey(key, question string) (bool, error) {
	if v, ok := c.s.opts.Answers[key]; ok {
		yes, valid := parseYesNo(v)
		if !valid {
			return false, fmt.Errorf("invalid answer %q for %q: expected y or n", v, key)
		}
		return yes, nil
	}
	for {
		v, err := c.Prompt(key, question+" [y/n] ", false)
		if err != nil {
			return false, err
		}
		if yes, valid := parseYesNo(v); valid {
			return yes, nil
		}
		io.WriteString(c.Out, "Please answer y or n.\n")
	}
}

func parseYesNo(s string) (yes, valid bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "y", "yes", "true":
		return true, true
	case "n", "no", "false":
		return false, true
	}
	return false, false
}

// Raw is the session's stream handed to a command that runs its own
// terminal program, such as the root shell of expert mode.
type Raw struct {
	// In yields keystrokes as they arrive. It returns io.EOF once Close is
	// called or the command returns, so copy loops end with the command.
	In io.Reader
	// Out writes to the stream as is, without newline translation.
	Out io.Writer
	// Term tells whether the far side is a raw terminal or a plain stream.
	Term bool

	s       *Session
	prev    uint64 // the command's owner number, restored by Close
	id      uint64
	resized chan struct{}
	once    sync.Once
}

// Raw takes over the stream until Close or the end of Run. The line editor
// reads nothing while any command runs, so nothing typed is lost to it.
// Prompt waits for the stream too: Close the Raw before prompting again.
func (c *Ctx) Raw() *Raw {
	r := &Raw{Out: c.s.rawOut, Term: c.s.opts.Term, s: c.s, prev: c.owner, resized: make(chan struct{}, 1)}
	r.id = c.s.in.newOwner()
	r.In = &reader{in: c.s.in, who: r.id, max: 32 << 10, lease: true}
	c.s.mu.Lock()
	c.s.resized = r.resized
	c.s.mu.Unlock()
	return r
}

// Size is the far side's window size (0 when unknown).
func (r *Raw) Size() (width, height int) { return r.s.Size() }

// Resized receives after each window-size change (several may coalesce).
func (r *Raw) Resized() <-chan struct{} { return r.resized }

// Close gives the stream back to the command (for more prompts, say).
func (r *Raw) Close() error {
	r.once.Do(func() {
		r.s.in.swapOwner(r.id, r.prev)
		r.s.mu.Lock()
		if r.s.resized == r.resized {
			r.s.resized = nil
		}
		r.s.mu.Unlock()
	})
	return nil
}
