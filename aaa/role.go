package aaa

import (
	"fmt"
	"slices"
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
	Name              string
	ReadWriteFeatures []string
	ReadOnlyFeatures  []string
	// Expert allows entering expert mode (a root shell). For the built-in
	// roles it equals ReadWrite(FeatureExpert).
	Expert bool
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

// LookupRole returns the role called name. Only the built-in roles exist
// until `add rba role` lands (DESIGN §8).
func LookupRole(name string) (Role, bool) {
	for _, r := range BuiltinRoles() {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

// ValidateRoleName checks that name is a role LookupRole knows.
func ValidateRoleName(name string) error {
	if _, ok := LookupRole(name); ok {
		return nil
	}
	return fmt.Errorf("unknown role %q: expected %s or %s", name, AdminRole, MonitorRole)
}
