package shell

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Command declares one shell command. See the package documentation for the
// Syntax grammar and parameter types.
type Command struct {
	// Syntax, such as "set user <name:user> shell <path:text>".
	Syntax string
	// Help is the one-line description shown by `?` and `show commands`.
	Help string
	// Write marks a command that changes state: read-only sessions are
	// refused it before Run is called.
	Write bool
	// Feature names the role feature the command belongs to (maestro-auth,
	// users, aaa ...). The shell only carries it; the daemon checks roles.
	Feature string
	// Complete gives, per param name, the values TAB and `?` offer. A role
	// or roles param must have one: it is also the list of valid values.
	Complete map[string]Completer
	// Describe gives `?` a one-line help for a param or an optional
	// group's first keyword, keyed by its name. Params default to the form
	// of their type.
	Describe map[string]string
	// Run does the work. It is only called with a line that parsed.
	Run func(c *Ctx, a Args) error
}

// elem is a keyword (word set) or a param.
type elem struct {
	word string
	p    *param
}

func (e elem) String() string {
	if e.p != nil {
		return "<" + e.p.name + ">"
	}
	return e.word
}

// command is a compiled Command.
type command struct {
	*Command
	fixed  []elem
	groups [][]elem
	params map[string]*param
	words  map[string]bool
	// name is the leading keywords ("set maestro authentication trust
	// orchestrators"): how messages and audit name the command.
	name  string
	order int
}

var (
	wordRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	paramRE = regexp.MustCompile(`^<([a-z][a-z0-9-]*):([a-z-]+)(?::([^<>]*))?>$`)
)

// compile checks a Command and builds its elements. Errors name the
// offending piece of the syntax: they are for the programmer.
func compile(c *Command) (*command, error) {
	if c.Run == nil {
		return nil, errors.New("no Run func")
	}
	spaced := strings.NewReplacer("[", " [ ", "]", " ] ").Replace(c.Syntax)
	cmd := &command{Command: c, params: map[string]*param{}, words: map[string]bool{}}
	inGroup := false
	add := func(e elem) {
		if inGroup {
			g := len(cmd.groups) - 1
			cmd.groups[g] = append(cmd.groups[g], e)
		} else {
			cmd.fixed = append(cmd.fixed, e)
		}
	}
	for _, f := range strings.Fields(spaced) {
		switch {
		case f == "[":
			if inGroup {
				return nil, errors.New("optional groups do not nest")
			}
			cmd.groups = append(cmd.groups, nil)
			inGroup = true
			continue
		case f == "]":
			if !inGroup || len(cmd.groups[len(cmd.groups)-1]) == 0 {
				return nil, errors.New(`"]" without an open "[" or closing an empty group`)
			}
			inGroup = false
			continue
		case !inGroup && len(cmd.groups) > 0:
			return nil, fmt.Errorf("%q after an optional group: the fixed part comes first", f)
		}
		groupStart := inGroup && len(cmd.groups[len(cmd.groups)-1]) == 0
		if strings.HasPrefix(f, "<") {
			p, err := compileParam(f, c)
			if err != nil {
				return nil, err
			}
			if cmd.params[p.name] != nil {
				return nil, fmt.Errorf("param name %q used twice", p.name)
			}
			if groupStart {
				return nil, fmt.Errorf("group starting with <%s>: a group must start with a keyword", p.name)
			}
			cmd.params[p.name] = p
			add(elem{p: p})
			continue
		}
		if !wordRE.MatchString(f) {
			return nil, fmt.Errorf("bad keyword %q: expected letters, digits, _ . -", f)
		}
		cmd.words[f] = true
		add(elem{word: f})
	}
	if inGroup {
		return nil, errors.New(`unclosed "["`)
	}
	if len(cmd.fixed) == 0 || cmd.fixed[0].p != nil {
		return nil, errors.New("a command must start with a keyword")
	}
	if err := cmd.checkShape(); err != nil {
		return nil, err
	}
	for name := range c.Complete {
		if cmd.params[name] == nil {
			return nil, fmt.Errorf("field Complete names %q, which is not a param", name)
		}
	}
	for name := range c.Describe {
		if cmd.params[name] == nil && !cmd.isOpener(name) {
			return nil, fmt.Errorf("field Describe names %q, which is neither a param nor an optional group's first keyword", name)
		}
	}
	var lead []string
	for _, e := range cmd.fixed {
		if e.p != nil {
			break
		}
		lead = append(lead, e.word)
	}
	cmd.name = strings.Join(lead, " ")
	return cmd, nil
}

func compileParam(f string, c *Command) (*param, error) {
	m, idx := paramRE.FindStringSubmatch(f), paramRE.FindStringSubmatchIndex(f)
	if m == nil {
		return nil, fmt.Errorf("bad param %q: expected <name:type> or <name:type:option>", f)
	}
	p := &param{name: m[1], typ: m[2]}
	if _, ok := ptypes[p.typ]; !ok {
		return nil, fmt.Errorf("unknown type %q in %s", p.typ, f)
	}
	if err := p.setArg(m[3], idx[6] >= 0); err != nil {
		return nil, err
	}
	p.complete = c.Complete[p.name]
	if (p.typ == "role" || p.typ == "roles") && p.complete == nil {
		return nil, fmt.Errorf("<%s:%s> needs a Complete func: it lists the valid roles", p.name, p.typ)
	}
	p.help = c.Describe[p.name]
	return p, nil
}

// checkShape enforces what keeps the grammar unambiguous: distinct group
// keywords, and a rest-of-line param only at the very end.
func (cmd *command) checkShape() error {
	var openers []string
	for _, g := range cmd.groups {
		if slices.Contains(openers, g[0].word) {
			return fmt.Errorf("two optional groups start with %q", g[0].word)
		}
		openers = append(openers, g[0].word)
		for _, e := range g {
			if e.p != nil && e.p.rest {
				return fmt.Errorf("<%s:text:rest> inside an optional group", e.p.name)
			}
		}
	}
	for i, e := range cmd.fixed {
		if e.p != nil && e.p.rest && (i != len(cmd.fixed)-1 || len(cmd.groups) > 0) {
			return fmt.Errorf("<%s:text:rest> must be the last thing in the syntax", e.p.name)
		}
	}
	return nil
}

func (cmd *command) isOpener(word string) bool {
	for _, g := range cmd.groups {
		if g[0].word == word {
			return true
		}
	}
	return false
}

// signature identifies the fixed part, to refuse duplicate registrations.
func (cmd *command) signature() string {
	var b strings.Builder
	for _, e := range cmd.fixed {
		if e.p != nil {
			b.WriteString("<" + e.p.typ + "> ")
		} else {
			b.WriteString(e.word + " ")
		}
	}
	return b.String()
}
