package agent

import (
	"bytes"
	"context"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/domain"
)

// Hooks for the external-authentication tests (package agent_test, which
// may import testroot without an import cycle).

// ProviderSecrets is the store interface tests implement.
type ProviderSecrets = providerSecrets

// SealedMessage is the sealed store's message.
const SealedMessage = sealedMessage

// SetTestSecrets makes s the daemon's sealed store (nil: none).
func SetTestSecrets(s ProviderSecrets) { testSecrets = s }

// Clish runs one line as root on the console, with answers.
func (a *Agent) Clish(line string, answers map[string]string) (string, int) {
	var out bytes.Buffer
	admin, _ := aaa.LookupRole(aaa.AdminRole)
	s := &adminSession{user: "admin", role: admin, fixedRole: true, from: "test", mode: modeExec, command: line,
		answers: answers, out: &out, err: &out, ctx: context.Background()}
	code := a.runSession(s)
	return out.String(), code
}

// Auth is the daemon's authenticator.
func (a *Agent) Auth() *aaa.Authenticator { return a.auth }

// AuditPath is the audit log's file.
func (a *Agent) AuditPath() string { return a.audit.Path() }

// SetTestProvider makes p build every configured provider (nil: the real
// ones).
func SetTestProvider(p func(domain.ProviderConfig) domain.Provider) { testProvider = p }

// TrustLogin is the SSH user name trust logs in with for a session of
// user in login domain dom ("" for local users).
func TrustLogin(user, dom string) (string, error) {
	u, err := trustLoginFor(user, dom)
	return u.Login, err
}
