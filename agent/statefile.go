package agent

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"time"

	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/threadprio"
)

// minStateInterval spaces state-file writes during a burst of changes: a
// converging 64-node mesh changes hundreds of times a second, and each write
// encodes the whole mesh matrix. The first change after a quiet spell is
// written at once, so a link loss still shows within milliseconds.
const minStateInterval = 100 * time.Millisecond

// stormStateInterval spaces them while a trust storm sets up the sessions
// with newly trusted peers (peers.Manager.TrustStorm): 64 nodes writing
// every 100 ms for the whole storm were a seventh of its CPU (bench/RESULTS.md,
// issue 16). Link losses and silent deaths outside a trust are still
// written within minStateInterval, and so is the change that leaves every
// peer Authenticated (peers.Manager.Settled): the admin watching orch_stat
// for the end of a trust, and the bench timing it, saw it up to this
// interval late.
const stormStateInterval = 400 * time.Millisecond

// meshStateInterval spaces writes for changes of peers' views alone (the
// mesh matrix): display only, and by the thousand while 64 nodes converge.
// One session flapping in a 64-node mesh changes the view of two nodes,
// which 62 others then write down: at 1 s those writes (and their garbage)
// came in machine-wide bursts that delayed liveness ticks into more flaps.
const meshStateInterval = 3 * time.Second

// meshStateMinDelay is the least delay of a write for a mesh change.
const meshStateMinDelay = 200 * time.Millisecond

// stateWriter rewrites the state file on every change (at most every
// minStateInterval). Without a change it only touches the file every
// StateRefresh, so orch_stat can tell a live daemon from a stuck one
// (state.Read takes the newer of updated_at and the file's mtime): with 63
// peers a rewrite encodes a 4,032-entry mesh matrix, a touch is one system
// call.
//
// It runs on its own OS thread at the liveness tick's priority: the file is
// how a status change reaches orch_stat, and when a peer dies silently in a
// 64-node mesh every other node writes at the same moment, each write
// waiting 50-300 ms for a core behind the others' bulk work. A write is
// ~1 ms of CPU and happens at most every minStateInterval.
func (a *Agent) stateWriter(ctx context.Context) {
	if !threadprio.Lock() {
		a.log.Debug("state writer at normal priority (not permitted to raise it)")
	}
	defer runtime.UnlockOSThread()
	t := time.NewTicker(a.cfg.StateRefresh)
	defer t.Stop()
	var last time.Time
	// due is when the pending rewrite happens (zero: none pending). A
	// pending rewrite never holds up the periodic touch.
	var due time.Time
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	arm := func(at time.Time) {
		if !due.IsZero() && !at.Before(due) {
			return
		}
		due = at
		timer.Reset(time.Until(at))
	}
	for {
		write := false
		select {
		case <-ctx.Done():
			return
		case <-a.dirty:
			arm(last.Add(stateSpacing(a.mesh.TrustStorm(), a.mesh.Settled())))
			continue
		case <-a.meshDirty:
			// Never at once: one peer's changed view reaches every node
			// at the same moment, and 63 daemons rewriting their files
			// together made machine-wide bursts. A random delay spreads
			// them (and coalesces what follows).
			// Scaled to the mesh: a small one shows its matrix at once.
			spread := meshStateInterval * time.Duration(a.mesh.PeerCount()+1) / 64
			arm(maxTime(last.Add(spread), time.Now().Add(meshStateMinDelay*time.Duration(a.mesh.PeerCount()+1)/64+rand.N(spread))))
			continue
		case <-timer.C:
			write = !due.IsZero()
		case <-t.C:
			write = last.IsZero()
		}
		now := time.Now()
		if !write {
			if err := os.Chtimes(a.opts.Layout.StateFile(), now, now); err == nil {
				continue
			}
			// Gone or unwritable: write it whole.
		}
		last, due = now, time.Time{}
		if err := a.writeState(); err != nil {
			a.log.WithError(err).Error("writing state file")
		}
		a.beat.mark()
	}
}

// stateSpacing is the least time between two writes for status changes.
func stateSpacing(storm, settled bool) time.Duration {
	if storm && !settled {
		return stormStateInterval
	}
	return minStateInterval
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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
	return a.stateOut.Write(a.opts.Layout.StateFile(), a.snapshot(time.Now()))
}
