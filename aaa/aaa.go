// Package aaa owns administrator authentication and authorization: local
// users, roles and the features they may change, password hashing, and the
// one Authenticator the SSH server and the shell call to log someone in.
//
// It knows nothing of where users are stored: a Directory (the config
// database) answers user look-ups. DESIGN §8 adds external providers
// (RADIUS, TACACS+, LDAP), login domains, TOTP and per-source lockout
// behind the same Authenticate call.
package aaa

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// User states (`set user NAME state active|inactive`): an inactive user
// cannot log in, and its open sessions end.
const (
	StateActive   = "active"
	StateInactive = "inactive"
)

// MaxPasswordHistory is how many earlier password hashes a user keeps: the
// top of password-controls history-length's range (DESIGN §8.2).
const MaxPasswordHistory = 8

// User is a local administrator account as the config database stores it.
// PasswordHash is a string made by Hash, or empty when no password is set
// (such a user cannot log in with a password).
type User struct {
	Name string `json:"name"`
	// Roles a user holds; their features add up (DESIGN §8.1).
	Roles        []string `json:"roles"`
	State        string   `json:"state"` // StateActive or StateInactive
	Email        string   `json:"email,omitempty"`
	PasswordHash string   `json:"password_hash,omitempty"`
	// PasswordHistory holds the hashes of earlier passwords, newest first,
	// at most MaxPasswordHistory of them (password-controls history).
	PasswordHistory   []string  `json:"password_history,omitempty"`
	PasswordChangedAt time.Time `json:"password_changed_at,omitzero"`
	Created           time.Time `json:"created,omitzero"`
	// TwoFactor is the user's second factor (DESIGN §8.4); nil when off.
	TwoFactor *TwoFactor `json:"two_factor,omitempty"`
}

// Active reports whether the user may log in (an empty state is active).
func (u User) Active() bool { return u.State != StateInactive }

// HasRole reports whether the user holds role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// Clone returns a copy of u sharing no slices with it.
func (u User) Clone() User {
	u.Roles = slices.Clone(u.Roles)
	u.PasswordHistory = slices.Clone(u.PasswordHistory)
	return u
}

// String describes the user without its password hash, so that a User
// printed by mistake (%v, %+v) never leaks the hash into a log.
func (u User) String() string {
	pw := "no password"
	if u.PasswordHash != "" {
		pw = "password set"
	}
	return fmt.Sprintf("%s (roles %s, %s)", u.Name, strings.Join(u.Roles, ","), pw)
}

// MaxUserNameLen is the longest user name ValidateUserName accepts.
const MaxUserNameLen = 32

// ValidateUserName checks that name is 1-32 characters matching
// [a-z_][a-z0-9_.-]*, the portable Unix user-name shape.
func ValidateUserName(name string) error {
	ok := len(name) >= 1 && len(name) <= MaxUserNameLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-'):
		default:
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("invalid user name %q: expected 1-32 characters, a lowercase letter or _ first, then lowercase letters, digits, _ . -", name)
	}
	return nil
}
