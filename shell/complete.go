package shell

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// HelpItem is one line of `?` help: a keyword, a <param>, or <CR> when the
// line may end there.
type HelpItem struct {
	Name, Help string
}

// prepare feeds every word of line except a last one the cursor is still
// on (no blank after it), which it returns as partial.
func (e *Engine) prepare(line string) (*matcher, *token, error) {
	toks, _ := tokenize(line, true)
	var partial *token
	if n := len(toks); n > 0 && toks[n-1].end == len(line) {
		partial = &toks[n-1]
		toks = toks[:n-1]
	}
	m := e.matcher()
	return m, partial, m.feed(toks)
}

// Help lists what may come next at the end of line, or what the word being
// typed may become. A line that is already wrong gives its parse error.
func (e *Engine) Help(line string) ([]HelpItem, error) {
	m, partial, err := e.prepare(line)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if partial != nil {
		prefix = partial.text
	}
	var words, params []HelpItem
	seen := map[string]bool{}
	for _, x := range m.expectations() {
		name := x.e.String()
		if seen[name] {
			continue
		}
		if x.e.p != nil {
			seen[name] = true
			params = append(params, HelpItem{name, paramHelp(x.e.p)})
			continue
		}
		if strings.HasPrefix(x.e.word, prefix) {
			seen[name] = true
			words = append(words, HelpItem{name, m.wordHelp(x)})
		}
	}
	sort.Slice(words, func(i, j int) bool { return words[i].Name < words[j].Name })
	items := append(words, params...)
	if partial == nil {
		for _, c := range m.alive {
			if c.complete() {
				items = append(items, HelpItem{"<CR>", "run: " + c.cmd.Help})
				break
			}
		}
	}
	return items, nil
}

// HelpText is Help formatted for the terminal, or the parse error.
func (e *Engine) HelpText(line string) string {
	items, err := e.Help(line)
	if err != nil {
		return "  " + err.Error() + "\n"
	}
	if len(items) == 0 {
		return "  (nothing matches)\n"
	}
	return columns(items)
}

// verbs describe the first words of Gaia-style commands, which lead to
// too many commands for any one command's help to stand for them.
var verbs = map[string]string{
	"show":   "display settings and status",
	"set":    "change settings",
	"add":    "create objects",
	"delete": "remove objects",
}

// wordHelp describes a keyword: by the command it ends, or the only
// command it leads to, else by how many it leads to.
func (m *matcher) wordHelp(x expectation) string {
	if x.opener {
		if d := x.cur.cmd.Describe[x.e.word]; d != "" {
			return d
		}
		for _, g := range x.cur.cmd.groups {
			if g[0].word == x.e.word {
				parts := make([]string, len(g))
				for i, e := range g {
					parts[i] = e.String()
				}
				return "option: " + strings.Join(parts, " ")
			}
		}
	}
	var leads []*command
	for _, c := range m.alive {
		for _, y := range c.expects() {
			if y.e.p != nil || y.opener || y.e.word != x.e.word {
				continue
			}
			if c.pos == len(c.cmd.fixed)-1 {
				return c.cmd.Help // the word completes this command
			}
			leads = append(leads, c.cmd)
		}
	}
	switch {
	case len(leads) == 1:
		return leads[0].Help
	case len(m.done) == 0 && verbs[x.e.word] != "":
		return verbs[x.e.word]
	}
	return fmt.Sprintf("%d commands", len(leads))
}

func paramHelp(p *param) string {
	h := p.help
	if h == "" {
		h = p.form()
	}
	if p.typ == "role" || p.typ == "roles" || p.typ == "onoff" || p.typ == "enum" {
		return h // the form already lists the values
	}
	if p.complete == nil {
		return h
	}
	if v := p.complete(); len(v) > 0 {
		if len(v) > 8 {
			v = append(v[:8:8], "...")
		}
		h += " (known: " + strings.Join(v, ", ") + ")"
	}
	return h
}

// Complete returns the words the end of line may become (each ending in a
// blank when it completes a whole word) and how many bytes at the end of
// line they replace. Values come from the params' Completers; list
// params complete one comma-separated element at a time.
func (e *Engine) Complete(line string) (cands []string, replace int) {
	m, partial, err := e.prepare(line)
	if err != nil || (partial != nil && partial.quoted) {
		return nil, 0
	}
	prefix := ""
	if partial != nil {
		prefix = partial.text
	}
	add := func(s string) {
		if !slices.Contains(cands, s) {
			cands = append(cands, s)
		}
	}
	for _, x := range m.expectations() {
		p := x.e.p
		switch {
		case p == nil:
			if strings.HasPrefix(x.e.word, prefix) {
				add(x.e.word + " ")
			}
		case ptypes[p.typ].list:
			for _, c := range listCompletions(p, prefix) {
				add(c)
			}
		default:
			for _, v := range p.values() {
				if strings.HasPrefix(v, prefix) {
					add(v + " ")
				}
			}
		}
	}
	sort.Strings(cands)
	return cands, len(prefix)
}

// listCompletions completes the last element of a comma-separated value,
// leaving out the elements already given.
func listCompletions(p *param, prefix string) []string {
	head, seg := "", prefix
	if i := strings.LastIndexByte(prefix, ','); i >= 0 {
		head, seg = prefix[:i+1], prefix[i+1:]
	}
	if p.typ == "id-fp-list" && strings.Contains(seg, "=") {
		return nil // fingerprints are read off the peer, never guessed
	}
	given := map[string]bool{}
	for _, el := range strings.Split(head, ",") {
		id, _, _ := strings.Cut(el, "=")
		given[id] = true
	}
	var out []string
	for _, v := range p.values() {
		if !strings.HasPrefix(v, seg) || given[v] || (v == "all" && head != "") {
			continue
		}
		switch {
		case p.typ == "id-fp-list":
			out = append(out, head+v+"=")
		case v == "all":
			out = append(out, "all ")
		default:
			out = append(out, head+v)
		}
	}
	return out
}
