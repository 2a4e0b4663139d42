// Package avpair parses the role strings external authentication servers
// send (DESIGN §8.5): the Cisco AV pair `shell:msc-roles=...` in its old
// comma form and its read-write/read-only form, and the APIC-style
// `shell:domains=DOMAIN/W|W/R|R,...`, each optionally behind a
// `cisco-av-pair=` prefix. It only parses: whether the named roles exist is
// for the caller to decide.
package avpair

import (
	"fmt"
	"slices"
	"strings"
)

// Domain is the shell:domains entry that names this product's roles;
// entries for other domains (APIC's "all") are ignored.
const Domain = "orchall"

// Format names the form a role string was written in.
type Format string

const (
	FormatCommaList Format = "shell:msc-roles=r1,r2"       // every role read-write
	FormatSlash     Format = "shell:msc-roles=w1|w2/r1|r2" // read-write / read-only
	FormatDomains   Format = "shell:domains=orchall/w1|w2/r1|r2"
)

const (
	prefix       = "cisco-av-pair="
	keyMscRoles  = "shell:msc-roles="
	keyDomains   = "shell:domains="
	maxRoleName  = 64
	maxRoleCount = 64
)

// Roles is what one user was granted. A role in both lists is read-write.
type Roles struct {
	ReadWrite []string
	ReadOnly  []string
	Format    Format
}

// Empty reports whether no role was granted.
func (r Roles) Empty() bool { return len(r.ReadWrite) == 0 && len(r.ReadOnly) == 0 }

// String renders the roles for messages: "w1,w2 read-write; r1 read-only".
func (r Roles) String() string {
	var parts []string
	if len(r.ReadWrite) > 0 {
		parts = append(parts, strings.Join(r.ReadWrite, ",")+" read-write")
	}
	if len(r.ReadOnly) > 0 {
		parts = append(parts, strings.Join(r.ReadOnly, ",")+" read-only")
	}
	if len(parts) == 0 {
		return "no roles"
	}
	return strings.Join(parts, "; ")
}

// IsRoleValue reports whether v is a role-bearing value (after an optional
// cisco-av-pair= prefix), as opposed to other pairs a server sends along
// (priv-lvl=15, shell:priv-lvl=15).
func IsRoleValue(v string) bool {
	s := stripPrefix(strings.TrimSpace(v))
	return hasPrefixFold(s, keyMscRoles) || hasPrefixFold(s, keyDomains)
}

// Parse parses one role string.
func Parse(v string) (Roles, error) {
	s := stripPrefix(strings.TrimSpace(v))
	switch {
	case hasPrefixFold(s, keyMscRoles):
		return parseMscRoles(s[len(keyMscRoles):])
	case hasPrefixFold(s, keyDomains):
		return parseDomains(s[len(keyDomains):])
	}
	return Roles{}, fmt.Errorf("role string %q: expected shell:msc-roles=ROLES or shell:domains=%s/ROLES", clip(v), Domain)
}

// ParseAll parses the role-bearing values among vals (other pairs are
// skipped) and merges them. Values in different formats are refused as a
// mix, as is any malformed one; no role value at all is an error.
func ParseAll(vals []string) (Roles, error) {
	var out Roles
	n := 0
	for _, v := range vals {
		if !IsRoleValue(v) {
			continue
		}
		r, err := Parse(v)
		if err != nil {
			return Roles{}, err
		}
		if n > 0 && r.Format != out.Format {
			return Roles{}, fmt.Errorf("role strings mix the formats %s and %s: expected one format per user", out.Format, r.Format)
		}
		n++
		out.Format = r.Format
		out.ReadWrite = appendNew(out.ReadWrite, r.ReadWrite...)
		out.ReadOnly = appendNew(out.ReadOnly, r.ReadOnly...)
	}
	if n == 0 {
		return Roles{}, fmt.Errorf("no role string among the %d value(s) the server sent: expected shell:msc-roles=ROLES or shell:domains=%s/ROLES", len(vals), Domain)
	}
	out.ReadOnly = slices.DeleteFunc(out.ReadOnly, func(r string) bool { return slices.Contains(out.ReadWrite, r) })
	return out, nil
}

func parseMscRoles(s string) (Roles, error) {
	hasSlash, hasPipe, hasComma := strings.Contains(s, "/"), strings.Contains(s, "|"), strings.Contains(s, ",")
	switch {
	case hasComma && (hasSlash || hasPipe):
		return Roles{}, fmt.Errorf("role string %q mixes the comma list with the | and / form: expected r1,r2 or w1|w2/r1|r2", clip(keyMscRoles+s))
	case hasSlash:
		rw, ro, err := splitSlash(s, keyMscRoles+s)
		if err != nil {
			return Roles{}, err
		}
		return finish(Roles{ReadWrite: rw, ReadOnly: ro, Format: FormatSlash}, keyMscRoles+s)
	case hasPipe:
		return Roles{}, fmt.Errorf("role string %q uses | without /: expected w1|w2/r1|r2 (w1/ for read-write only, /r1 for read-only only)", clip(keyMscRoles+s))
	}
	rw, err := names(s, ",", keyMscRoles+s)
	if err != nil {
		return Roles{}, err
	}
	return finish(Roles{ReadWrite: rw, Format: FormatCommaList}, keyMscRoles+s)
}

func parseDomains(s string) (Roles, error) {
	whole := keyDomains + s
	if strings.Contains(s, ";") {
		return Roles{}, fmt.Errorf("role string %q: expected domain entries separated by commas", clip(whole))
	}
	out := Roles{Format: FormatDomains}
	found := false
	for _, entry := range strings.Split(s, ",") {
		dom, rest, ok := strings.Cut(entry, "/")
		if !ok || dom == "" || !validName(dom) {
			return Roles{}, fmt.Errorf("domain entry %q in %q: expected DOMAIN/w1|w2/r1|r2", clip(entry), clip(whole))
		}
		rw, ro, err := splitSlash(rest, whole)
		if err != nil {
			return Roles{}, fmt.Errorf("domain entry %q: %w", clip(entry), err)
		}
		if dom != Domain {
			continue // another product's roles (APIC's "all")
		}
		found = true
		out.ReadWrite = appendNew(out.ReadWrite, rw...)
		out.ReadOnly = appendNew(out.ReadOnly, ro...)
	}
	if !found {
		return Roles{}, fmt.Errorf("role string %q has no %s entry: expected shell:domains=%s/w1|w2/r1|r2", clip(whole), Domain, Domain)
	}
	return finish(out, whole)
}

// splitSlash splits "w1|w2/r1|r2" (exactly one slash; either side may be
// empty).
func splitSlash(s, whole string) (rw, ro []string, err error) {
	if strings.Count(s, "/") != 1 {
		return nil, nil, fmt.Errorf("role string %q: expected exactly one / between read-write and read-only roles", clip(whole))
	}
	w, r, _ := strings.Cut(s, "/")
	if w != "" {
		if rw, err = names(w, "|", whole); err != nil {
			return nil, nil, err
		}
	}
	if r != "" {
		if ro, err = names(r, "|", whole); err != nil {
			return nil, nil, err
		}
	}
	return rw, ro, nil
}

func names(s, sep, whole string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(s, sep) {
		n = strings.TrimSpace(n)
		if !validName(n) {
			return nil, fmt.Errorf("role %q in %q: expected role names (letters, digits, _ -) separated by %s", clip(n), clip(whole), sep)
		}
		out = appendNew(out, n)
	}
	return out, nil
}

func finish(r Roles, whole string) (Roles, error) {
	r.ReadOnly = slices.DeleteFunc(r.ReadOnly, func(n string) bool { return slices.Contains(r.ReadWrite, n) })
	switch {
	case r.Empty():
		return Roles{}, fmt.Errorf("role string %q names no role", clip(whole))
	case len(r.ReadWrite)+len(r.ReadOnly) > maxRoleCount:
		return Roles{}, fmt.Errorf("role string %q names more than %d roles", clip(whole), maxRoleCount)
	}
	return r, nil
}

func validName(n string) bool {
	if n == "" || len(n) > maxRoleName {
		return false
	}
	for _, c := range n {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func appendNew(dst []string, vals ...string) []string {
	for _, v := range vals {
		if !slices.Contains(dst, v) {
			dst = append(dst, v)
		}
	}
	return dst
}

func stripPrefix(s string) string {
	if hasPrefixFold(s, prefix) {
		return strings.TrimSpace(s[len(prefix):])
	}
	return s
}

func hasPrefixFold(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }

// clip keeps messages about hostile input short and printable.
func clip(s string) string {
	const max = 120
	b := []rune(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
