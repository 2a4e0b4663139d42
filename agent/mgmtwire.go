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
	if a.lockout == nil {
		return nil
	}
	return a.lockout
}

var errNoSecretStore = errors.New("management tokens live in the sealed secret store, which is not wired into this build yet")
