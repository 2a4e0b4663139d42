// Package mfa owns the second factors of DESIGN §8.4: TOTP (seeds in the
// sealed secret store as "aaa/totp/<USER>") and email codes (6 digits,
// valid 5 minutes, sent through the configured SMTP server), at login and
// at enrolment. It implements aaa.SecondFactor.
package mfa

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/totp"
)

// Secrets is the part of the sealed store the second factors use.
type Secrets interface {
	Put(name, owner string, value []byte) error
	Get(name string) ([]byte, error)
	Delete(name string) error
}

// Owner is the owner recorded with the secrets this package writes.
const Owner = "aaa"

// TOTPSecretName is where user's TOTP seed lives in the store.
func TOTPSecretName(user string) string { return "aaa/totp/" + user }

// Email codes (DESIGN §8.4).
const (
	EmailCodeValidity = 5 * time.Minute
	// emailCodeTries is how many wrong answers a pending code survives;
	// the lockout limits guessing per address, this across addresses.
	emailCodeTries = 5
)

// ErrNoStore is returned for TOTP when the daemon has no secret store.
var ErrNoStore = errors.New("no secret store is available for TOTP seeds: run security init")

// Manager checks and enrols second factors. Safe for concurrent use.
type Manager struct {
	// Secrets holds TOTP seeds; nil means TOTP cannot be used.
	Secrets Secrets
	// Mail sends a message (Mailer.Send in service; tests fake it).
	Mail func(ctx context.Context, to, subject, body string) error
	// Issuer names this orchestrator in authenticator apps and emails.
	Issuer string
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	totp    totp.Verifier
	once    sync.Once
	mu      sync.Mutex
	pending map[string]*emailCode // "login/USER" or "enrol/USER"
}

type emailCode struct {
	code    string
	to      string
	expires time.Time
	tries   int
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) init() {
	m.once.Do(func() {
		m.totp.Now = m.now
		m.pending = map[string]*emailCode{}
	})
}

// Challenge starts u's second step at login: an email code is sent now; a
// TOTP seed must be readable (the store unsealed).
func (m *Manager) Challenge(ctx context.Context, u aaa.User) error {
	m.init()
	switch method(u) {
	case aaa.TwoFactorTOTP:
		_, err := m.seed(u.Name)
		return err
	case aaa.TwoFactorEmail:
		return m.sendCode(ctx, "login/"+u.Name, u.TwoFactor.Email)
	}
	return fmt.Errorf("user %s has an unknown two-factor method %q", u.Name, method(u))
}

// Verify checks u's code at login. When the code cannot be checked at all
// (the seed is unreadable, the store sealed since the challenge) the error
// matches aaa.ErrCannotCheck, so the login is not counted as failed.
func (m *Manager) Verify(_ context.Context, u aaa.User, code string) error {
	m.init()
	switch method(u) {
	case aaa.TwoFactorTOTP:
		seed, err := m.seed(u.Name)
		if err != nil {
			return fmt.Errorf("%w: %w", aaa.ErrCannotCheck, err)
		}
		return m.totp.Verify(u.Name, seed, code)
	case aaa.TwoFactorEmail:
		return m.checkCode("login/"+u.Name, u.TwoFactor.Email, code)
	}
	return fmt.Errorf("%w: user %s has an unknown two-factor method %q", aaa.ErrCannotCheck, u.Name, method(u))
}

func method(u aaa.User) string {
	if u.TwoFactor == nil {
		return ""
	}
	return u.TwoFactor.Method
}

func (m *Manager) seed(user string) (string, error) {
	if m.Secrets == nil {
		return "", ErrNoStore
	}
	b, err := m.Secrets.Get(TOTPSecretName(user))
	if err != nil {
		return "", fmt.Errorf("reading the TOTP seed of %s: %w", user, err)
	}
	return string(b), nil
}

// NewTOTP makes a new seed for user, not yet in force: ConfirmTOTP with a
// current code stores it.
func (m *Manager) NewTOTP(user string) (totp.Key, error) {
	if m.Secrets == nil {
		return totp.Key{}, ErrNoStore
	}
	// A store that can say it cannot take the seed now (sealed, not
	// initialized) is asked before the user scans anything.
	if r, ok := m.Secrets.(interface{ Ready() error }); ok {
		if err := r.Ready(); err != nil {
			return totp.Key{}, err
		}
	}
	return totp.NewKey(m.Issuer, user)
}

// ConfirmTOTP checks code against the new key and, if right, stores the
// seed (replacing any previous one). The caller then turns TOTP on.
func (m *Manager) ConfirmTOTP(user string, k totp.Key, code string) error {
	m.init()
	if m.Secrets == nil {
		return ErrNoStore
	}
	// A fresh verifier: the new seed has no history, and the code used to
	// confirm becomes the last step of the user's real one below.
	if err := m.totp.Verify(user, k.Secret, code); err != nil {
		if errors.Is(err, totp.ErrReplayed) {
			// An older seed's step: judge the new seed on its own.
			m.totp.Forget(user)
			err = m.totp.Verify(user, k.Secret, code)
		}
		if err != nil {
			return err
		}
	}
	if err := m.Secrets.Put(TOTPSecretName(user), Owner, []byte(k.Secret)); err != nil {
		return fmt.Errorf("storing the TOTP seed of %s: %w", user, err)
	}
	return nil
}

// SendEnrolCode sends a confirmation code to addr for user's email
// second factor.
func (m *Manager) SendEnrolCode(ctx context.Context, user, addr string) error {
	m.init()
	return m.sendCode(ctx, "enrol/"+user, addr)
}

// ConfirmEmail checks the enrolment code sent to addr.
func (m *Manager) ConfirmEmail(user, addr, code string) error {
	m.init()
	return m.checkCode("enrol/"+user, addr, code)
}

// Off forgets user's second factor: the TOTP seed is deleted (best
// effort: a sealed store keeps it, unused, until the next enrolment
// replaces it) and pending codes dropped.
func (m *Manager) Off(user string) error {
	m.init()
	m.totp.Forget(user)
	m.mu.Lock()
	delete(m.pending, "login/"+user)
	delete(m.pending, "enrol/"+user)
	m.mu.Unlock()
	if m.Secrets == nil {
		return nil
	}
	if err := m.Secrets.Delete(TOTPSecretName(user)); err != nil {
		return fmt.Errorf("deleting the TOTP seed of %s: %w", user, err)
	}
	return nil
}

func (m *Manager) sendCode(ctx context.Context, key, to string) error {
	if m.Mail == nil {
		return errors.New("no mail server is configured: set mail-server host H")
	}
	code, err := NewEmailCode()
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.pending[key] = &emailCode{code: code, to: to, expires: m.now().Add(EmailCodeValidity)}
	m.mu.Unlock()
	body := fmt.Sprintf("Your verification code for %s is %s.\r\nIt is valid for %d minutes and can be used once.\r\n"+
		"If you did not try to log in, tell your administrator.\r\n", m.Issuer, code, int(EmailCodeValidity/time.Minute))
	if err := m.Mail(ctx, to, m.Issuer+" verification code", body); err != nil {
		m.mu.Lock()
		delete(m.pending, key)
		m.mu.Unlock()
		return fmt.Errorf("sending the verification code: %w", err)
	}
	return nil
}

// Errors of email code checks.
var (
	ErrNoCode      = errors.New("no verification code was sent, or it expired or was used: log in again for a new one")
	ErrWrongCode   = errors.New("wrong verification code")
	ErrCodeExpired = errors.New("the verification code expired: log in again for a new one")
)

func (m *Manager) checkCode(key, to, code string) error {
	code, err := totp.ParseCode(code)
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pending[key]
	switch {
	case p == nil || p.to != to:
		return ErrNoCode
	case !m.now().Before(p.expires):
		delete(m.pending, key)
		return ErrCodeExpired
	case err != nil || subtle.ConstantTimeCompare([]byte(p.code), []byte(code)) != 1:
		if p.tries++; p.tries >= emailCodeTries {
			delete(m.pending, key)
		}
		return ErrWrongCode
	}
	delete(m.pending, key) // used once
	return nil
}

// NewEmailCode is 6 random decimal digits.
func NewEmailCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("making a verification code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}
