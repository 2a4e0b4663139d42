package shell

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// cursor follows one command through the words of a line. Every command
// starts with a cursor; a word either advances a cursor or drops it, so
// commands sharing a prefix are matched together without building a tree.
type cursor struct {
	cmd   *command
	pos   int // next fixed element
	group int // optional group being filled, -1 when none
	gpos  int // next element of that group
	used  []bool
	vals  map[string]any  // param values
	words map[string]bool // keywords given
	rest  bool            // a text:rest param took the rest of the line
}

// expectation is one thing a cursor accepts as its next word.
type expectation struct {
	e      elem
	opener bool // the first keyword of an optional group
	cur    *cursor
}

func (c *cursor) expects() []expectation {
	switch {
	case c.rest:
		return nil
	case c.group >= 0:
		return []expectation{{e: c.cmd.groups[c.group][c.gpos], cur: c}}
	case c.pos < len(c.cmd.fixed):
		return []expectation{{e: c.cmd.fixed[c.pos], cur: c}}
	}
	var out []expectation
	for i, g := range c.cmd.groups {
		if !c.used[i] {
			out = append(out, expectation{e: g[0], opener: true, cur: c})
		}
	}
	return out
}

// complete reports whether the line may end here for this command.
func (c *cursor) complete() bool {
	return c.rest || (c.group < 0 && c.pos == len(c.cmd.fixed))
}

// take moves c past x, recording v under the keyword or param name.
func (c *cursor) take(x expectation, v any) {
	if x.e.p != nil {
		c.vals[x.e.p.name] = v
		c.rest = x.e.p.rest
	} else {
		c.words[x.e.word] = true
	}
	switch {
	case x.opener:
		for i, g := range c.cmd.groups {
			if g[0].word == x.e.word {
				c.used[i] = true
				if len(g) > 1 {
					c.group, c.gpos = i, 1
				}
			}
		}
	case c.group >= 0:
		c.gpos++
		if c.gpos == len(c.cmd.groups[c.group]) {
			c.group = -1
		}
	default:
		c.pos++
	}
}

// matcher narrows the cursors of all commands word by word.
type matcher struct {
	alive []*cursor
	done  []string // words consumed, keywords spelled out, for messages
}

func newMatcher(cmds []*command) *matcher {
	m := &matcher{}
	for _, cmd := range cmds {
		m.alive = append(m.alive, &cursor{cmd: cmd, group: -1, used: make([]bool, len(cmd.groups)),
			vals: map[string]any{}, words: map[string]bool{}})
	}
	return m
}

func (m *matcher) expectations() []expectation {
	var out []expectation
	for _, c := range m.alive {
		out = append(out, c.expects()...)
	}
	return out
}

// after names what was consumed, for error messages.
func (m *matcher) after() string {
	if len(m.done) == 0 {
		return ""
	}
	return fmt.Sprintf(" after %q", strings.Join(m.done, " "))
}

func (m *matcher) feed(toks []token) error {
	for i := range toks {
		if err := m.step(toks, i); err != nil {
			return err
		}
	}
	return nil
}

// step consumes toks[i]. Precedence: exact keyword, then a valid param
// value, then a unique keyword prefix (see the package documentation).
func (m *matcher) step(toks []token, i int) error {
	tok := toks[i]
	var kept []*cursor // cursors whose text:rest param already took this word
	for _, c := range m.alive {
		if c.rest {
			kept = append(kept, c)
		}
	}
	exps := m.expectations()
	words := map[string]bool{}
	for _, x := range exps {
		if x.e.p == nil {
			words[x.e.word] = true
		}
	}
	advance := func(word, shown string) {
		next := kept
		for _, x := range exps {
			if x.e.p == nil && x.e.word == word {
				x.cur.take(x, true)
				next = append(next, x.cur)
			}
		}
		m.setAlive(next, shown)
	}
	if !tok.quoted && words[tok.text] {
		advance(tok.text, tok.text)
		return nil
	}

	next := kept
	var errs []error
	params := map[string]bool{}
	for _, x := range exps {
		p := x.e.p
		if p == nil {
			continue
		}
		params["<"+p.name+">"] = true
		text := tok.text
		if p.rest {
			text = joinTexts(toks[i:])
		}
		v, err := p.parse(text)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		x.cur.take(x, v)
		next = append(next, x.cur)
	}
	if len(next) > len(kept) {
		m.setAlive(next, tok.text)
		return nil
	}

	var prefixed []string
	if !tok.quoted {
		for w := range words {
			if strings.HasPrefix(w, tok.text) {
				prefixed = append(prefixed, w)
			}
		}
		sort.Strings(prefixed)
	}
	switch {
	case len(prefixed) == 1:
		advance(prefixed[0], prefixed[0])
		return nil
	case len(kept) > 0:
		m.setAlive(kept, tok.text)
		return nil
	case len(prefixed) > 1:
		return fmt.Errorf("ambiguous word %q%s: could be %s", tok.text, m.after(), strings.Join(prefixed, ", "))
	case len(params) == 1 && len(errs) > 0:
		return errs[0]
	case len(exps) == 0:
		return fmt.Errorf("extra word %q%s: the command is complete without it", tok.text, m.after())
	}
	if w := m.usedOpener(tok.text); w != "" {
		return fmt.Errorf("%q given twice%s", w, m.after())
	}
	return fmt.Errorf("unknown word %q%s: expected %s", tok.text, m.after(), m.expected(exps))
}

func (m *matcher) setAlive(next []*cursor, shown string) {
	slices.SortStableFunc(next, func(a, b *cursor) int { return a.cmd.order - b.cmd.order })
	m.alive = next
	m.done = append(m.done, shown)
}

// usedOpener finds an optional group already given that word would open
// again, so the error can say so instead of "unknown word".
func (m *matcher) usedOpener(word string) string {
	for _, c := range m.alive {
		if !c.complete() {
			continue
		}
		for i, g := range c.cmd.groups {
			if c.used[i] && (g[0].word == word || (word != "" && strings.HasPrefix(g[0].word, word))) {
				return g[0].word
			}
		}
	}
	return ""
}

// expected lists the possible next words for a message.
func (m *matcher) expected(exps []expectation) string {
	var items []string
	for _, x := range exps {
		if s := x.e.String(); !slices.Contains(items, s) {
			items = append(items, s)
		}
	}
	sort.Slice(items, func(i, j int) bool {
		// keywords first, then <params>
		pi, pj := strings.HasPrefix(items[i], "<"), strings.HasPrefix(items[j], "<")
		if pi != pj {
			return pj
		}
		return items[i] < items[j]
	})
	for _, c := range m.alive {
		if c.complete() {
			items = append(items, "or the end of the line")
			break
		}
	}
	if len(items) == 1 {
		return items[0]
	}
	return "one of " + strings.Join(items, ", ")
}

// finish picks the command the line names once all words are consumed.
func (m *matcher) finish() (*cursor, error) {
	for _, c := range m.alive {
		if c.complete() {
			return c, nil
		}
	}
	exps := m.expectations()
	var ps []*param
	for _, x := range exps {
		if x.e.p == nil {
			ps = nil
			break
		}
		if !slices.ContainsFunc(ps, func(p *param) bool { return p.name == x.e.p.name }) {
			ps = append(ps, x.e.p)
		}
	}
	if len(ps) == 1 {
		return nil, fmt.Errorf("missing <%s>%s: expected %s", ps[0].name, m.after(), ps[0].form())
	}
	return nil, fmt.Errorf("incomplete command %q: expected %s", strings.Join(m.done, " "), m.expected(exps))
}

func joinTexts(toks []token) string {
	s := make([]string, len(toks))
	for i, t := range toks {
		s[i] = t.text
	}
	return strings.Join(s, " ")
}
