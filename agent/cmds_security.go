package agent

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/secrets"
	"github.com/orchd/orchd/shell"
)

// Answer keys of the security commands (DESIGN §9).
const (
	keyCluster    = "clusterPassphrase"
	keyNewCluster = "newClusterPassphrase"
	keyConfig     = "configPassphrase"
)

// tokenGrace is how long an API token keeps working after security
// refreshtokens replaced it (DESIGN §9).
const tokenGrace = 10 * time.Minute

// securityHooks are what other parts of the daemon plug into the security
// commands: the management API registers its token refresher and its
// certificate reset (RegisterTokenRefresher, SetAPICertReset).
type securityHooks struct {
	refreshers []tokenRefresher
	// apiCertReset drops the management API's certificate; nil while no
	// management API is built in.
	apiCertReset func() (string, error)
}

// tokenRefresher issues new tokens for one family of API tokens and keeps
// the old ones valid for grace; it returns one line saying what it did.
type tokenRefresher struct {
	name    string
	refresh func(grace time.Duration) (string, error)
}

// RegisterTokenRefresher adds a family of API tokens to security
// refreshtokens (the management API registers its tokens in New).
func (a *Agent) RegisterTokenRefresher(name string, fn func(grace time.Duration) (string, error)) {
	a.sec.refreshers = append(a.sec.refreshers, tokenRefresher{name: name, refresh: fn})
}

// SetAPICertReset sets how security reset drops the management API's
// certificate.
func (a *Agent) SetAPICertReset(fn func() (string, error)) { a.sec.apiCertReset = fn }

// passphraseLockout is what the security commands need of the per-source
// lockout (aaa/lockout): a wrong passphrase counts as a failed login of that
// source, and a locked source is refused before any key derivation.
type passphraseLockout interface {
	Check(addr netip.Addr) error
	Failure(addr netip.Addr, user string)
}

// securityLockout returns the lockout wrong passphrases count toward, or
// nil when the daemon has none.
var securityLockout = func(a *Agent) passphraseLockout {
	if a.lockout == nil {
		return nil
	}
	return a.lockout
}

func (a *Agent) registerSecurityCommands(e *shell.Engine, s *adminSession) {
	// Security state is not configuration: unseal, seal and the rest need
	// the security feature read-write, not the configuration lock (an
	// admin must be able to unseal while another session holds the lock).
	rw := func(run func(c *shell.Ctx, x shell.Args) error) func(c *shell.Ctx, x shell.Args) error {
		return func(c *shell.Ctx, x shell.Args) error {
			if err := a.authorize(s, &shell.Command{Feature: aaa.FeatureSecurity, Write: true}); err != nil {
				return err
			}
			return run(c, x)
		}
	}
	reg := func(syntax, help string, write bool, run func(c *shell.Ctx, x shell.Args) error) {
		if write {
			run = rw(run)
		}
		e.Register(shell.Command{Syntax: syntax, Help: help, Feature: aaa.FeatureSecurity, Run: run})
	}
	reg("show security status [verbose]", "the secret store: initialized, sealed or unsealed, since when, secrets held, auto-unseal", false,
		func(c *shell.Ctx, x shell.Args) error { a.showSecurityStatus(c, x.Has("verbose")); return nil })
	reg("security init", "create the secret store (asks the cluster passphrase twice)", true,
		func(c *shell.Ctx, _ shell.Args) error { return a.securityInit(c, s) })
	reg("security unseal", "open the secret store with the cluster passphrase", true,
		func(c *shell.Ctx, _ shell.Args) error { return a.securityUnseal(c, s) })
	reg("security seal", "close the secret store (features that need a secret stop)", true,
		func(c *shell.Ctx, _ shell.Args) error { return a.securitySeal(c, s) })
	reg("security changepwd", "change the cluster passphrase (rewraps the data key only)", true,
		func(c *shell.Ctx, _ shell.Args) error { return a.securityChangePwd(c, s) })
	reg("security refreshtokens", "issue new API tokens; old ones keep working for 10 minutes", true,
		func(c *shell.Ctx, _ shell.Args) error { return a.securityRefreshTokens(c, s) })
	reg("security reset [force]", "drop the management API certificate, re-issue the identity certificate (same key: trust is kept)", true,
		func(c *shell.Ctx, x shell.Args) error { return a.securityReset(c, s, x.Has("force")) })
	reg("set security auto-unseal <state:onoff>", "on: a root-only key file unseals the store at start", true,
		func(c *shell.Ctx, x shell.Args) error { return a.securityAutoUnseal(c, s, x.On("state")) })
	reg("export configuration <file:text>", "write the running configuration and its secrets, encrypted under a config passphrase", true,
		func(c *shell.Ctx, x shell.Args) error { return a.exportConfiguration(c, s, x.String("file")) })
	// Import changes the configuration: it is a write command, under the lock.
	e.Register(shell.Command{Syntax: "import configuration <file:text> [dry-run]", Help: "restore an exported configuration and its secrets (dry-run: show what would change)",
		Feature: aaa.FeatureSecurity, Write: true,
		Run: func(c *shell.Ctx, x shell.Args) error {
			return a.importConfiguration(c, s, x.String("file"), x.Has("dry-run"))
		}})
}

func (a *Agent) showSecurityStatus(c *shell.Ctx, verbose bool) {
	st := a.secrets
	tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
	state := ""
	switch {
	case st.Problem() != nil:
		state = "DAMAGED: " + st.Problem().Error()
	case !st.Initialized():
		state = "not initialized (run security init)"
	case st.Sealed():
		state = "sealed since " + fmtTime(st.Since()) + " (run security unseal)"
	default:
		state = "unsealed since " + fmtTime(st.Since())
	}
	auto := "off"
	if st.AutoUnseal() {
		auto = "on (" + a.opts.Layout.UnsealKey() + ")"
	}
	names := st.Names()
	fmt.Fprintf(tw, "Initialized:\t%s\n", yesNo(st.Initialized()))
	fmt.Fprintf(tw, "Secret store:\t%s\n", state)
	fmt.Fprintf(tw, "Secrets held:\t%d\n", len(names))
	fmt.Fprintf(tw, "Auto-unseal:\t%s\n", auto)
	if verbose {
		k := st.KDF()
		fmt.Fprintf(tw, "Store file:\t%s\n", st.Path())
		fmt.Fprintf(tw, "Key derivation:\targon2id, %d passes, %d KiB, %d lanes\n", k.Time, k.Memory, k.Threads)
		fmt.Fprintf(tw, "Encryption:\tXChaCha20-Poly1305 under a random data key wrapped by the passphrase key\n")
		fmt.Fprintf(tw, "Token refreshers:\t%s\n", a.refresherNames())
	}
	tw.Flush()
	if verbose && len(names) > 0 {
		tw = tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\nSECRET\tOWNER\tUPDATED")
		for _, n := range names {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Name, n.Owner, fmtTime(n.Updated))
		}
		tw.Flush()
	}
}

func (a *Agent) refresherNames() string {
	if len(a.sec.refreshers) == 0 {
		return "none registered"
	}
	var n []string
	for _, r := range a.sec.refreshers {
		n = append(n, r.name)
	}
	return strings.Join(n, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// askNewPassphrase asks key twice (once answers both with --input-json) and
// checks the rules; the error never contains the passphrase.
func askNewPassphrase(c *shell.Ctx, key, question string) ([]byte, error) {
	p, err := c.Prompt(key, question, true)
	if err != nil {
		return nil, err
	}
	again, err := c.Prompt(key, "Retype "+strings.ToLower(question[:1])+question[1:], true)
	if err != nil {
		return nil, err
	}
	if p != again {
		return nil, fmt.Errorf("the %s answers do not match: nothing changed", key)
	}
	if err := secrets.CheckPassphrase([]byte(p)); err != nil {
		return nil, fmt.Errorf("%s: %w: nothing changed", key, err)
	}
	return []byte(p), nil
}

// sourceAddr is the session's remote address for the lockout; the console
// has none.
func (s *adminSession) sourceAddr() (netip.Addr, bool) {
	ad, err := netip.ParseAddr(s.remote)
	return ad, err == nil
}

// lockoutCheck refuses a locked source before any key derivation.
func (a *Agent) lockoutCheck(s *adminSession) error {
	l := securityLockout(a)
	ad, ok := s.sourceAddr()
	if l == nil || !ok {
		return nil
	}
	return l.Check(ad)
}

// wrongPassphrase counts a wrong passphrase toward the source's lockout
// and audits it.
func (a *Agent) wrongPassphrase(s *adminSession, action, key string) error {
	if l := securityLockout(a); l != nil {
		if ad, ok := s.sourceAddr(); ok {
			l.Failure(ad, s.user)
		}
	}
	a.securityEvent(s, action, "failed", "wrong "+key)
	a.log.WithField("user", s.user).WithField("from", s.from).WithField("action", action).Warn("wrong passphrase")
	return fmt.Errorf("wrong %s: nothing changed", key)
}

func (a *Agent) securityEvent(s *adminSession, action, result, reason string) {
	typ := "security"
	if action == "unseal" {
		typ = "unseal"
	}
	a.record(audit.Event{Type: typ, User: s.user, Source: s.from, Result: result, Reason: reason,
		Fields: map[string]string{"action": action}})
}

func (a *Agent) securityInit(c *shell.Ctx, s *adminSession) error {
	if a.secrets.Initialized() {
		return fmt.Errorf("%w (%s): nothing changed; use security changepwd to change the passphrase", secrets.ErrInitialized, a.secrets.Path())
	}
	p, err := askNewPassphrase(c, keyCluster, "Cluster passphrase: ")
	if err != nil {
		return err
	}
	defer wipeBytes(p)
	if err := a.secrets.Init(p); err != nil {
		return err
	}
	a.secretsUnsealed()
	a.securityEvent(s, "init", "ok", "")
	a.log.WithField("user", s.user).Info("secret store initialized")
	fmt.Fprintln(c.Out, "secret store initialized and unsealed")
	return nil
}

func (a *Agent) securityUnseal(c *shell.Ctx, s *adminSession) error {
	if err := a.storeReady(); err != nil {
		return err
	}
	if !a.secrets.Sealed() {
		return fmt.Errorf("%w: nothing changed", secrets.ErrUnsealed)
	}
	if err := a.lockoutCheck(s); err != nil {
		return err
	}
	p, err := c.Prompt(keyCluster, "Cluster passphrase: ", true)
	if err != nil {
		return err
	}
	pb := []byte(p)
	defer wipeBytes(pb)
	start := time.Now()
	switch err := a.secrets.Unseal(pb); {
	case errors.Is(err, secrets.ErrWrongPassphrase):
		return a.wrongPassphrase(s, "unseal", keyCluster)
	case err != nil:
		a.securityEvent(s, "unseal", "failed", err.Error())
		return err
	}
	a.secretsUnsealed()
	a.securityEvent(s, "unseal", "ok", "")
	a.log.WithField("user", s.user).WithField("from", s.from).WithField("took", time.Since(start).Round(time.Millisecond).String()).Info("secret store unsealed")
	fmt.Fprintf(c.Out, "secret store unsealed (%d secrets)\n", len(a.secrets.Names()))
	return nil
}

// storeReady says why the store cannot be used at all (damaged or not
// initialized).
func (a *Agent) storeReady() error {
	if p := a.secrets.Problem(); p != nil {
		return p
	}
	if !a.secrets.Initialized() {
		return secrets.ErrNotInitialized
	}
	return nil
}

func (a *Agent) securitySeal(c *shell.Ctx, s *adminSession) error {
	if err := a.storeReady(); err != nil {
		return err
	}
	if a.secrets.Sealed() {
		return errors.New("the secret store is already sealed: nothing changed")
	}
	a.secrets.Seal()
	a.securityEvent(s, "seal", "ok", "")
	a.log.WithField("user", s.user).WithField("from", s.from).Info("secret store sealed")
	fmt.Fprintln(c.Out, "secret store sealed")
	return nil
}

func (a *Agent) securityChangePwd(c *shell.Ctx, s *adminSession) error {
	if err := a.storeReady(); err != nil {
		return err
	}
	if err := a.lockoutCheck(s); err != nil {
		return err
	}
	old, err := c.Prompt(keyCluster, "Current cluster passphrase: ", true)
	if err != nil {
		return err
	}
	ob := []byte(old)
	defer wipeBytes(ob)
	nb, err := askNewPassphrase(c, keyNewCluster, "New cluster passphrase: ")
	if err != nil {
		return err
	}
	defer wipeBytes(nb)
	switch err := a.secrets.ChangePassphrase(ob, nb); {
	case errors.Is(err, secrets.ErrWrongPassphrase):
		return a.wrongPassphrase(s, "changepwd", keyCluster)
	case err != nil:
		a.securityEvent(s, "changepwd", "failed", err.Error())
		return err
	}
	a.securityEvent(s, "changepwd", "ok", "")
	a.log.WithField("user", s.user).WithField("from", s.from).Info("cluster passphrase changed")
	fmt.Fprintln(c.Out, "cluster passphrase changed (the data key was rewrapped; the secrets are unchanged)")
	return nil
}

func (a *Agent) securityRefreshTokens(c *shell.Ctx, s *adminSession) error {
	if err := a.storeReady(); err != nil {
		return err
	}
	if a.secrets.Sealed() {
		// As the reference: refreshtokens unseals first.
		fmt.Fprintln(c.Out, "the secret store is sealed: unsealing it first")
		if err := a.securityUnseal(c, s); err != nil {
			return err
		}
	}
	if len(a.sec.refreshers) == 0 {
		fmt.Fprintln(c.Out, "no API tokens to refresh: no token refresher is registered")
		return nil
	}
	var errs []error
	for _, r := range a.sec.refreshers {
		line, err := r.refresh(tokenGrace)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
			fmt.Fprintf(c.Out, "%s: FAILED: %v\n", r.name, err)
			continue
		}
		fmt.Fprintf(c.Out, "%s: %s\n", r.name, line)
	}
	err := errors.Join(errs...)
	result, reason := "ok", ""
	if err != nil {
		result, reason = "failed", err.Error()
	}
	a.securityEvent(s, "refreshtokens", result, reason)
	if err == nil {
		fmt.Fprintf(c.Out, "tokens refreshed: the previous ones keep working for %v\n", tokenGrace)
	}
	return err
}

func (a *Agent) securityReset(c *shell.Ctx, s *adminSession, force bool) error {
	var errs []error
	step := func(what string, fn func() (string, error)) bool {
		line, err := fn()
		if err != nil {
			fmt.Fprintf(c.Out, "%s: FAILED: %v\n", what, err)
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			return force
		}
		fmt.Fprintf(c.Out, "%s: %s\n", what, line)
		return true
	}
	ok := step("management API certificate", func() (string, error) {
		if a.sec.apiCertReset == nil {
			return "none of its own (the management API presents the identity certificate, re-issued next)", nil
		}
		return a.sec.apiCertReset()
	})
	if ok {
		step("identity certificate", func() (string, error) {
			if err := a.renew(); err != nil {
				return "", err
			}
			id := a.identity()
			return fmt.Sprintf("re-issued from the same key (fingerprint %s unchanged, trust kept), valid until %s", id.Fingerprint(), fmtTime(id.Cert.NotAfter)), nil
		})
	}
	err := errors.Join(errs...)
	result, reason := "ok", ""
	if err != nil {
		result, reason = "failed", err.Error()
		if !force {
			err = fmt.Errorf("%w (security reset force carries on past errors)", err)
		}
	}
	a.securityEvent(s, "reset", result, reason)
	return err
}

func (a *Agent) securityAutoUnseal(c *shell.Ctx, s *adminSession, on bool) error {
	if err := a.storeReady(); err != nil {
		return err
	}
	key := a.opts.Layout.UnsealKey()
	if on {
		if err := a.secrets.EnableAutoUnseal(key); err != nil {
			return err
		}
		a.securityEvent(s, "auto-unseal on", "ok", "")
		fmt.Fprintf(c.Out, "auto-unseal on: %s (root only) unseals the store at start; keep it off backups you would not trust with the secrets\n", key)
		return nil
	}
	if err := a.secrets.DisableAutoUnseal(key); err != nil {
		return err
	}
	a.securityEvent(s, "auto-unseal off", "ok", "")
	fmt.Fprintln(c.Out, "auto-unseal off: the store is sealed at each start until security unseal")
	return nil
}

func wipeBytes(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
