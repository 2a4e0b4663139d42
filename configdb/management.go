package configdb

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orchd/orchd/aaa"
)

// Management is the trusted-manager API's configuration (DESIGN §10).
// Token values are secrets and live in the sealed store; only their names
// and roles are here.
type Management struct {
	// Thumbprint is the trusted manager certificate's SHA-1 thumbprint in
	// canonical form (AB:CD:...), or "" when no manager is trusted.
	Thumbprint string `json:"trusted_manager_thumbprint,omitempty"`
	// Hostname is where the thumbprint was fetched from, if it was.
	Hostname string `json:"trusted_manager_hostname,omitempty"`
	// Role the manager's requests get ("" = monitorRole).
	Role   string  `json:"trusted_manager_role,omitempty"`
	Tokens []Token `json:"tokens,omitempty"`
}

// Token is a named bearer token for scripts.
type Token struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
}

// ManagerRole is the role of the trusted manager (monitorRole by default).
func (m Management) ManagerRole() string {
	if m.Role == "" {
		return aaa.MonitorRole
	}
	return m.Role
}

func (m Management) clone() Management {
	m.Tokens = slices.Clone(m.Tokens)
	return m
}

// ValidateTokenName checks a token name: 1-32 of [A-Za-z0-9_.-].
func ValidateTokenName(name string) error {
	ok := len(name) >= 1 && len(name) <= 32
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
	}
	if !ok {
		return fmt.Errorf("invalid token name %q: expected 1-32 letters, digits, _ . -", name)
	}
	return nil
}

func (m Management) validate(roleOK func(string) error) error {
	if m.Role != "" {
		if err := roleOK(m.Role); err != nil {
			return fmt.Errorf("trusted manager: %w", err)
		}
	}
	seen := map[string]bool{}
	for _, t := range m.Tokens {
		if err := ValidateTokenName(t.Name); err != nil {
			return err
		}
		if seen[t.Name] {
			return fmt.Errorf("token %q appears twice: expected each token once", t.Name)
		}
		seen[t.Name] = true
		if err := roleOK(t.Role); err != nil {
			return fmt.Errorf("token %q: %w", t.Name, err)
		}
	}
	return nil
}

func (m Management) commands() []string {
	var lines []string
	if m.Thumbprint != "" {
		lines = append(lines, "set management trusted-manager thumbprint "+m.Thumbprint)
	}
	if m.Role != "" {
		lines = append(lines, "set management trusted-manager role "+m.Role)
	}
	toks := slices.Clone(m.Tokens)
	slices.SortFunc(toks, func(a, b Token) int { return strings.Compare(a.Name, b.Name) })
	for _, t := range toks {
		lines = append(lines, fmt.Sprintf("add management token %s role %s    # value %s", t.Name, t.Role, hiddenSecret))
	}
	return lines
}
