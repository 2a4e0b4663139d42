// Package policy owns the password controls of DESIGN §8.2: their
// settings with the documented defaults and ranges (and the one-way
// enforce-password-criteria), the check of a new password naming every
// rule it breaks, password expiry and its warning, and the choice of users
// the inactive-user sweep deletes. The lockout settings live here too
// (they are password-controls words); package aaa/lockout applies them.
package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/orchd/orchd/aaa"
)

// Controls are the password-controls settings, as the configuration
// stores them.
type Controls struct {
	EnforcePasswordCriteria bool `json:"enforce_password_criteria"`
	// EnforcedSince is when enforcement was turned on: passwords set
	// before it expire counting from then, not from their change.
	EnforcedSince         time.Time `json:"enforced_since,omitzero"`
	MinPasswordLength     int       `json:"min_password_length"`
	RequireLowercase      bool      `json:"require_lowercase"`
	RequireUppercase      bool      `json:"require_uppercase"`
	RequireDigit          bool      `json:"require_digit"`
	RequireSpecial        bool      `json:"require_special"`
	HistoryLength         int       `json:"history_length"`
	PasswordExpiration    int       `json:"password_expiration"`     // days
	ExpirationWarningDays int       `json:"expiration_warning_days"` // days
	InactiveUserDeletion  int       `json:"inactive_user_deletion"`  // days, 0 = off
	FailedAttemptsAllowed int       `json:"failed_attempts_allowed"` // per source address
	FailedLockDuration    int       `json:"failed_lock_duration"`    // minutes
	FailedAlarmThreshold  int       `json:"failed_alarm_threshold"`  // 0 = off
}

// Defaults returns DESIGN §8.2's defaults.
func Defaults() Controls {
	return Controls{
		MinPasswordLength: 8, RequireLowercase: true, RequireUppercase: true, RequireDigit: true, RequireSpecial: true,
		HistoryLength: 8, PasswordExpiration: 90, ExpirationWarningDays: 7, InactiveUserDeletion: 0,
		FailedAttemptsAllowed: 4, FailedLockDuration: 5, FailedAlarmThreshold: 10,
	}
}

// IsZero reports whether c was never set (an older configuration without
// the section); callers then use Defaults.
func (c Controls) IsZero() bool { return c == Controls{} }

// Setting describes one `set password-controls` word.
type Setting struct {
	Name string
	// Form is the expected value, as help and errors say it.
	Form string
	Help string
	// OnOff settings take on or off; the others a number.
	OnOff   bool
	lo, hi  int
	zeroOff bool // 0 is allowed too (off)
	get     func(*Controls) any
}

var settings = []Setting{
	{Name: "enforce-password-criteria", Form: "on (one-way: it cannot be turned off)", OnOff: true,
		Help: "apply the require-* settings, history, expiration and inactive-user deletion", get: func(c *Controls) any { return &c.EnforcePasswordCriteria }},
	{Name: "min-password-length", Form: "an integer 8-64 (default 8)", lo: 8, hi: 64,
		Help: "shortest password accepted", get: func(c *Controls) any { return &c.MinPasswordLength }},
	{Name: "require-lowercase", Form: "on or off (default on)", OnOff: true,
		Help: "a new password needs a lowercase letter", get: func(c *Controls) any { return &c.RequireLowercase }},
	{Name: "require-uppercase", Form: "on or off (default on)", OnOff: true,
		Help: "a new password needs an uppercase letter", get: func(c *Controls) any { return &c.RequireUppercase }},
	{Name: "require-digit", Form: "on or off (default on)", OnOff: true,
		Help: "a new password needs a digit", get: func(c *Controls) any { return &c.RequireDigit }},
	{Name: "require-special", Form: "on or off (default on)", OnOff: true,
		Help: "a new password needs a special character", get: func(c *Controls) any { return &c.RequireSpecial }},
	{Name: "history-length", Form: "an integer 4-8 (default 8)", lo: 4, hi: 8,
		Help: "a new password may not be one of the last N", get: func(c *Controls) any { return &c.HistoryLength }},
	{Name: "password-expiration", Form: "days, an integer 30-360 (default 90)", lo: 30, hi: 360,
		Help: "days a password is valid", get: func(c *Controls) any { return &c.PasswordExpiration }},
	{Name: "expiration-warning-days", Form: "days, an integer 5-30 (default 7)", lo: 5, hi: 30,
		Help: "warn at login this many days before expiry", get: func(c *Controls) any { return &c.ExpirationWarningDays }},
	{Name: "inactive-user-deletion", Form: "days, 0 (off, default) or an integer 30-360", lo: 30, hi: 360, zeroOff: true,
		Help: "delete users who did not log in for N days", get: func(c *Controls) any { return &c.InactiveUserDeletion }},
	{Name: "failed-attempts-allowed", Form: "an integer 1-100 (default 4)", lo: 1, hi: 100,
		Help: "failed logins from one source address before it is locked out", get: func(c *Controls) any { return &c.FailedAttemptsAllowed }},
	{Name: "failed-lock-duration", Form: "minutes, an integer 1-1440 (default 5)", lo: 1, hi: 1440,
		Help: "minutes a source address stays locked out", get: func(c *Controls) any { return &c.FailedLockDuration }},
	{Name: "failed-alarm-threshold", Form: "0 (off) or an integer 2-1000 (default 10)", lo: 2, hi: 1000, zeroOff: true,
		Help: "failures from one address within the lock duration that raise an alarm", get: func(c *Controls) any { return &c.FailedAlarmThreshold }},
}

// Settings returns every setting in `show password-controls` order.
func Settings() []Setting { return append([]Setting(nil), settings...) }

func lookupSetting(name string) (Setting, bool) {
	for _, s := range settings {
		if s.Name == name {
			return s, true
		}
	}
	return Setting{}, false
}

func settingNames() string {
	var n []string
	for _, s := range settings {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

// Set parses value for setting name and applies it to c. Errors name the
// setting, the value and the expected form; c is unchanged on error.
// enforce-password-criteria is one-way: "off" is always refused, saying why.
// now stamps EnforcedSince when enforcement is turned on.
func (c *Controls) Set(name, value string, now time.Time) error {
	s, ok := lookupSetting(name)
	if !ok {
		return fmt.Errorf("unknown password-controls setting %q: expected one of %s", name, settingNames())
	}
	if s.OnOff {
		var on bool
		switch value {
		case "on":
			on = true
		case "off":
		default:
			return fmt.Errorf("invalid %s %q: expected on or off", name, value)
		}
		if name == "enforce-password-criteria" {
			if !on {
				if c.EnforcePasswordCriteria {
					return fmt.Errorf("enforce-password-criteria cannot be turned off: it is one-way, and stays on once on (as the orchestrator's enforcePasswordCriteria)")
				}
				return fmt.Errorf("enforce-password-criteria is off already, and off is not a value it can be set to: it is one-way (set password-controls enforce-password-criteria on, which cannot be undone)")
			}
			if !c.EnforcePasswordCriteria {
				c.EnforcedSince = now.UTC()
			}
		}
		*s.get(c).(*bool) = on
		return nil
	}
	n, err := strconv.Atoi(value)
	if err != nil || strconv.Itoa(n) != value || !(n >= s.lo && n <= s.hi || s.zeroOff && n == 0) {
		return fmt.Errorf("invalid %s %q: expected %s", name, value, s.Form)
	}
	*s.get(c).(*int) = n
	return nil
}

// Get returns a setting's value as `show password-controls` prints it.
func (c Controls) Get(name string) string {
	s, ok := lookupSetting(name)
	if !ok {
		return ""
	}
	switch v := s.get(&c).(type) {
	case *bool:
		if *v {
			return "on"
		}
		return "off"
	case *int:
		if *v == 0 && s.zeroOff {
			return "0 (off)"
		}
		return strconv.Itoa(*v)
	}
	return ""
}

// Validate checks every setting against its range (a tampered saved file).
func (c Controls) Validate() error {
	for _, s := range settings {
		if s.OnOff {
			continue
		}
		n := *s.get(&c).(*int)
		if !(n >= s.lo && n <= s.hi || s.zeroOff && n == 0) {
			return fmt.Errorf("password-controls %s is %d: expected %s", s.Name, n, s.Form)
		}
	}
	return nil
}

// Commands returns the `set password-controls` lines that turn Defaults
// into c (show configuration), enforcement last.
func (c Controls) Commands() []string {
	d := Defaults()
	var out []string
	for _, s := range settings[1:] {
		if c.Get(s.Name) != d.Get(s.Name) {
			out = append(out, "set password-controls "+s.Name+" "+strings.TrimSuffix(c.Get(s.Name), " (off)"))
		}
	}
	if c.EnforcePasswordCriteria {
		out = append(out, "set password-controls enforce-password-criteria on")
	}
	return out
}

// Rule texts, as a refused password lists them.
func ruleMinLength(n int) string { return fmt.Sprintf("needs at least %d characters", n) }

const (
	ruleLower   = "needs a lowercase letter"
	ruleUpper   = "needs an uppercase letter"
	ruleDigit   = "needs a digit"
	ruleSpecial = "needs a special character"
)

func ruleHistory(n int) string { return fmt.Sprintf("used in the last %d passwords", n) }

// RuleError is a refused password: Broken lists every rule it breaks.
type RuleError struct{ Broken []string }

func (e *RuleError) Error() string {
	return "password refused: " + strings.Join(e.Broken, "; ")
}

// CheckPassword checks a new password: length and the four character
// classes always (all four while enforcement is off, the require-*
// settings once on) and, once on, the history: the current password
// (current, a hash) and the history-length-1 before it (history, newest
// first). The error is a *RuleError naming every rule broken. The
// password never appears in it.
func (c Controls) CheckPassword(pw, current string, history []string) error {
	var broken []string
	if n := len([]rune(pw)); n < c.MinPasswordLength {
		broken = append(broken, ruleMinLength(c.MinPasswordLength))
	}
	var lower, upper, digit, special bool
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsLetter(r):
			// A letter without case (CJK...) is neither a special
			// character nor a lowercase or uppercase one.
		default:
			special = true
		}
	}
	enforce := c.EnforcePasswordCriteria
	for _, rule := range []struct {
		required, ok bool
		text         string
	}{
		{!enforce || c.RequireLowercase, lower, ruleLower},
		{!enforce || c.RequireUppercase, upper, ruleUpper},
		{!enforce || c.RequireDigit, digit, ruleDigit},
		{!enforce || c.RequireSpecial, special, ruleSpecial},
	} {
		if rule.required && !rule.ok {
			broken = append(broken, rule.text)
		}
	}
	if enforce && pw != "" {
		recent := []string{}
		if current != "" {
			recent = append(recent, current)
		}
		recent = append(recent, history...)
		if len(recent) > c.HistoryLength {
			recent = recent[:c.HistoryLength]
		}
		for _, h := range recent {
			if aaa.Verify(h, pw) {
				broken = append(broken, ruleHistory(c.HistoryLength))
				break
			}
		}
	}
	if len(broken) > 0 {
		return &RuleError{Broken: broken}
	}
	return nil
}

// NewHistory returns the history after a password change: the previous
// hash first, then the older ones, at most aaa.MaxPasswordHistory. It is
// kept whether or not enforcement is on, so that turning it on finds a
// history to check.
func NewHistory(previous string, history []string) []string {
	out := []string{}
	if previous != "" {
		out = append(out, previous)
	}
	out = append(out, history...)
	if len(out) > aaa.MaxPasswordHistory {
		out = out[:aaa.MaxPasswordHistory]
	}
	return out
}

// ExpiresAt returns when u's password expires, and false when it never
// does (enforcement off, or no password). A password set before
// enforcement was turned on counts from then.
func (c Controls) ExpiresAt(u aaa.User) (time.Time, bool) {
	if !c.EnforcePasswordCriteria || u.PasswordHash == "" {
		return time.Time{}, false
	}
	from := u.PasswordChangedAt
	if c.EnforcedSince.After(from) {
		from = c.EnforcedSince
	}
	return from.Add(time.Duration(c.PasswordExpiration) * 24 * time.Hour), true
}

// Expired reports whether u's password has expired at now.
func (c Controls) Expired(u aaa.User, now time.Time) bool {
	at, ok := c.ExpiresAt(u)
	return ok && !now.Before(at)
}

// Warning returns the login warning for a password that expires within
// expiration-warning-days, or "".
func (c Controls) Warning(u aaa.User, now time.Time) string {
	at, ok := c.ExpiresAt(u)
	if !ok || !now.Before(at) || at.Sub(now) > time.Duration(c.ExpirationWarningDays)*24*time.Hour {
		return ""
	}
	days := int(at.Sub(now).Hours() / 24)
	when := "in less than a day"
	switch {
	case days == 1:
		when = "in 1 day"
	case days > 1:
		when = fmt.Sprintf("in %d days", days)
	}
	return fmt.Sprintf("Warning: your password expires %s (%s); after that you must change it at login", when, at.UTC().Format("2006-01-02 15:04 UTC"))
}

// Deletion is one user the inactive-user sweep deletes, and why.
type Deletion struct {
	User   string
	Reason string
}

// Sweep returns the users to delete at now: with enforcement on and
// inactive-user-deletion N > 0, every user with no activity for N days.
// Activity is the latest of the last login (lastLogin, by user), the
// password change, the account's creation and the start of enforcement.
// It never deletes the last user holding adminRole: of the inactive ones,
// the least inactive adminRole user stays when no active one holds it.
func (c Controls) Sweep(users []aaa.User, lastLogin map[string]time.Time, now time.Time) []Deletion {
	if !c.EnforcePasswordCriteria || c.InactiveUserDeletion == 0 {
		return nil
	}
	limit := time.Duration(c.InactiveUserDeletion) * 24 * time.Hour
	type cand struct {
		u    aaa.User
		last time.Time
	}
	var del []cand
	admins := 0
	for _, u := range users {
		last := lastLogin[u.Name]
		for _, t := range []time.Time{u.PasswordChangedAt, u.Created, c.EnforcedSince} {
			if t.After(last) {
				last = t
			}
		}
		if u.HasRole(aaa.AdminRole) {
			admins++
		}
		if now.Sub(last) >= limit {
			del = append(del, cand{u, last})
		}
	}
	// Keep the most recently active adminRole user if all would go.
	adminDel := 0
	keep := -1
	for i, d := range del {
		if d.u.HasRole(aaa.AdminRole) {
			adminDel++
			if keep < 0 || d.last.After(del[keep].last) {
				keep = i
			}
		}
	}
	var out []Deletion
	for i, d := range del {
		if i == keep && adminDel == admins {
			continue
		}
		seen := "never logged in"
		if t, ok := lastLogin[d.u.Name]; ok && !t.IsZero() {
			seen = "last login " + t.UTC().Format("2006-01-02 15:04 UTC")
		}
		out = append(out, Deletion{User: d.u.Name,
			Reason: fmt.Sprintf("inactive for %d days (%s; inactive-user-deletion is %d days)", int(now.Sub(d.last).Hours()/24), seen, c.InactiveUserDeletion)})
	}
	return out
}
