package configdb

import (
	"fmt"
	"slices"
	"strings"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/rba"
)

// LookupRole finds a built-in or custom role of the document.
func (d *Doc) LookupRole(name string) (aaa.Role, bool) { return rba.Lookup(d.Roles, name) }

// RoleNames lists the built-in roles, then the custom ones.
func (d *Doc) RoleNames() []string { return rba.Names(d.Roles) }

// AddRole adds custom role r (made by rba.NewRole).
func (d *Doc) AddRole(r aaa.Role) error {
	roles, err := rba.Add(d.Roles, r)
	if err != nil {
		return err
	}
	d.Roles = roles
	return nil
}

// DeleteRole removes custom role name, refused while a user holds it.
func (d *Doc) DeleteRole(name string) error {
	roles, err := rba.Delete(d.Roles, name, d.Holders(name))
	if err != nil {
		return err
	}
	d.Roles = roles
	return nil
}

// Holders returns the users holding role name.
func (d *Doc) Holders(name string) []string {
	var out []string
	for _, u := range d.Users {
		if u.HasRole(name) {
			out = append(out, u.Name)
		}
	}
	return out
}

// ResolveUser returns user name and what its roles grant together, or an
// error saying why it may do nothing (gone, inactive, broken roles).
func (d *Doc) ResolveUser(name string) (aaa.User, aaa.Role, error) {
	u, ok := d.User(name)
	if !ok {
		return aaa.User{}, aaa.Role{}, fmt.Errorf("user %s no longer exists", name)
	}
	if !u.Active() {
		return u, aaa.Role{}, fmt.Errorf("user %s is inactive", name)
	}
	r, err := aaa.ResolveRoles(d, u.Roles)
	if err != nil {
		return u, aaa.Role{}, fmt.Errorf("user %s: %w", name, err)
	}
	return u, r, nil
}

func (d Doc) validateRoles() error {
	seen := map[string]bool{}
	for _, r := range d.Roles {
		if err := rba.Check(r); err != nil {
			return err
		}
		if seen[r.Name] {
			return fmt.Errorf("role %q appears twice: expected each role once", r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

func (d Doc) validateUser(u aaa.User) error {
	if len(u.Roles) == 0 {
		return fmt.Errorf("no role: expected at least one of %s", strings.Join(d.RoleNames(), ", "))
	}
	for i, r := range u.Roles {
		if _, ok := d.LookupRole(r); !ok {
			return fmt.Errorf("unknown role %q: expected one of %s", r, strings.Join(d.RoleNames(), ", "))
		}
		if slices.Contains(u.Roles[:i], r) {
			return fmt.Errorf("role %s listed twice", r)
		}
	}
	if u.State != aaa.StateActive && u.State != aaa.StateInactive {
		return fmt.Errorf("state %q: expected %s or %s", u.State, aaa.StateActive, aaa.StateInactive)
	}
	if u.Email != "" {
		if err := aaa.ValidateEmail(u.Email); err != nil {
			return err
		}
	}
	for _, h := range append([]string{u.PasswordHash}, u.PasswordHistory...) {
		if h == "" {
			continue
		}
		if err := aaa.CheckHash(h); err != nil {
			return err
		}
	}
	if len(u.PasswordHistory) > aaa.MaxPasswordHistory {
		return fmt.Errorf("%d passwords in the history: expected at most %d", len(u.PasswordHistory), aaa.MaxPasswordHistory)
	}
	return nil
}

// checkRoleName accepts a built-in or custom role of the document.
func (d Doc) checkRoleName(name string) error {
	if _, ok := d.LookupRole(name); ok {
		return nil
	}
	return fmt.Errorf("unknown role %q: expected one of %s", name, strings.Join(d.RoleNames(), ", "))
}
