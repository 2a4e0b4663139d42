package aaa

import (
	"fmt"
	"slices"
	"strings"
)

// Features a role grants, read-write or read-only (Gaia RBA). A command
// needs its feature read-write to change anything.
const (
	FeatureMaestroAuth      = "maestro-auth"      // mesh trust, revoke, block, membership
	FeatureUsers            = "users"             // local users, passwords, their roles
	FeatureRBA              = "rba"               // role definitions
	FeaturePasswordControls = "password-controls" // password policy, lockout settings
	FeatureAAA              = "aaa"               // providers, login domains, lockouts, MFA, mail server
	FeatureSecurity         = "security"          // sealed secret store, config export/import
	FeatureManagement       = "management"        // trusted manager API, tokens
	FeatureConfig           = "config"            // save config, config lock
	FeatureAudit            = "audit"             // audit log
	FeatureExpert           = "expert"            // expert mode (root shell)
)

// features in DESIGN §8.1 order.
var features = []string{FeatureMaestroAuth, FeatureUsers, FeatureRBA, FeaturePasswordControls, FeatureAAA,
	FeatureSecurity, FeatureManagement, FeatureConfig, FeatureAudit, FeatureExpert}

// Features returns every feature name, in a stable order.
func Features() []string { return slices.Clone(features) }

// Built-in role names.
const (
	AdminRole   = "adminRole"   // every feature read-write, expert allowed
	MonitorRole = "monitorRole" // every feature read-only, no expert
)

// Role is a named set of features, each read-write or read-only. A feature
// in neither list is invisible to the role.
type Role struct {
	Name              string   `json:"name"`
	ReadWriteFeatures []string `json:"readwrite_features,omitempty"`
	ReadOnlyFeatures  []string `json:"readonly_features,omitempty"`
	// Expert allows entering expert mode (a root shell): it equals
	// ReadWrite(FeatureExpert), and is derived, never stored.
	Expert bool `json:"-"`
}

// ReadWrite reports whether the role may change what feature covers.
func (r Role) ReadWrite(feature string) bool { return slices.Contains(r.ReadWriteFeatures, feature) }

// Read reports whether the role may see what feature covers.
func (r Role) Read(feature string) bool {
	return r.ReadWrite(feature) || slices.Contains(r.ReadOnlyFeatures, feature)
}

// BuiltinRoles returns adminRole and monitorRole.
func BuiltinRoles() []Role {
	return []Role{
		{Name: AdminRole, ReadWriteFeatures: Features(), Expert: true},
		// monitorRole lacks expert entirely (DESIGN §8.1).
		{Name: MonitorRole, ReadOnlyFeatures: slices.DeleteFunc(Features(), func(f string) bool { return f == FeatureExpert })},
	}
}

// IsBuiltinRole reports whether name is adminRole or monitorRole.
func IsBuiltinRole(name string) bool { return name == AdminRole || name == MonitorRole }

// RoleDirectory finds roles by name: the built-in ones and the custom ones
// of the running configuration (configdb.DB implements it). External login
// providers map the role names a server sends through it.
type RoleDirectory interface {
	LookupRole(name string) (Role, bool)
}

// Builtins is the RoleDirectory of the built-in roles alone.
var Builtins RoleDirectory = builtinRoles{}

type builtinRoles struct{}

func (builtinRoles) LookupRole(name string) (Role, bool) { return LookupRole(name) }

// ResolveRoles looks every name up in dir and returns what they grant
// together (see Union). A user holding no role, or a role dir does not
// know, gets an error naming it.
func ResolveRoles(dir RoleDirectory, names []string) (Role, error) {
	if len(names) == 0 {
		return Role{}, fmt.Errorf("no role: expected at least one")
	}
	roles := make([]Role, 0, len(names))
	for _, n := range names {
		r, ok := dir.LookupRole(n)
		if !ok {
			return Role{}, fmt.Errorf("unknown role %q", n)
		}
		roles = append(roles, r)
	}
	return Union(roles), nil
}

// Union returns the union of roles: a feature is read-write when any of
// them has it read-write, read-only when some have it and none read-write.
// Its Name lists the roles' names, comma-separated, as refusals print them.
func Union(roles []Role) Role {
	var names, rw, ro []string
	for _, r := range roles {
		names = append(names, r.Name)
		rw = append(rw, r.ReadWriteFeatures...)
	}
	for _, r := range roles {
		for _, f := range r.ReadOnlyFeatures {
			if !slices.Contains(rw, f) {
				ro = append(ro, f)
			}
		}
	}
	c := Role{Name: strings.Join(names, ","), ReadWriteFeatures: sortFeatures(rw), ReadOnlyFeatures: sortFeatures(ro)}
	c.Expert = c.ReadWrite(FeatureExpert)
	return c
}

// sortFeatures returns fs without duplicates, in Features order (unknown
// names last, sorted).
func sortFeatures(fs []string) []string {
	out := []string{}
	for _, f := range features {
		if slices.Contains(fs, f) {
			out = append(out, f)
		}
	}
	var other []string
	for _, f := range fs {
		if !slices.Contains(features, f) && !slices.Contains(other, f) {
			other = append(other, f)
		}
	}
	slices.Sort(other)
	return append(out, other...)
}

// SortFeatures returns fs without duplicates, in the stable Features order.
func SortFeatures(fs []string) []string { return sortFeatures(fs) }

// IsFeature reports whether f is one of Features.
func IsFeature(f string) bool { return slices.Contains(features, f) }

// LookupRole returns the built-in role called name; custom roles live in
// the configuration (a RoleDirectory).
func LookupRole(name string) (Role, bool) {
	for _, r := range BuiltinRoles() {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

// ValidateRoleName checks that name is a built-in role.
func ValidateRoleName(name string) error {
	if _, ok := LookupRole(name); ok {
		return nil
	}
	return fmt.Errorf("unknown role %q: expected %s or %s", name, AdminRole, MonitorRole)
}
