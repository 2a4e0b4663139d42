package aaa

import (
	"fmt"
	"net/mail"
	"strings"
)

// MaxEmailLen bounds an email address (RFC 5321's path limit).
const MaxEmailLen = 254

// ValidateEmail checks a bare address such as admin@example.com: no
// display name, no angle brackets, no spaces.
func ValidateEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(s) > MaxEmailLen || strings.ContainsAny(s, " <>\"") || !strings.Contains(s, "@") {
		return fmt.Errorf("invalid email address %q: expected an address such as admin@example.com", s)
	}
	return nil
}
