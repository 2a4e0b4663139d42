package shell

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/orchd/orchd/identity"
)

// Args are the values of a parsed line, looked up by param name (or by
// keyword, for Has). Accessors return the zero value for a param the line
// did not give; asking for a name the syntax does not declare, or with the
// wrong accessor for its type, panics: that is a bug in the command, and
// the first test that runs it should say so loudly.
type Args struct {
	cmd   *command
	vals  map[string]any
	words map[string]bool
}

// Has reports whether the line gave the param or keyword name; this is how
// Run sees optional groups such as [force]. A keyword and a param may share
// a name (role <role:role>); Has is then true if either was given.
func (a Args) Has(name string) bool {
	if a.cmd.params[name] == nil && !a.cmd.words[name] {
		a.misuse("Has", name, "no param or keyword of that name")
	}
	_, ok := a.vals[name]
	return ok || a.words[name]
}

// String returns any param's value as text, in canonical form (IDs as
// S_M, lists comma-separated, onoff as on or off), or "" when absent.
func (a Args) String(name string) string {
	a.param("String", name)
	switch v := a.vals[name].(type) {
	case nil:
		return ""
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case bool:
		if v {
			return "on"
		}
		return "off"
	case identity.ID:
		return v.String()
	case []identity.ID:
		return joinIDs(v)
	case idsOrAll:
		if v.all {
			return "all"
		}
		return joinIDs(v.ids)
	case []IDFingerprint:
		s := make([]string, len(v))
		for i, e := range v {
			s[i] = e.ID.String() + "=" + e.Fingerprint
		}
		return strings.Join(s, ",")
	case []string:
		return strings.Join(v, ",")
	}
	panic(fmt.Sprintf("shell: Args.String(%q): unexpected %T", name, a.vals[name]))
}

// ID returns an id param.
func (a Args) ID(name string) identity.ID {
	a.param("ID", name, "id")
	v, _ := a.vals[name].(identity.ID)
	return v
}

// IDs returns an idlist or idlist-all param; nil when it is "all" (see All).
func (a Args) IDs(name string) []identity.ID {
	a.param("IDs", name, "idlist", "idlist-all")
	switch v := a.vals[name].(type) {
	case []identity.ID:
		return v
	case idsOrAll:
		return v.ids
	}
	return nil
}

// All reports whether an idlist-all param is "all".
func (a Args) All(name string) bool {
	a.param("All", name, "idlist-all")
	v, _ := a.vals[name].(idsOrAll)
	return v.all
}

// Int returns a number param.
func (a Args) Int(name string) int {
	a.param("Int", name, "number")
	v, _ := a.vals[name].(int)
	return v
}

// On returns an onoff param: true for on.
func (a Args) On(name string) bool {
	a.param("On", name, "onoff")
	v, _ := a.vals[name].(bool)
	return v
}

// IDFingerprints returns an id-fp-list param in the order given.
func (a Args) IDFingerprints(name string) []IDFingerprint {
	a.param("IDFingerprints", name, "id-fp-list")
	v, _ := a.vals[name].([]IDFingerprint)
	return v
}

// Strings returns a roles param.
func (a Args) Strings(name string) []string {
	a.param("Strings", name, "roles")
	v, _ := a.vals[name].([]string)
	return v
}

// param checks that name is declared with one of the types.
func (a Args) param(method, name string, types ...string) {
	p := a.cmd.params[name]
	if p == nil {
		a.misuse(method, name, "no param of that name")
	}
	if len(types) > 0 && !slices.Contains(types, p.typ) {
		a.misuse(method, name, fmt.Sprintf("<%s> is %s, not %s", name, p.typ, strings.Join(types, " or ")))
	}
}

func (a Args) misuse(method, name, why string) {
	panic(fmt.Sprintf("shell: Args.%s(%q) in %q: %s", method, name, a.cmd.Syntax, why))
}

func joinIDs(ids []identity.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ",")
}
