package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/orchd/orchd/secrets"
	"golang.org/x/sys/unix"
)

// openSecrets opens the sealed store: sealed at start, unless auto-unseal
// left a key file. A damaged store or a failed auto-unseal is loud but not
// fatal: the mesh, SSH and local logins must come up after a power cut.
func (a *Agent) openSecrets() error {
	st, err := secrets.Open(a.opts.Layout.SecretStore())
	if err != nil {
		return fmt.Errorf("opening the secret store: %w", err)
	}
	a.secrets = st
	if p := st.Problem(); p != nil {
		a.log.Error(p.Error())
		return nil
	}
	key := a.opts.Layout.UnsealKey()
	if _, err := os.Lstat(key); errors.Is(err, fs.ErrNotExist) || !st.Initialized() {
		return nil
	}
	if err := st.UnsealWithKeyFile(key); err != nil {
		a.log.WithError(err).Error("auto-unseal failed: the secret store stays sealed")
		return nil
	}
	a.secretsUnsealed()
	a.log.Info("secret store unsealed at start (auto-unseal)")
	return nil
}

// secretsUnsealed makes the process non-dumpable (no core dump, no ptrace
// attach by non-root, /proc/PID/mem root-only) once the data key is in
// memory (DESIGN §9). It stays so after a seal: zeroing in Go is best
// effort, so copies of secrets may remain in freed memory until reused.
func (a *Agent) secretsUnsealed() {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		a.log.WithError(err).Warn("setting PR_SET_DUMPABLE 0")
	}
}
