package agent

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// tokenSecrets is what the management tokens need of the sealed store.
type tokenSecrets interface {
	Put(name, owner string, value []byte) error
	Get(name string) ([]byte, error)
	Delete(name string) error
}

// tokenOverlap is how long a token replaced by security refreshtokens
// keeps working, so scripts can pick up the new one (DESIGN §9).
const tokenOverlap = 10 * time.Minute

// tokenValue is a token's sealed record: the current value and, for ten
// minutes after a refresh, the previous one.
type tokenValue struct {
	Current       string    `json:"current"`
	Previous      string    `json:"previous,omitempty"`
	PreviousUntil time.Time `json:"previous_until,omitzero"`
}

func tokenSecretName(name string) string { return "management/token/" + name }

func newTokenString() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "orchd_" + base64.RawURLEncoding.EncodeToString(b), nil
}

func (a *Agent) loadToken(store tokenSecrets, name string) (tokenValue, error) {
	var v tokenValue
	b, err := store.Get(tokenSecretName(name))
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("token %s: sealed record unreadable: %w", name, err)
	}
	return v, nil
}

func (a *Agent) saveToken(store tokenSecrets, name string, v tokenValue) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return store.Put(tokenSecretName(name), "management token "+name, b)
}

// checkToken resolves a bearer token to its name and role. Every token is
// compared (in constant time), so timing says nothing about which matched.
func (a *Agent) checkToken(tok string) (string, string, error) {
	store := a.tokenStore()
	if store == nil {
		return "", "", errNoSecretStore
	}
	now := time.Now()
	var gotName, gotRole string
	var sealedErr error
	for _, t := range a.db.Running().Management.Tokens {
		v, err := a.loadToken(store, t.Name)
		if err != nil {
			sealedErr = err
			continue
		}
		match := subtle.ConstantTimeCompare([]byte(tok), []byte(v.Current)) == 1
		if v.Previous != "" && now.Before(v.PreviousUntil) && subtle.ConstantTimeCompare([]byte(tok), []byte(v.Previous)) == 1 {
			match = true
		}
		if match && gotName == "" {
			gotName, gotRole = t.Name, t.Role
		}
	}
	if gotName != "" {
		return gotName, gotRole, nil
	}
	if sealedErr != nil {
		return "", "", sealedErr
	}
	return "", "", errors.New("not a current token of this orchestrator (deleted, expired after a refresh, or mistyped)")
}

// refreshTokens gives every token a new value; the old one keeps working
// for tokenOverlap. It returns the new values by name, to be shown once.
func (a *Agent) refreshTokens() (map[string]string, error) {
	store := a.tokenStore()
	if store == nil {
		return nil, errNoSecretStore
	}
	out := map[string]string{}
	for _, t := range a.db.Running().Management.Tokens {
		v, err := a.loadToken(store, t.Name)
		if err != nil {
			return out, err
		}
		nv, err := newTokenString()
		if err != nil {
			return out, err
		}
		v = tokenValue{Current: nv, Previous: v.Current, PreviousUntil: time.Now().Add(tokenOverlap)}
		if err := a.saveToken(store, t.Name, v); err != nil {
			return out, fmt.Errorf("token %s: %w", t.Name, err)
		}
		out[t.Name] = nv
	}
	return out, nil
}
