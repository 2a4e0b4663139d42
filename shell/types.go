package shell

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/orchd/orchd/identity"
)

// Completer lists the values a parameter may take now (known orchestrator
// IDs, user names, roles). It is called at every TAB or `?`, so it should be
// cheap. For role and roles params it is also the list of valid values.
type Completer func() []string

// IDFingerprint is one ID=FP element of an id-fp-list.
type IDFingerprint struct {
	ID          identity.ID
	Fingerprint string
}

// param is one compiled <name:type:arg>.
type param struct {
	name, typ string
	lo, hi    int      // number range
	choices   []string // enum values
	rest      bool     // text:rest takes the rest of the line
	complete  Completer
	help      string // from Command.Describe, else the type's form
}

// ptype describes one parameter type.
type ptype struct {
	// list types complete and check one comma-separated element at a time.
	list bool
	// form says in a few words what a value looks like.
	form func(p *param) string
	// parse validates s and returns the typed value kept in Args.
	parse func(p *param, s string) (any, error)
}

var ptypes = map[string]ptype{
	"id": {
		form:  func(*param) string { return "an orchestrator ID S_M such as 1_2" },
		parse: func(_ *param, s string) (any, error) { return identity.ParseID(s) },
	},
	"idlist": {
		list:  true,
		form:  func(*param) string { return "orchestrator IDs separated by commas, such as 1_2,2_1" },
		parse: func(_ *param, s string) (any, error) { return identity.ParseIDList(s) },
	},
	"idlist-all": {
		list: true,
		form: func(*param) string { return "all, or orchestrator IDs separated by commas, such as 1_2,2_1" },
		parse: func(_ *param, s string) (any, error) {
			if s == "all" {
				return idsOrAll{all: true}, nil
			}
			ids, err := identity.ParseIDList(s)
			return idsOrAll{ids: ids}, err
		},
	},
	"fingerprint": {
		form:  func(*param) string { return "a key fingerprint SHA256:<43 base64 characters>" },
		parse: func(_ *param, s string) (any, error) { return identity.ParseFingerprint(s) },
	},
	"id-fp-list": {
		list:  true,
		form:  func(*param) string { return "ID=FP pairs separated by commas, such as 1_2=SHA256:...,2_1=SHA256:..." },
		parse: func(_ *param, s string) (any, error) { return parseIDFPList(s) },
	},
	"user": {
		form:  func(*param) string { return "a user name: " + userRule },
		parse: func(_ *param, s string) (any, error) { return parseUser(s) },
	},
	"role": {
		form: func(p *param) string { return "a role: one of " + known(p) },
		parse: func(p *param, s string) (any, error) {
			if !slices.Contains(p.complete(), s) {
				return nil, fmt.Errorf("unknown role %q: expected one of %s", s, known(p))
			}
			return s, nil
		},
	},
	"roles": {
		list: true,
		form: func(p *param) string { return "roles separated by commas, from " + known(p) },
		parse: func(p *param, s string) (any, error) {
			var out []string
			for _, r := range strings.Split(s, ",") {
				if !slices.Contains(p.complete(), r) {
					return nil, fmt.Errorf("unknown role %q in %q: expected roles separated by commas, from %s", r, s, known(p))
				}
				if slices.Contains(out, r) {
					return nil, fmt.Errorf("role %q listed twice in %q", r, s)
				}
				out = append(out, r)
			}
			return out, nil
		},
	},
	"number": {
		form: func(p *param) string { return fmt.Sprintf("an integer %d-%d", p.lo, p.hi) },
		parse: func(p *param, s string) (any, error) {
			n, err := strconv.Atoi(s)
			if err != nil || n < p.lo || n > p.hi {
				return nil, fmt.Errorf("invalid number %q for <%s>: expected an integer %d-%d", s, p.name, p.lo, p.hi)
			}
			return n, nil
		},
	},
	"onoff": {
		form: func(*param) string { return "on or off" },
		parse: func(p *param, s string) (any, error) {
			switch s {
			case "on":
				return true, nil
			case "off":
				return false, nil
			}
			return nil, fmt.Errorf("invalid value %q for <%s>: expected on or off", s, p.name)
		},
	},
	"enum": {
		form: func(p *param) string { return "one of " + strings.Join(p.choices, ", ") },
		parse: func(p *param, s string) (any, error) {
			if !slices.Contains(p.choices, s) {
				return nil, fmt.Errorf("invalid value %q for <%s>: expected one of %s", s, p.name, strings.Join(p.choices, ", "))
			}
			return s, nil
		},
	},
	"text": {
		form: func(p *param) string {
			if p.rest {
				return "text up to the end of the line"
			}
			return `a word, or "a quoted text"`
		},
		parse: func(_ *param, s string) (any, error) { return s, nil },
	},
}

// setArg applies the type's argument (the part after the second colon).
func (p *param) setArg(arg string, hasArg bool) error {
	switch p.typ {
	case "number":
		p.lo, p.hi = 0, math.MaxInt32
		if !hasArg {
			return nil
		}
		a, b, ok := strings.Cut(arg, "-")
		lo, err1 := strconv.Atoi(a)
		hi, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || lo < 0 || lo > hi {
			return fmt.Errorf("bad range %q for <%s>: expected LO-HI such as 1-65535", arg, p.name)
		}
		p.lo, p.hi = lo, hi
	case "enum":
		if arg == "" {
			return fmt.Errorf("enum <%s> lists no values: expected <%s:enum:a|b|c>", p.name, p.name)
		}
		p.choices = strings.Split(arg, "|")
		if slices.Contains(p.choices, "") {
			return fmt.Errorf("enum <%s> has an empty value in %q", p.name, arg)
		}
	case "text":
		switch {
		case !hasArg:
		case arg == "rest":
			p.rest = true
		default:
			return fmt.Errorf("bad text option %q for <%s>: expected rest or nothing", arg, p.name)
		}
	default:
		if hasArg {
			return fmt.Errorf("type %s of <%s> takes no option, got %q", p.typ, p.name, arg)
		}
	}
	return nil
}

func (p *param) form() string { return ptypes[p.typ].form(p) }

func (p *param) parse(s string) (any, error) { return ptypes[p.typ].parse(p, s) }

// values lists what TAB may offer for p: fixed choices or the Completer's.
func (p *param) values() []string {
	switch p.typ {
	case "onoff":
		return []string{"on", "off"}
	case "enum":
		return p.choices
	}
	if p.complete == nil {
		return nil
	}
	v := p.complete()
	if p.typ == "idlist-all" {
		v = append([]string{"all"}, v...)
	}
	return v
}

func known(p *param) string {
	v := p.complete()
	if len(v) == 0 {
		return "(none defined)"
	}
	return strings.Join(v, ", ")
}

// idsOrAll is the value of an idlist-all param.
type idsOrAll struct {
	all bool
	ids []identity.ID
}

const userRule = "1-32 characters, a-z or _ first, then a-z, 0-9, _, . or -"

var userRE = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)

func parseUser(s string) (string, error) {
	if !userRE.MatchString(s) {
		return "", fmt.Errorf("invalid user name %q: expected %s", s, userRule)
	}
	return s, nil
}

func parseIDFPList(s string) ([]IDFingerprint, error) {
	var out []IDFingerprint
	for _, pair := range strings.Split(s, ",") {
		idText, fpText, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("invalid pair %q in %q: expected ID=FP (such as 1_2=SHA256:...)", pair, s)
		}
		id, err := identity.ParseID(idText)
		if err != nil {
			return nil, err
		}
		fp, err := identity.ParseFingerprint(fpText)
		if err != nil {
			return nil, fmt.Errorf("fingerprint for %s: %w", id, err)
		}
		for _, e := range out {
			if e.ID == id {
				return nil, fmt.Errorf("orchestrator ID %s named twice in %q", id, s)
			}
		}
		out = append(out, IDFingerprint{ID: id, Fingerprint: fp})
	}
	return out, nil
}
