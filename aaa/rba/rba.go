// Package rba owns Gaia role-based access: custom roles (`add rba role`,
// `delete rba role`) kept in the configuration beside the built-in
// adminRole and monitorRole, the parsing of their feature lists, and the
// rules that keep them consistent (built-in roles never change, a role is
// not deleted while a user holds it). It works on plain values; the
// configuration database stores the result.
package rba

import (
	"fmt"
	"slices"
	"strings"

	"github.com/orchd/orchd/aaa"
)

// DomainSystem is the only domain-type: roles cover the whole orchestrator.
const DomainSystem = "System"

// MaxNameLen is the longest role name.
const MaxNameLen = 64

const nameRule = "1-64 characters, a letter first, then letters, digits, _ or -"

// ValidateName checks a custom role's name: the rule above, and not a
// built-in role's name.
func ValidateName(name string) error {
	ok := len(name) >= 1 && len(name) <= MaxNameLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-'):
		default:
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("invalid role name %q: expected %s", name, nameRule)
	}
	if aaa.IsBuiltinRole(name) {
		return fmt.Errorf("role %s is built in: expected a new role name", name)
	}
	return nil
}

// ParseFeatures parses F[,F...]: known features, comma-separated, without
// spaces, empty elements or repeats. The result is in aaa.Features order.
func ParseFeatures(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("empty feature list: expected features separated by commas, from %s", strings.Join(aaa.Features(), ", "))
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		switch {
		case f == "":
			return nil, fmt.Errorf("empty feature in %q: expected features separated by commas, without spaces", s)
		case !aaa.IsFeature(f):
			return nil, fmt.Errorf("unknown feature %q in %q: expected features separated by commas, from %s", f, s, strings.Join(aaa.Features(), ", "))
		case slices.Contains(out, f):
			return nil, fmt.Errorf("feature %q listed twice in %q", f, s)
		}
		out = append(out, f)
	}
	return aaa.SortFeatures(out), nil
}

// NewRole builds a custom role from the words of `add rba role`: a name and
// the read-write and read-only feature lists as typed ("" for a list not
// given). At least one feature is needed, and none may be in both lists.
func NewRole(name, domainType, readWrite, readOnly string) (aaa.Role, error) {
	if err := ValidateName(name); err != nil {
		return aaa.Role{}, err
	}
	if domainType != DomainSystem {
		return aaa.Role{}, fmt.Errorf("invalid domain-type %q: expected %s", domainType, DomainSystem)
	}
	if readWrite == "" && readOnly == "" {
		return aaa.Role{}, fmt.Errorf("role %s has no feature: expected readwrite-features or readonly-features", name)
	}
	r := aaa.Role{Name: name}
	var err error
	if readWrite != "" {
		if r.ReadWriteFeatures, err = ParseFeatures(readWrite); err != nil {
			return aaa.Role{}, fmt.Errorf("readwrite-features: %w", err)
		}
	}
	if readOnly != "" {
		if r.ReadOnlyFeatures, err = ParseFeatures(readOnly); err != nil {
			return aaa.Role{}, fmt.Errorf("readonly-features: %w", err)
		}
	}
	if err := Check(r); err != nil {
		return aaa.Role{}, err
	}
	r.Expert = r.ReadWrite(aaa.FeatureExpert)
	return r, nil
}

// Check validates a stored custom role: its name, known features, each
// feature in one list only, at least one feature.
func Check(r aaa.Role) error {
	if err := ValidateName(r.Name); err != nil {
		return err
	}
	if len(r.ReadWriteFeatures)+len(r.ReadOnlyFeatures) == 0 {
		return fmt.Errorf("role %s has no feature: expected readwrite-features or readonly-features", r.Name)
	}
	for _, list := range [][]string{r.ReadWriteFeatures, r.ReadOnlyFeatures} {
		for i, f := range list {
			if !aaa.IsFeature(f) {
				return fmt.Errorf("role %s: unknown feature %q: expected one of %s", r.Name, f, strings.Join(aaa.Features(), ", "))
			}
			if slices.Contains(list[:i], f) {
				return fmt.Errorf("role %s: feature %s listed twice", r.Name, f)
			}
		}
	}
	for _, f := range r.ReadWriteFeatures {
		if slices.Contains(r.ReadOnlyFeatures, f) {
			return fmt.Errorf("role %s: feature %s is both read-write and read-only: expected it in one list", r.Name, f)
		}
	}
	return nil
}

// Lookup finds name among the built-in roles, then custom.
func Lookup(custom []aaa.Role, name string) (aaa.Role, bool) {
	if r, ok := aaa.LookupRole(name); ok {
		return r, true
	}
	for _, r := range custom {
		if r.Name == name {
			r.ReadWriteFeatures = slices.Clone(r.ReadWriteFeatures)
			r.ReadOnlyFeatures = slices.Clone(r.ReadOnlyFeatures)
			r.Expert = r.ReadWrite(aaa.FeatureExpert)
			return r, true
		}
	}
	return aaa.Role{}, false
}

// Names returns the built-in role names, then the custom ones, in order.
func Names(custom []aaa.Role) []string {
	out := []string{aaa.AdminRole, aaa.MonitorRole}
	for _, r := range custom {
		out = append(out, r.Name)
	}
	return out
}

// Add returns custom with r added; a name in use is refused.
func Add(custom []aaa.Role, r aaa.Role) ([]aaa.Role, error) {
	if err := Check(r); err != nil {
		return nil, err
	}
	if _, ok := Lookup(custom, r.Name); ok {
		return nil, fmt.Errorf("role %s already exists: expected a new name (delete rba role %s first to redefine it)", r.Name, r.Name)
	}
	r.Expert = false // derived on lookup
	return append(slices.Clone(custom), r), nil
}

// Delete returns custom without role name. Built-in roles are never
// deleted, nor a role that holders (the users holding it) still hold.
func Delete(custom []aaa.Role, name string, holders []string) ([]aaa.Role, error) {
	if aaa.IsBuiltinRole(name) {
		return nil, fmt.Errorf("role %s is built in: it cannot be deleted", name)
	}
	i := slices.IndexFunc(custom, func(r aaa.Role) bool { return r.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("no role %q: expected one of %s", name, strings.Join(Names(custom), ", "))
	}
	if len(holders) > 0 {
		return nil, fmt.Errorf("role %s is held by %s: give them other roles first (set user NAME role R[,R...])", name, strings.Join(holders, ", "))
	}
	return slices.Delete(slices.Clone(custom), i, i+1), nil
}

// Describe prints a role as `show rba role` does.
func Describe(r aaa.Role) string {
	list := func(fs []string) string {
		if len(fs) == 0 {
			return "-"
		}
		return strings.Join(fs, ",")
	}
	kind := "custom"
	if aaa.IsBuiltinRole(r.Name) {
		kind = "built-in"
	}
	return fmt.Sprintf("Role:                %s (%s)\nDomain type:         %s\nRead-write features: %s\nRead-only features:  %s\n",
		r.Name, kind, DomainSystem, list(r.ReadWriteFeatures), list(r.ReadOnlyFeatures))
}

// Command returns the `add rba role` line that recreates custom role r.
func Command(r aaa.Role) string {
	s := "add rba role " + r.Name + " domain-type " + DomainSystem
	if len(r.ReadWriteFeatures) > 0 {
		s += " readwrite-features " + strings.Join(r.ReadWriteFeatures, ",")
	}
	if len(r.ReadOnlyFeatures) > 0 {
		s += " readonly-features " + strings.Join(r.ReadOnlyFeatures, ",")
	}
	return s
}
