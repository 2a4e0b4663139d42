package mgmtapi

import (
	"crypto/sha1"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
)

// Thumbprint is a certificate's SHA-1 thumbprint (the hash of the whole
// DER certificate, as Windows and most managers show it).
type Thumbprint [sha1.Size]byte

// Of returns the thumbprint of cert.
func Of(cert *x509.Certificate) Thumbprint { return sha1.Sum(cert.Raw) }

// String is the canonical spelling: upper-case hex pairs joined by colons.
func (t Thumbprint) String() string {
	var b strings.Builder
	for i, c := range t {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// Equal compares in constant time.
func (t Thumbprint) Equal(u Thumbprint) bool { return subtle.ConstantTimeCompare(t[:], u[:]) == 1 }

// ParseThumbprint accepts the common spellings of a SHA-1 thumbprint: 40
// hex digits in either case, optionally separated by colons, spaces or
// hyphens (as openssl, Windows and browsers print them).
func ParseThumbprint(s string) (Thumbprint, error) {
	var t Thumbprint
	digits := make([]byte, 0, 40)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':' || c == ' ' || c == '-' || c == '\t':
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			digits = append(digits, c)
		default:
			return t, fmt.Errorf("invalid thumbprint %q: character %q at position %d: expected 40 hex digits (SHA-1), colons or spaces allowed", clip(s), string(rune(c)), i+1)
		}
	}
	if len(digits) != 40 {
		return t, fmt.Errorf("invalid thumbprint %q: %d hex digits: expected 40 (a SHA-1 thumbprint; a SHA-256 one has 64)", clip(s), len(digits))
	}
	if _, err := hex.Decode(t[:], digits); err != nil {
		return t, fmt.Errorf("invalid thumbprint %q: %v", clip(s), err)
	}
	return t, nil
}

// clip keeps error messages one line long even for huge inputs.
func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
