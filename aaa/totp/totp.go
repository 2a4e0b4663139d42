// Package totp owns the time-based one-time passwords of DESIGN §8.4:
// RFC 6238 with SHA-1, 30-second steps and 6 digits, one step of clock
// drift either way, and each code accepted once (the last accepted step of
// every user is remembered and never accepted again).
package totp

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Parameters fixed by DESIGN §8.4.
const (
	Period = 30 * time.Second
	Digits = 6
	Skew   = 1 // steps accepted either side of now
)

var opts = totp.ValidateOpts{Period: uint(Period / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Errors of Verify; neither says anything about the secret.
var (
	ErrWrongCode = errors.New("wrong verification code")
	ErrReplayed  = errors.New("verification code already used")
)

// Key is a new TOTP secret and the otpauth:// URI an authenticator app
// scans (it holds the secret: show it only to the user enrolling).
type Key struct {
	Secret string // base32, no padding
	URI    string
}

// NewKey makes a random 160-bit secret for account at issuer.
func NewKey(issuer, account string) (Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: opts.Period,
		SecretSize: 20, Digits: opts.Digits, Algorithm: opts.Algorithm})
	if err != nil {
		return Key{}, fmt.Errorf("generating a TOTP secret: %w", err)
	}
	return Key{Secret: k.Secret(), URI: k.URL()}, nil
}

// SecretFromURI returns the secret an otpauth:// URI carries (tests and
// scripts compute codes from the enrolment URI).
func SecretFromURI(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		return "", fmt.Errorf("invalid TOTP URI: expected otpauth://totp/ISSUER:ACCOUNT?secret=BASE32")
	}
	s := u.Query().Get("secret")
	if s == "" {
		return "", errors.New("invalid TOTP URI: no secret parameter")
	}
	return s, nil
}

// Code is the code for secret at t.
func Code(secret string, t time.Time) (string, error) {
	c, err := totp.GenerateCodeCustom(secret, t, opts)
	if err != nil {
		return "", fmt.Errorf("computing a TOTP code: %w", err)
	}
	return c, nil
}

// ParseCode checks that s is a code's shape: exactly 6 ASCII digits
// (surrounding spaces trimmed, as apps show "123 456" too).
func ParseCode(s string) (string, error) {
	b := make([]byte, 0, Digits)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		default:
			return "", errors.New("invalid verification code: expected 6 digits")
		}
	}
	if len(b) != Digits {
		return "", errors.New("invalid verification code: expected 6 digits")
	}
	return string(b), nil
}

// Verifier checks codes and remembers, per user, the last step accepted.
// The memory is the daemon's: a restart forgets it (a code seen just
// before a restart could be used once more within its 90 seconds).
type Verifier struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	last map[string]int64
}

// Verify accepts code for user's secret if it is the code of the current
// step or one step either side, and that step is later than the last one
// accepted for user.
func (v *Verifier) Verify(user, secret, code string) error {
	code, err := ParseCode(code)
	if err != nil {
		return ErrWrongCode
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now()
	step := t.Unix() / int64(opts.Period)
	match := int64(-1)
	for d := int64(-Skew); d <= Skew; d++ {
		want, err := Code(secret, time.Unix((step+d)*int64(opts.Period), 0))
		if err != nil {
			return err
		}
		// Check every candidate: the time taken does not tell which matched.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			match = step + d
		}
	}
	if match < 0 {
		return ErrWrongCode
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.last == nil {
		v.last = map[string]int64{}
	}
	if last, ok := v.last[user]; ok && match <= last {
		return ErrReplayed
	}
	v.last[user] = match
	return nil
}

// Forget drops user's memory (its TOTP was turned off or re-enrolled).
func (v *Verifier) Forget(user string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.last, user)
}
