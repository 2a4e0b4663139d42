// Package configdb owns the administrator configuration, Gaia style: a
// running configuration that every change applies to at once, and a saved
// configuration on disk (var/lib/clishd/config.json) that only `save config`
// writes. `show config-state` tells whether they differ; a restart loads the
// saved one. The previous saved copy is kept as config.json.prev and used,
// loudly, when the saved file is corrupt. The package also owns the
// configuration lock: one read-write session at a time.
package configdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/domain"
	"github.com/orchd/orchd/aaa/mfa"
	"github.com/orchd/orchd/aaa/policy"
)

// SchemaVersion is the schema this package writes. It goes up whenever the
// document changes shape; decoding refuses newer schemas (rather than drop
// what it does not understand) and migrates older ones (migrate.go).
//
//	1  users with one "role"
//	2  users with "roles", state, email, password history and times;
//	   custom "roles"; "password_controls"
const SchemaVersion = 2

// Doc is one whole configuration, as saved on disk.
type Doc struct {
	Schema             int        `json:"schema"`
	Users              []aaa.User `json:"users"`
	ExpertPasswordHash string     `json:"expert_password_hash,omitempty"`
	Management         Management `json:"management,omitzero"`
	// ExternalAuth holds providers and login domains (DESIGN §8.5); their
	// secrets are in the sealed store.
	ExternalAuth domain.Config `json:"external_auth,omitzero"`
	// Roles are the custom RBA roles (the built-in ones are not stored).
	Roles            []aaa.Role      `json:"roles"`
	PasswordControls policy.Controls `json:"password_controls"`
	// Later sections (AAA providers, ...) go here; each needs a line in
	// clone, Validate and Commands.
	// MailServer sends email verification codes (configdb/mfa.go).
	MailServer *mfa.MailServer `json:"mail_server,omitempty"`
}

// String summarises the document without any password hash.
func (d Doc) String() string {
	return fmt.Sprintf("configuration schema %d: %d users, %d custom roles, expert password set: %v", d.Schema, len(d.Users), len(d.Roles), d.ExpertPasswordHash != "")
}

// clone returns a deep copy of d.
func (d Doc) clone() Doc {
	users := make([]aaa.User, len(d.Users))
	for i, u := range d.Users {
		users[i] = u.Clone()
	}
	if d.Users != nil {
		d.Users = users
	}
	roles := d.Roles
	d.Roles = nil
	for _, r := range roles {
		r.ReadWriteFeatures = slices.Clone(r.ReadWriteFeatures)
		r.ReadOnlyFeatures = slices.Clone(r.ReadOnlyFeatures)
		d.Roles = append(d.Roles, r)
	}
	d.Management = d.Management.clone()
	d.ExternalAuth = d.ExternalAuth.Clone()
	return d
}

// normalize puts d in canonical form: current schema, users sorted by
// name, no nil slices. Two equal configurations encode to equal bytes.
func (d *Doc) normalize() {
	if d.Schema == 0 {
		d.Schema = SchemaVersion
	}
	if d.Users == nil {
		d.Users = []aaa.User{}
	}
	slices.SortStableFunc(d.Users, func(a, b aaa.User) int { return strings.Compare(a.Name, b.Name) })
	d.ExternalAuth.Normalize()
	for i := range d.Users {
		if d.Users[i].State == "" {
			d.Users[i].State = aaa.StateActive
		}
		if d.Users[i].Roles == nil {
			d.Users[i].Roles = []string{}
		}
	}
	if d.Roles == nil {
		d.Roles = []aaa.Role{}
	}
	slices.SortStableFunc(d.Roles, func(a, b aaa.Role) int { return strings.Compare(a.Name, b.Name) })
	for i := range d.Roles {
		d.Roles[i].Expert = false // derived, never stored
	}
	if d.PasswordControls.IsZero() {
		d.PasswordControls = policy.Defaults()
	}
}

// Validate checks the whole document: schema, user names, roles and
// password hashes, no duplicate users, and at least one adminRole user
// whenever there are users at all. It runs on load and after every update.
func (d Doc) Validate() error {
	if d.Schema != SchemaVersion {
		return fmt.Errorf("schema %d: expected %d", d.Schema, SchemaVersion)
	}
	if err := d.validateRoles(); err != nil {
		return err
	}
	if err := d.PasswordControls.Validate(); err != nil {
		return err
	}
	seen := make(map[string]bool, len(d.Users))
	admins := 0
	for _, u := range d.Users {
		if err := aaa.ValidateUserName(u.Name); err != nil {
			return err
		}
		if seen[u.Name] {
			return fmt.Errorf("user %q appears twice: expected each user once", u.Name)
		}
		seen[u.Name] = true
		if err := d.validateUser(u); err != nil {
			return fmt.Errorf("user %q: %w", u.Name, err)
		}
		if u.HasRole(aaa.AdminRole) {
			admins++
		}
	}
	if len(d.Users) > 0 && admins == 0 {
		return fmt.Errorf("no user has %s: expected at least one, or nobody could administer this orchestrator", aaa.AdminRole)
	}
	if d.ExpertPasswordHash != "" {
		if err := aaa.CheckHash(d.ExpertPasswordHash); err != nil {
			return fmt.Errorf("expert password: %w", err)
		}
	}
	if err := d.Management.validate(d.checkRoleName); err != nil {
		return fmt.Errorf("management: %w", err)
	}
	if err := d.ExternalAuth.Validate(); err != nil {
		return fmt.Errorf("external authentication: %w", err)
	}
	return d.validateMFA()
}

// encode returns the saved-file form of a normalized document.
func encode(d Doc) []byte {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("configdb: encoding a document: %v", err)) // strings and ints only
	}
	return append(b, '\n')
}

// decode parses and validates a saved file. Unknown fields, trailing data,
// a missing or unknown schema and any validation failure are errors.
func decode(b []byte) (Doc, error) {
	var probe struct {
		Schema *int `json:"schema"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return Doc{}, fmt.Errorf("parsing JSON: %w", err)
	}
	switch {
	case probe.Schema == nil:
		return Doc{}, fmt.Errorf("no \"schema\" field: expected a JSON object with \"schema\": %d", SchemaVersion)
	case *probe.Schema > SchemaVersion:
		return Doc{}, fmt.Errorf("schema %d is newer than this clishd understands: expected at most %d", *probe.Schema, SchemaVersion)
	case *probe.Schema < 1:
		return Doc{}, fmt.Errorf("schema %d: expected 1 to %d", *probe.Schema, SchemaVersion)
	case *probe.Schema < SchemaVersion:
		var err error
		if b, err = migrate(*probe.Schema, b); err != nil {
			return Doc{}, fmt.Errorf("parsing schema %d: %w", *probe.Schema, err)
		}
	}
	var d Doc
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Doc{}, fmt.Errorf("parsing schema %d: %w", *probe.Schema, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Doc{}, errors.New("data after the JSON object: expected one object")
	}
	d.normalize()
	if err := d.Validate(); err != nil {
		return Doc{}, fmt.Errorf("invalid: %w", err)
	}
	return d, nil
}
