package agent

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/membership"
	"github.com/orchd/orchd/peers"
	"github.com/orchd/orchd/records"
	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/truststore"
)

// setupMesh opens the trust store and builds the peer-session manager.
func (a *Agent) setupMesh() error {
	st, err := truststore.Open(a.opts.Layout.TrustStore(), a.opts.Layout.BlockedFingerprints())
	if err != nil {
		return fmt.Errorf("opening trust store: %w", err)
	}
	a.trust = st
	if a.records, err = records.Open(a.opts.Layout.Revocations()); err != nil {
		return fmt.Errorf("opening revocation records: %w", err)
	}
	if a.members, err = membership.Open(a.opts.Layout.Members(), a.cfg.ID, a.cfg.Orchestrators, time.Now()); err != nil {
		return fmt.Errorf("opening mesh membership: %w", err)
	}
	specs, err := a.peerSpecs()
	if err != nil {
		return err
	}
	var listen []netip.AddrPort
	for _, p := range []config.SyncPort{a.cfg.Internal, a.cfg.External} {
		ours, err := a.cfg.PortAddress(p)
		if err != nil {
			return err
		}
		listen = append(listen, netip.AddrPortFrom(ours.Addr(), uint16(a.cfg.SyncTCPPort)))
	}
	a.mesh = peers.New(peers.Config{
		Self:      a.identity,
		Trust:     st,
		Peers:     specs,
		Listen:    listen,
		Heartbeat: a.cfg.Heartbeat,
		DeadAfter: a.cfg.DeadAfter,
		Logf:      a.partLogf("peers"),
		OnChange:  a.markDirty,
		Records:   a.records,
		OnRecord:  func(r records.Record) { a.applyRecord(r, "received") },
		OnStorm:   stormGC(),
		OnMeshChange: func() {
			select {
			case a.meshDirty <- struct{}{}:
			default:
			}
		},
		Interfaces: map[string]string{
			config.RoleInternal: a.cfg.Internal.Interface,
			config.RoleExternal: a.cfg.External.Interface,
		},
		// Silent until syncport reports a sync link up: outside the
		// testbed the interfaces do not exist and nothing is sent.
		StartLinksDown: true,
	})
	st.OnChange(func() { a.mesh.Reconcile(); a.markDirty() })
	// A crash between keeping a record and applying it: apply at start
	// (applying is idempotent).
	for _, r := range a.records.All() {
		a.applyRecord(r, "kept")
	}
	return nil
}

// peerSpecs is how to reach every member but us.
func (a *Agent) peerSpecs() ([]peers.PeerSpec, error) {
	var specs []peers.PeerSpec
	for _, id := range a.members.Peers() {
		spec, err := a.peerSpec(id)
		if err != nil {
			return nil, err
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

func (a *Agent) peerSpec(id identity.ID) (peers.PeerSpec, error) {
	p := a.cfg.PeerPort(id)
	theirs, err := p.AddressFor(id)
	if err != nil {
		return peers.PeerSpec{}, fmt.Errorf("address of peer %s: %w", id, err)
	}
	ours, err := a.cfg.PortAddress(p)
	if err != nil {
		return peers.PeerSpec{}, err
	}
	return peers.PeerSpec{ID: id, Port: p.Role,
		Addr: netip.AddrPortFrom(theirs.Addr(), uint16(a.cfg.SyncTCPPort)), Local: ours.Addr()}, nil
}

// membersChanged hands the sessions the new membership.
func (a *Agent) membersChanged() {
	specs, err := a.peerSpecs()
	if err != nil {
		a.log.WithError(err).Error("membership changed but a member cannot be reached")
		return
	}
	a.mesh.SetPeers(specs)
	a.markDirty()
}

// identity returns the current identity; renewal swaps in a new value, it
// never mutates one that sessions may be reading.
func (a *Agent) identity() *identity.Identity {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.id
}

// linkStates forwards sync-port states to the peer sessions: a local link
// that goes down makes its peers Unreachable at once.
func (a *Agent) linkStates(ps []state.SyncPort) {
	if a.mesh == nil {
		return
	}
	for _, p := range ps {
		a.mesh.LinkState(p.Role, p.State == state.PortUp)
	}
}

// renewer renews the certificate auth.renew_before ahead of its expiry.
// Peers pin the key, not the certificate, so they keep trusting us.
func (a *Agent) renewer(ctx context.Context) {
	for {
		id := a.identity()
		due := id.Cert.NotAfter.Add(-a.cfg.RenewBefore)
		wait := time.Until(due)
		if wait > 0 {
			// Re-check at least hourly: clocks jump.
			wait = min(wait, time.Hour)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
				continue
			}
		}
		if err := a.renew(); err != nil {
			a.log.WithError(err).Error("certificate renewal failed; retrying in a minute")
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(time.Minute, a.cfg.RenewBefore/4+time.Second)):
			}
		}
	}
}

func (a *Agent) renew() error {
	old := a.identity()
	fresh := *old
	if err := fresh.Renew(a.files, a.cfg.CertValidity, time.Now()); err != nil {
		a.mu.Lock()
		a.renewErr = err.Error()
		a.mu.Unlock()
		a.markDirty()
		return err
	}
	a.mu.Lock()
	a.id, a.renewErr = &fresh, ""
	a.mu.Unlock()
	a.log.WithField("not_after", fresh.Cert.NotAfter.UTC().Format(time.RFC3339)).Info("certificate renewed")
	a.markDirty()
	return nil
}
