package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

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
	a.RegisterTokenRefresher("management API tokens", a.refreshTokensLine)
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

// refreshTokensLine runs the management API's token refresh for security
// refreshtokens and shows each new token once, as add management token does.
func (a *Agent) refreshTokensLine(time.Duration) (string, error) {
	fresh, err := a.refreshTokens()
	if err != nil {
		return "", err
	}
	if len(fresh) == 0 {
		return "no tokens configured (add management token NAME role R)", nil
	}
	names := make([]string, 0, len(fresh))
	for n := range fresh {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%d new tokens, shown only now (the previous ones keep working for %v):", len(fresh), tokenOverlap)
	for _, n := range names {
		fmt.Fprintf(&b, "\n  %s: %s", n, fresh[n])
	}
	return b.String(), nil
}
