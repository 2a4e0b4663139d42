package configdb

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/policy"
	"github.com/orchd/orchd/aaa/rba"
)

// The user operations below change a Doc; call them inside DB.Update so
// that they apply to the running configuration as a whole or not at all.

// User returns the user called name.
func (d *Doc) User(name string) (aaa.User, bool) {
	if i := d.userIndex(name); i >= 0 {
		return d.Users[i].Clone(), true
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

// AddUser adds user name, active, holding roles, with no password.
func (d *Doc) AddUser(name string, roles ...string) error {
	if err := aaa.ValidateUserName(name); err != nil {
		return err
	}
	if err := d.checkRoles(roles); err != nil {
		return err
	}
	if d.userIndex(name) >= 0 {
		return fmt.Errorf("user %q already exists: expected a new name (set user %s role R changes its roles)", name, name)
	}
	d.Users = append(d.Users, aaa.User{Name: name, Roles: slices.Clone(roles), State: aaa.StateActive, Created: now()})
	return nil
}

// now is the clock of the user operations, UTC to the second (tests
// replace it).
var now = func() time.Time { return time.Now().UTC().Truncate(time.Second) }

func (d *Doc) checkRoles(roles []string) error {
	if len(roles) == 0 {
		return fmt.Errorf("no role: expected at least one of %s", strings.Join(d.RoleNames(), ", "))
	}
	for i, r := range roles {
		if _, ok := d.LookupRole(r); !ok {
			return fmt.Errorf("unknown role %q: expected one of %s", r, strings.Join(d.RoleNames(), ", "))
		}
		if slices.Contains(roles[:i], r) {
			return fmt.Errorf("role %s listed twice", r)
		}
	}
	return nil
}

// SetPassword sets the password hash (made by aaa.Hash) of user name; the
// previous one joins its history and the change time is recorded (for
// expiry). Checking the new password against the policy is the caller's
// job: only it has the password.
func (d *Doc) SetPassword(name, hash string) error {
	i, err := d.mustUser(name)
	if err != nil {
		return err
	}
	if err := aaa.CheckHash(hash); err != nil {
		return fmt.Errorf("password of user %q: %w", name, err)
	}
	u := &d.Users[i]
	u.PasswordHistory = policy.NewHistory(u.PasswordHash, u.PasswordHistory)
	u.PasswordHash = hash
	u.PasswordChangedAt = now()
	return nil
}

// SetRole changes the roles of user name (kept for callers of one role).
func (d *Doc) SetRole(name, role string) error { return d.SetRoles(name, role) }

// SetRoles replaces the roles of user name. Taking adminRole from the last
// user holding it is refused.
func (d *Doc) SetRoles(name string, roles ...string) error {
	i, err := d.mustUser(name)
	if err != nil {
		return err
	}
	if err := d.checkRoles(roles); err != nil {
		return err
	}
	if !slices.Contains(roles, aaa.AdminRole) && d.isLastAdmin(i) {
		return fmt.Errorf("cannot change the roles of %q to %s: it is the last user with %s", name, strings.Join(roles, ","), aaa.AdminRole)
	}
	d.Users[i].Roles = slices.Clone(roles)
	return nil
}

// SetState makes user name active or inactive.
func (d *Doc) SetState(name, state string) error {
	i, err := d.mustUser(name)
	if err != nil {
		return err
	}
	if state != aaa.StateActive && state != aaa.StateInactive {
		return fmt.Errorf("invalid state %q: expected %s or %s", state, aaa.StateActive, aaa.StateInactive)
	}
	if state == aaa.StateInactive && d.Users[i].HasRole(aaa.AdminRole) && d.Users[i].Active() {
		others := 0
		for j, u := range d.Users {
			if j != i && u.Active() && u.HasRole(aaa.AdminRole) {
				others++
			}
		}
		if others == 0 {
			return fmt.Errorf("cannot make %q inactive: it is the last active user with %s", name, aaa.AdminRole)
		}
	}
	d.Users[i].State = state
	return nil
}

// SetEmail sets the email address of user name.
func (d *Doc) SetEmail(name, email string) error {
	i, err := d.mustUser(name)
	if err != nil {
		return err
	}
	if err := aaa.ValidateEmail(email); err != nil {
		return err
	}
	d.Users[i].Email = email
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
	if !d.Users[i].HasRole(aaa.AdminRole) {
		return false
	}
	for j, u := range d.Users {
		if j != i && u.HasRole(aaa.AdminRole) {
			return false
		}
	}
	return true
}

// SetPasswordControl sets one password-controls setting (policy.Set).
func (d *Doc) SetPasswordControl(setting, value string) error {
	c := d.PasswordControls
	if err := c.Set(setting, value, now()); err != nil {
		return err
	}
	d.PasswordControls = c
	return nil
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
// stable order (custom roles, password controls that differ from the
// defaults, users by name, then the expert password):
//
//	add rba role NAME domain-type System readwrite-features F,... [readonly-features F,...]
//	set password-controls SETTING VALUE
//	add user NAME role ROLE[,ROLE...]
//	set user NAME state inactive                     (when inactive)
//	set user NAME email ADDRESS                      (when set)
//	set user NAME password-hash <set, not shown>     (when a password is set)
//	set expert-password-hash <set, not shown>        (when set)
//
// Password hashes are never shown, so these lines recreate users and roles
// but not passwords.
func (d Doc) Commands() []string {
	users := slices.Clone(d.Users)
	slices.SortStableFunc(users, func(a, b aaa.User) int { return strings.Compare(a.Name, b.Name) })
	lines := []string{}
	for _, r := range d.Roles {
		lines = append(lines, rba.Command(r))
	}
	c := d.PasswordControls
	if c.IsZero() {
		c = policy.Defaults()
	}
	lines = append(lines, c.Commands()...)
	for _, u := range users {
		lines = append(lines, fmt.Sprintf("add user %s role %s", u.Name, strings.Join(u.Roles, ",")))
		if u.State == aaa.StateInactive {
			lines = append(lines, fmt.Sprintf("set user %s state %s", u.Name, aaa.StateInactive))
		}
		if u.Email != "" {
			lines = append(lines, fmt.Sprintf("set user %s email %s", u.Name, u.Email))
		}
		if u.PasswordHash != "" {
			lines = append(lines, fmt.Sprintf("set user %s password-hash %s", u.Name, hiddenSecret))
		}
	}
	if d.ExpertPasswordHash != "" {
		lines = append(lines, "set expert-password-hash "+hiddenSecret)
	}
	lines = append(lines, d.Management.commands()...)
	lines = append(lines, d.ExternalAuth.Commands()...)
	return append(lines, d.mfaCommands()...)
}

// hiddenSecret stands for a secret in show configuration.
const hiddenSecret = "<set, not shown>"
