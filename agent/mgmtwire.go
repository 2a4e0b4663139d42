package agent

import (
	"errors"

	"github.com/orchd/orchd/mgmtapi"
)

// tokenStore is the sealed store the tokens live in.
func (a *Agent) tokenStore() tokenSecrets {
	if a.secrets == nil {
		return nil // never a typed nil in the interface
	}
	return a.secrets
}

// apiLockout is the per-address lockout the API shares with SSH.
func (a *Agent) apiLockout() mgmtapi.Lockout {
	if a.lockout == nil {
		return nil
	}
	return a.lockout
}

var errNoSecretStore = errors.New("management tokens live in the sealed secret store, which did not open: see the daemon's log")
