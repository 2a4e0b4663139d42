package configdb

import (
	"fmt"
	"slices"
	"strings"

	"github.com/orchd/orchd/aaa"
)

// The user operations below change a Doc; call them inside DB.Update so
// that they apply to the running configuration as a whole or not at all.

// User returns the user called name.
func (d *Doc) User(name string) (aaa.User, bool) {
	if i := d.userIndex(name); i >= 0 {
		return d.Users[i], true
	}
	return aaa.User{}, false
}

func (d *Doc) userIndex(name string) int {
	return slices.IndexFunc(d.Users, func(u aaa.User) bool { return u.Name == name })
}

// mustUser returns the index of user name or an error naming the users
// that exist.
func (d *Doc) mustUser(name string) (int, error) {
	if i := d.userIndex(name); i >= 0 {
		return i, nil
	}
	names := make([]string, 0, len(d.Users))
	for _, u := range d.Users {
		names = append(names, u.Name)
	}
	if len(names) == 0 {
		return -1, fmt.Errorf("no user %q: expected an existing user, and there are none", name)
	}
	return -1, fmt.Errorf("no user %q: expected one of %s", name, strings.Join(names, ", "))
}

// AddUser adds user name with role and no password.
func (d *Doc) AddUser(name, role string) error {
	if err := aaa.ValidateUserName(name); err != nil {
		return err
	}
	if err := aaa.ValidateRoleName(role); err != nil {
		return err
	}
	if d.userIndex(name) >= 0 {
		return fmt.Errorf("user %q already exists: expected a new name (set user %s role R changes its role)", name, name)
	}
	d.Users = append(d.Users, aaa.User{Name: name, Role: role})
	return nil
}

// SetPassword sets the password hash (made by aaa.Hash) of user name.
func (d *Doc) SetPassword(name, hash string) error {
	i, err := d.mustUser(name)
	if err != nil {
		return err
	}
	if err := aaa.CheckHash(hash); err != nil {
		return fmt.Errorf("password of user %q: %w", name, err)
	}
	d.Users[i].PasswordHash = hash
	return nil
}

// SetRole changes the role of user name. Demoting the last adminRole user
// is refused.
func (d *Doc) SetRole(name, role string) error {
	i, err := d.mustUser(name)
	if err != nil {
		return err
	}
	if err := aaa.ValidateRoleName(role); err != nil {
		return err
	}
	if role != aaa.AdminRole && d.isLastAdmin(i) {
		return fmt.Errorf("cannot change the role of %q to %s: it is the last user with %s", name, role, aaa.AdminRole)
	}
	d.Users[i].Role = role
	return nil
}

// DeleteUser removes user name. Deleting the last adminRole user is
// refused.
func (d *Doc) DeleteUser(name string) error {
	i, err := d.mustUser(name)
	if err != nil {
		return err
	}
	if d.isLastAdmin(i) {
		return fmt.Errorf("cannot delete %q: it is the last user with %s", name, aaa.AdminRole)
	}
	d.Users = slices.Delete(d.Users, i, i+1)
	return nil
}

func (d *Doc) isLastAdmin(i int) bool {
	if d.Users[i].Role != aaa.AdminRole {
		return false
	}
	for j, u := range d.Users {
		if j != i && u.Role == aaa.AdminRole {
			return false
		}
	}
	return true
}

// SetExpertPassword sets the expert-mode password hash (made by aaa.Hash).
func (d *Doc) SetExpertPassword(hash string) error {
	if err := aaa.CheckHash(hash); err != nil {
		return fmt.Errorf("expert password: %w", err)
	}
	d.ExpertPasswordHash = hash
	return nil
}

// Commands returns the shell commands that recreate d, one per line, in a
// stable order (users by name, then the expert password):
//
//	add user NAME role ROLE
//	set user NAME password-hash <set, not shown>     (when a password is set)
//	set expert-password-hash <set, not shown>        (when set)
//
// Password hashes are never shown, so these lines recreate users and roles
// but not passwords.
func (d Doc) Commands() []string {
	users := slices.Clone(d.Users)
	slices.SortStableFunc(users, func(a, b aaa.User) int { return strings.Compare(a.Name, b.Name) })
	lines := []string{}
	for _, u := range users {
		lines = append(lines, fmt.Sprintf("add user %s role %s", u.Name, u.Role))
		if u.PasswordHash != "" {
			lines = append(lines, fmt.Sprintf("set user %s password-hash %s", u.Name, hiddenSecret))
		}
	}
	if d.ExpertPasswordHash != "" {
		lines = append(lines, "set expert-password-hash "+hiddenSecret)
	}
	lines = append(lines, d.Management.commands()...)
	lines = append(lines, d.ExternalAuth.Commands()...)
	return lines
}

// hiddenSecret stands for a secret in show configuration.
const hiddenSecret = "<set, not shown>"
