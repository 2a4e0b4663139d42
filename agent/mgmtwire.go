package agent

import (
	"errors"

	"github.com/orchd/orchd/mgmtapi"
)

// tokenStore is the sealed store the tokens live in.
func (a *Agent) tokenStore() tokenSecrets {
	return a.secrets
}

// apiLockout is the per-address lockout the API shares with SSH.
func (a *Agent) apiLockout() mgmtapi.Lockout {
	return nil // PENDING: a.lockout once it lands
}

var errNoSecretStore = errors.New("management tokens live in the sealed secret store, which is not wired into this build yet")
