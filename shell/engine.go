package shell

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
)

// ErrExit, returned by a command's Run, ends the interactive session
// (exit, quit). Exec and RunScript treat it as success.
var ErrExit = errors.New("exit")

// Engine holds the command tree. Register commands at start-up; parsing,
// completion and help may then run from many sessions at once.
type Engine struct {
	mu   sync.RWMutex
	cmds []*command
	sigs map[string]string
}

// NewEngine returns an engine with the built-in commands help, show
// commands, exit and quit.
func NewEngine() *Engine {
	e := &Engine{sigs: map[string]string{}}
	e.Register(Command{Syntax: "help", Help: "how to use this shell", Run: func(c *Ctx, _ Args) error {
		_, err := io.WriteString(c.Out, helpText)
		return err
	}})
	e.Register(Command{Syntax: "show commands", Help: "list every command", Run: func(c *Ctx, _ Args) error {
		return e.writeCommands(c.Out)
	}})
	exit := func(*Ctx, Args) error { return ErrExit }
	e.Register(Command{Syntax: "exit", Help: "end this session", Run: exit})
	e.Register(Command{Syntax: "quit", Help: "end this session", Run: exit})
	return e
}

const helpText = `Type a command and press Enter. Keywords may be shortened to any unique
prefix: "sh maes auth" is "show maestro authentication".
  ?        list what may come next, with a line of help each
  TAB      complete the word under the cursor
  Ctrl-C   abandon the line         Ctrl-D, exit, quit   end the session
  Up/Down  history                  show commands        every command
Values with spaces go in "double quotes".
`

// Register adds a command. The syntax is program text, so a bad one is a
// programming error: Register panics with the reason, and any test that
// builds the daemon's engine catches it.
func (e *Engine) Register(c Command) {
	cmd, err := compile(&c)
	if err != nil {
		panic(fmt.Sprintf("shell: registering %q: %v", c.Syntax, err))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev, dup := e.sigs[cmd.signature()]; dup {
		panic(fmt.Sprintf("shell: registering %q: same words and types as %q", c.Syntax, prev))
	}
	e.sigs[cmd.signature()] = c.Syntax
	cmd.order = len(e.cmds)
	e.cmds = append(e.cmds, cmd)
}

// Commands returns every registered command, sorted by syntax.
func (e *Engine) Commands() []Command {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Command, len(e.cmds))
	for i, c := range e.cmds {
		out[i] = *c.Command
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Syntax < out[j].Syntax })
	return out
}

func (e *Engine) writeCommands(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, c := range e.Commands() {
		fmt.Fprintf(tw, "%s\t%s\n", c.Syntax, c.Help)
	}
	return tw.Flush()
}

// Parsed is a line matched to its command.
type Parsed struct {
	Command *Command
	// Name is the command's leading keywords, such as "set maestro
	// authentication trust orchestrators": how messages and audit name it.
	Name string
	Args Args
}

// Parse matches a line to a command. A blank line gives nil and no error.
// Errors name the offending word and what was expected there.
func (e *Engine) Parse(line string) (*Parsed, error) {
	toks, err := tokenize(line, false)
	if err != nil || len(toks) == 0 {
		return nil, err
	}
	m := e.matcher()
	if err := m.feed(toks); err != nil {
		return nil, err
	}
	c, err := m.finish()
	if err != nil {
		return nil, err
	}
	return &Parsed{Command: c.cmd.Command, Name: c.cmd.name, Args: Args{cmd: c.cmd, vals: c.vals, words: c.words}}, nil
}

func (e *Engine) matcher() *matcher {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return newMatcher(e.cmds)
}

// columns formats two-column help.
func columns(items []HelpItem) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, it := range items {
		fmt.Fprintf(tw, "  %s\t%s\n", it.Name, it.Help)
	}
	tw.Flush()
	return b.String()
}
