// Package agent is the clishd daemon: it owns the orchestrator's running
// state and wires the parts together (sync ports, identity, the shared state
// file, and later peers, the shell and the SSH server). Each part lives in its
// own package; the agent only connects them.
package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/lockout"
	"github.com/orchd/orchd/aaa/mfa"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/ctlsock"
	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/membership"
	"github.com/orchd/orchd/paths"
	"github.com/orchd/orchd/peers"
	"github.com/orchd/orchd/records"
	"github.com/orchd/orchd/secrets"
	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/truststore"
	"github.com/sirupsen/logrus"
)

// PortWatcher is what the agent needs of syncport: configure and watch the
// sync interfaces, reporting every change.
type PortWatcher interface {
	Run(ctx context.Context, publish func([]state.SyncPort)) error
}

// Options are the agent's dependencies.
type Options struct {
	Layout paths.Layout
	Config *config.Config
	Log    *logrus.Logger
	// Ports watches the sync interfaces (syncport.Manager in production).
	Ports PortWatcher
	// Version is reported in the state file.
	Version string
}

// Agent is a running clishd.
type Agent struct {
	opts  Options
	cfg   *config.Config
	log   *logrus.Logger
	files identity.Files

	db   *configdb.DB
	lock configdb.Lock
	auth *aaa.Authenticator
	ext  *extAuth
	// lockout is the per-source-address login lockout every login path
	// shares (cmds_lockout.go).
	lockout *lockout.Table
	// mfa checks and enrols second factors (cmds_mfa.go).
	mfa    *mfa.Manager
	lastMu sync.Mutex
	// sessions are the open shell sessions of local users (sessions.go).
	sessions liveSessions

	audit *audit.Log
	mgmt  mgmtState

	trust   *truststore.Store
	mesh    *peers.Manager
	records *records.Store    // revocations and removal notices (mesh_records.go)
	members *membership.Store // the mesh membership (mesh_records.go)

	// secrets is the sealed store (DESIGN §9); see secrets.go. sec holds
	// what other parts plug into the security commands (cmds_security.go).
	secrets *secrets.Store
	sec     securityHooks

	mu       sync.Mutex
	id       *identity.Identity
	renewErr string
	ports    []state.SyncPort
	started  time.Time

	dirty chan struct{}
	beat  loopBeat // the main loop's last pass, for the systemd watchdog
	// meshDirty: only peers' views of the mesh changed (statefile.go).
	meshDirty chan struct{}
	stateOut  state.Writer // keeps its encoding buffer between writes
}

// New loads the identity and checks it against the configuration.
func New(o Options) (*Agent, error) {
	files := identity.Files{Key: o.Layout.IdentityKey(), Pub: o.Layout.IdentityPub(), Cert: o.Layout.Certificate()}
	id, err := identity.Load(files)
	if err != nil {
		return nil, fmt.Errorf("loading identity (run clishd init --id S_M first): %w", err)
	}
	if id.ID != o.Config.ID {
		return nil, fmt.Errorf("identity certificate names orchestrator %s but config id is %s: re-run clishd init --force with the right --id", id.ID, o.Config.ID)
	}
	db, warnings, err := configdb.Open(o.Layout.SavedConfig(), nil)
	if err != nil {
		return nil, fmt.Errorf("loading saved configuration: %w", err)
	}
	for _, w := range warnings {
		// Loud: a corrupt saved configuration is never silently replaced.
		o.Log.Error(w)
	}
	a := &Agent{opts: o, cfg: o.Config, log: o.Log, files: files, id: id, db: db, started: time.Now(), dirty: make(chan struct{}, 1), meshDirty: make(chan struct{}, 1)}
	if a.audit, err = openAudit(o.Layout.AuditLog(), o.Log); err != nil {
		return nil, err
	}
	a.auth = &aaa.Authenticator{Dir: db, Roles: db, Logf: func(f string, args ...any) { o.Log.WithField("part", "aaa").Infof(f, args...) }}
	a.ext = &extAuth{a: a}
	a.auth.External = a.ext
	a.lockout = a.newLockout()
	a.auth.Lockout = a.lockout
	a.mfa = a.newMFA()
	a.auth.SecondFactor = a.mfa
	a.auth.Refused = a.auditRefusedLogin
	a.ports = a.initialPorts()
	if err := a.openSecrets(); err != nil {
		return nil, err
	}
	if err := a.setupMesh(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Agent) initialPorts() []state.SyncPort {
	var out []state.SyncPort
	for _, p := range []config.SyncPort{a.cfg.Internal, a.cfg.External} {
		out = append(out, state.SyncPort{Role: p.Role, Interface: p.Interface, State: state.PortMissing, Addresses: []string{}, Since: a.started})
	}
	return out
}

// Run serves until ctx is cancelled (SIGTERM in clishd), then writes a last
// state and returns nil.
func (a *Agent) Run(ctx context.Context) error {
	if err := os.MkdirAll(a.opts.Layout.RunDir(), 0o755); err != nil {
		return fmt.Errorf("creating run directory: %w", err)
	}
	// The console socket first: it exists before systemd hears READY=1 (a
	// unit ordered after clishd can use clish at once), and a second clishd
	// on the same root stops here, before touching the first one's state.
	ctl, err := ctlsock.Listen(a.opts.Layout.Socket(), ctlGroup)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	// Only now is this the one daemon on this root: safe to sweep.
	a.sweepTemps()
	if err := a.writeState(); err != nil {
		ctl.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	if a.opts.Ports != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.opts.Ports.Run(ctx, a.setPorts); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("sync ports: %w", err)
			}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); a.stateWriter(ctx) }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.mesh.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("peer sessions: %w", err)
		}
	}()
	wg.Add(1)
	go func() { defer wg.Done(); a.renewer(ctx) }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.serveControl(ctx, ctl); err != nil {
			errc <- fmt.Errorf("control socket: %w", err)
		}
	}()
	wg.Add(1)
	go func() { defer wg.Done(); a.serveSSH(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); a.serveManagement(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); a.sweepInactiveUsers(ctx) }()
	a.startWatchdog(ctx, &wg)
	wg.Add(1)
	go func() { defer wg.Done(); a.reloadOnHUP(ctx) }()

	if ok, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		a.log.WithError(err).Warn("notifying systemd of readiness")
	} else if ok {
		a.log.Debug("notified systemd: ready")
	}
	a.log.WithFields(logrus.Fields{"id": a.cfg.ID.String(), "fingerprint": a.identity().Fingerprint(), "root": a.opts.Layout.Root}).Info("clishd running")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		a.log.WithError(runErr).Error("stopping")
	}
	daemon.SdNotify(false, daemon.SdNotifyStopping)
	cancel()
	wg.Wait()
	if err := a.writeState(); err != nil {
		a.log.WithError(err).Warn("writing final state")
	}
	a.log.Info("clishd stopped")
	return runErr
}

// setPorts receives syncport's view of the sync interfaces.
func (a *Agent) setPorts(ps []state.SyncPort) {
	a.mu.Lock()
	a.ports = append([]state.SyncPort(nil), ps...)
	a.mu.Unlock()
	a.linkStates(ps)
	for _, p := range ps {
		a.log.WithFields(logrus.Fields{"role": p.Role, "interface": p.Interface, "state": p.State, "addresses": p.Addresses}).Debug("sync port")
	}
	a.markDirty()
}

func (a *Agent) markDirty() {
	select {
	case a.dirty <- struct{}{}:
	default:
	}
}
