package agent

import (
	"context"
	"os"
	"time"

	"github.com/orchd/orchd/state"
)

// minStateInterval spaces state-file writes during a burst of changes: a
// converging 64-node mesh changes hundreds of times a second, and each write
// encodes the whole mesh matrix. The first change after a quiet spell is
// written at once, so a link loss still shows within milliseconds.
const minStateInterval = 100 * time.Millisecond

// meshStateInterval spaces writes for changes of peers' views alone (the
// mesh matrix): display only, and by the thousand while 64 nodes converge.
const meshStateInterval = time.Second

// stateWriter rewrites the state file on every change (at most every
// minStateInterval). Without a change it only touches the file every
// StateRefresh, so orch_stat can tell a live daemon from a stuck one
// (state.Read takes the newer of updated_at and the file's mtime): with 63
// peers a rewrite encodes a 4,032-entry mesh matrix, a touch is one system
// call.
func (a *Agent) stateWriter(ctx context.Context) {
	t := time.NewTicker(a.cfg.StateRefresh)
	defer t.Stop()
	var last time.Time
	for {
		rewrite := true
		select {
		case <-ctx.Done():
			return
		case <-a.dirty:
			if wait := minStateInterval - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		case <-a.meshDirty:
			if wait := meshStateInterval - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-a.dirty: // a status change: write both now-ish
					if wait := minStateInterval - time.Since(last); wait > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(wait):
						}
					}
				case <-time.After(wait):
				}
			}
		case <-t.C:
			rewrite = last.IsZero()
		}
		now := time.Now()
		if !rewrite {
			if err := os.Chtimes(a.opts.Layout.StateFile(), now, now); err == nil {
				continue
			}
			// Gone or unwritable: write it whole.
		}
		last = now
		if err := a.writeState(); err != nil {
			a.log.WithError(err).Error("writing state file")
		}
		a.beat.mark()
	}
}

// snapshot builds the state file content from the agent's current view.
func (a *Agent) snapshot(now time.Time) *state.File {
	// Peer state first: the manager has its own lock.
	peerList, mesh := a.mesh.Statuses(), a.mesh.Mesh()
	a.mu.Lock()
	defer a.mu.Unlock()
	f := &state.File{
		Orchestrator: state.Orchestrator{
			ID:               a.cfg.ID.String(),
			Site:             a.cfg.ID.Site,
			Member:           a.cfg.ID.Member,
			Fingerprint:      a.id.Fingerprint(),
			CertNotAfter:     a.id.Cert.NotAfter.UTC(),
			CertRenewalError: a.renewErr,
		},
		SyncPorts: append([]state.SyncPort(nil), a.ports...),
		Peers:     peerList,
		Mesh:      mesh,
		Daemon: state.Daemon{
			PID:            os.Getpid(),
			StartedAt:      a.started.UTC(),
			UpdatedAt:      now.UTC(),
			RefreshSeconds: a.cfg.StateRefresh.Seconds(),
			Version:        a.opts.Version,
			ConfigState:    a.db.State(),
		},
	}
	f.Logins = a.loginsState()
	return f
}

func (a *Agent) writeState() error {
	return state.Write(a.opts.Layout.StateFile(), a.snapshot(time.Now()))
}
