package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/orchd/orchd/atomicfile"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/healthcheck"
	"github.com/orchd/orchd/mgmtapi"
)

// mgmtState is the agent's part of the management API: the server (so
// commands can close a manager's connections) and the pushed monitoring
// document, written through to var/lib/clishd/monitoring.json.
type mgmtState struct {
	mu  sync.Mutex
	srv *mgmtapi.Server
	mon *mgmtapi.Monitoring
}

func (a *Agent) monitoringFile() string {
	return filepath.Join(a.opts.Layout.LibDir(), "monitoring.json")
}

func (a *Agent) monitoring() mgmtapi.Monitoring {
	a.mgmt.mu.Lock()
	defer a.mgmt.mu.Unlock()
	if a.mgmt.mon == nil {
		m := mgmtapi.DefaultMonitoring()
		if b, err := os.ReadFile(a.monitoringFile()); err == nil {
			if got, err := mgmtapi.DecodeMonitoring(b); err == nil {
				m = got
			} else {
				a.log.WithError(err).Warn("ignoring an invalid monitoring.json; serving the default")
			}
		}
		a.mgmt.mon = &m
	}
	return *a.mgmt.mon
}

func (a *Agent) setMonitoring(m mgmtapi.Monitoring) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(a.monitoringFile(), append(b, '\n'), 0o640); err != nil {
		return fmt.Errorf("saving the monitoring document: %w", err)
	}
	a.mgmt.mu.Lock()
	a.mgmt.mon = &m
	a.mgmt.mu.Unlock()
	return nil
}

// manager is the trusted manager as the running configuration says now.
func (a *Agent) manager() mgmtapi.Manager {
	m := a.db.Running().Management
	out := mgmtapi.Manager{Role: m.ManagerRole()}
	if m.Thumbprint != "" {
		if tp, err := mgmtapi.ParseThumbprint(m.Thumbprint); err == nil {
			out.Thumbprint, out.Set = tp, true
		}
	}
	return out
}

// managerChanged closes connections of a manager no longer trusted.
func (a *Agent) managerChanged() int {
	a.mgmt.mu.Lock()
	srv := a.mgmt.srv
	a.mgmt.mu.Unlock()
	if srv == nil {
		return 0
	}
	return srv.ManagerChanged()
}

func (a *Agent) roleAllows(role, feature string, write bool) bool {
	r, ok := a.db.LookupRole(role)
	if !ok {
		return false
	}
	if write {
		return r.ReadWrite(feature)
	}
	return r.Read(feature)
}

func (a *Agent) newMgmtServer() *mgmtapi.Server {
	srv := &mgmtapi.Server{
		Cert: func() (*tls.Certificate, error) {
			id := a.identity()
			return &tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key, Leaf: id.Cert}, nil
		},
		Manager: a.manager,
		Token:   a.checkToken,
		Allowed: a.roleAllows,
		State: func() ([]byte, error) {
			return json.MarshalIndent(a.snapshot(time.Now()), "", "  ")
		},
		Health: func() ([]byte, error) {
			return healthcheck.Run(healthcheck.NewEnv(a.opts.Layout, time.Now()), healthcheck.Tests()).MarshalIndented(), nil
		},
		Audit: func(n int) ([]byte, error) {
			lines, err := audit.Tail(a.audit.Path(), n)
			if err != nil {
				return nil, err
			}
			raw := make([]json.RawMessage, 0, len(lines))
			for _, l := range lines {
				raw = append(raw, json.RawMessage(l))
			}
			return json.MarshalIndent(raw, "", "  ")
		},
		Monitoring:    a.monitoring,
		SetMonitoring: a.setMonitoring,
		Record:        a.record,
		Logf:          func(f string, args ...any) { a.log.WithField("part", "mgmtapi").Infof(f, args...) },
	}
	if lo := a.apiLockout(); lo != nil {
		srv.Lockout = lo
	}
	return srv
}

// serveManagement runs the trusted-manager API on the management address
// until ctx ends. A port already taken is logged; the daemon carries on.
func (a *Agent) serveManagement(ctx context.Context) {
	if a.cfg.ManagementPort == 0 {
		a.log.Info("management API off (management.port 0)")
		return
	}
	host := ""
	if a.cfg.MgmtAddress.IsValid() {
		host = a.cfg.MgmtAddress.String()
	}
	addr := net.JoinHostPort(host, strconv.Itoa(a.cfg.ManagementPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		a.log.WithError(err).Error("management API not started")
		return
	}
	srv := a.newMgmtServer()
	a.mgmt.mu.Lock()
	a.mgmt.srv = srv
	a.mgmt.mu.Unlock()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	a.log.WithField("addr", addr).Info("management API listening")
	if err := srv.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, context.Canceled) && err.Error() != "http: Server closed" {
		a.log.WithError(err).Error("management API stopped")
	}
}
