package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/orchd/orchd/aaa/totp"
	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/shell"
	"golang.org/x/crypto/ssh"
)

// trustCodes answers the verification-code question of targets where the
// administrator account has two-factor on (DESIGN §8.4): from the answer
// key "codes" ({"2_1": "123456"}), else asked at the terminal, one target
// at a time.
type trustCodes struct {
	c      *shell.Ctx
	given  map[string]string
	preset bool // "codes" was answered: never prompt

	mu     sync.Mutex
	asked  map[identity.ID]bool // the target asked for a code
	missed map[identity.ID]bool // ... and none could be given
}

// newTrustCodes reads the "codes" answer, if any.
func newTrustCodes(c *shell.Ctx, answers map[string]string) (*trustCodes, error) {
	tc := &trustCodes{c: c, given: map[string]string{}, asked: map[identity.ID]bool{}, missed: map[identity.ID]bool{}}
	raw, ok := answers["codes"]
	if !ok {
		return tc, nil
	}
	m, err := parseCodes(raw)
	if err != nil {
		return nil, err
	}
	tc.given, tc.preset = m, true
	return tc, nil
}

// parseCodes reads {"ID": "CODE", ...}: IDs as S_M, codes of 6 digits.
func parseCodes(raw string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf(`--input-json codes: expected an object of ID to code such as {"2_1": "123456"}: %v`, err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		id, err := identity.ParseID(k)
		if err != nil {
			return nil, fmt.Errorf("--input-json codes: %w", err)
		}
		c, err := totp.ParseCode(v)
		if err != nil {
			return nil, fmt.Errorf("--input-json codes: %s: %w", id, err)
		}
		out[id.String()] = c
	}
	return out, nil
}

var errNoCode = errors.New("no verification code")

// code is target id's code: given, or asked (prompts are serialized:
// targets log in in parallel).
func (tc *trustCodes) code(id identity.ID) (string, error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.asked[id] = true
	if c, ok := tc.given[id.String()]; ok {
		return c, nil
	}
	if tc.preset || !tc.c.CanPrompt() {
		tc.missed[id] = true
		return "", errNoCode
	}
	c, err := tc.c.Prompt("code_"+id.String(), fmt.Sprintf("Verification code of %s on %s: ", "the administrator account", id), false)
	if err != nil || strings.TrimSpace(c) == "" {
		tc.missed[id] = true
		return "", errNoCode
	}
	return c, nil
}

// keyboardInteractive answers a target's questions: the password, and
// the verification code when it asks for one.
func (tc *trustCodes) keyboardInteractive(id identity.ID, password string) ssh.AuthMethod {
	return ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
		ans := make([]string, len(qs))
		for i, q := range qs {
			if !strings.Contains(strings.ToLower(q), "verification code") {
				ans[i] = password
				continue
			}
			c, err := tc.code(id)
			if err != nil {
				return nil, err
			}
			ans[i] = c
		}
		return ans, nil
	})
}

// refusal explains a failed login on target id when two-factor was in the
// way, or "" when it was not.
func (tc *trustCodes) refusal(id identity.ID, user string) string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	switch {
	case tc.missed[id]:
		return fmt.Sprintf("account %s has two-factor authentication on at %s and no verification code was given for it: "+
			"either give its current code (interactively, or --input-json {\"codes\": {\"%s\": \"123456\"}}), "+
			"or follow the documented procedure: on %s run `set user %s two-factor off`, run this trust again, then turn two-factor on again",
			user, id, id, id, user)
	case tc.asked[id]:
		return fmt.Sprintf("%s refused the verification code for %s (wrong, expired or already used): run trust again with a current code", id, user)
	}
	return ""
}
