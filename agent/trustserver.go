package agent

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/sshserver"
	"github.com/orchd/orchd/trustproto"
	"github.com/orchd/orchd/truststore"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// serveTrustSubsystem answers one trust request from an administrator
// logged in over SSH: pin every member (never ourselves), refusing blocked
// keys and, without force, changed ones.
func (a *Agent) serveTrustSubsystem(ss *sshserver.Session) int {
	p, _ := ss.Principal().Extra.(aaa.Principal)
	log := a.log.WithField("user", p.User).WithField("from", ss.RemoteAddr().String())
	reply := func(r trustproto.Response) int {
		r.ID = a.cfg.ID.String()
		trustproto.Write(ss.Stdout(), r)
		if r.OK {
			return 0
		}
		return 1
	}
	if !p.Role.ReadWrite(aaa.FeatureMaestroAuth) {
		log.Warn("trust request refused: role is read-only")
		return reply(trustproto.Response{Error: fmt.Sprintf("user %s (role %s) may not establish trust: read-only", p.User, p.Role.Name)})
	}
	var req trustproto.Request
	in := bufio.NewReader(ss.Stdin())
	if err := trustproto.Read(in, &req); err != nil {
		return reply(trustproto.Response{Error: "reading request: " + err.Error()})
	}
	parsed, err := req.Verify(a.cfg.ID, time.Now())
	if err != nil {
		log.WithError(err).Warn("trust request refused")
		return reply(trustproto.Response{Error: err.Error()})
	}
	from, members := parsed.From, parsed.Members
	me := a.identity()
	var judged []judgedPin
	for _, m := range members {
		if m.ID == a.cfg.ID {
			if !m.Key.Equal(me.Public()) {
				log.WithField("initiator", from.String()).Error("trust request names another key for this orchestrator")
				return reply(trustproto.Response{Error: fmt.Sprintf("%s verified key %s for %s, but this orchestrator's key is %s: nothing trusted",
					from, identity.Fingerprint(m.Key), a.cfg.ID, me.Fingerprint())})
			}
			continue
		}
		judged = append(judged, judgedPin{id: m.ID, key: m.Key})
	}
	how := fmt.Sprintf("%s via trust from %s (ssh from %s)", p.User, from, ss.RemoteAddr().Addr())
	// Our dials to the members wait until the initiator tells us they pin
	// us too (Ready), or closes this session once every target answered:
	// no dial is refused for being early.
	hold := a.mesh.Hold()
	defer hold.Release()
	results := a.pinMembers(judged, parsed.Replace, how)
	// Membership follows trust (DESIGN §3): every member pinned here is
	// expected from now on, the new ones included.
	var joined []identity.ID
	for _, m := range judged {
		if r := results[m.id.String()]; r == "trusted" || r == "already trusted" {
			joined = append(joined, m.id)
		}
	}
	a.addMembers(joined, how)
	log.WithField("initiator", from.String()).WithField("results", fmt.Sprint(results)).Warn("trust request served")
	rc := reply(trustproto.Response{OK: true, Results: results})
	followReady(ss.Context(), in, hold, trustHoldMax, log)
	return rc
}

// trustHoldMax bounds how long a target holds its dials for an initiator
// that does not close the trust session: its own wait for the slowest
// target (runTrust's deadline) and a margin.
const trustHoldMax = 35 * time.Second

// allower is what followReady needs of a peers.Hold.
type allower interface{ Allow([]identity.ID) }

// followReady lets the held dials start as the initiator's Ready messages
// name members, until it closes its side (EOF), the session ends, or after
// max.
func followReady(ctx context.Context, in *bufio.Reader, hold allower, max time.Duration, log *logrus.Entry) {
	msgs := make(chan trustproto.Ready)
	go func() {
		defer close(msgs)
		for {
			var r trustproto.Ready
			if err := trustproto.Read(in, &r); err != nil {
				if !errors.Is(err, io.EOF) {
					log.WithError(err).Debug("trust session: reading ready")
				}
				return
			}
			select {
			case msgs <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	t := time.NewTimer(max)
	defer t.Stop()
	for {
		select {
		case r, ok := <-msgs:
			if !ok {
				return
			}
			ids, err := r.IDs()
			if err != nil {
				log.WithError(err).Warn("trust session: ignored a bad ready message")
				continue
			}
			hold.Allow(ids)
		case <-ctx.Done():
			return
		case <-t.C:
			return
		}
	}
}

type judgedPin struct {
	id  identity.ID
	key ed25519.PublicKey
}

// pinMembers pins keys in one durable write and says, per ID, what
// happened: "trusted", "already trusted" or "error: ...". A changed key
// replaces a pin only for an ID in replace (force with the new fingerprint
// named), decided inside the trust store's lock; an ID this orchestrator
// cannot reach or a blocked key is never pinned.
func (a *Agent) pinMembers(ms []judgedPin, replace map[identity.ID]bool, by string) map[string]string {
	results := map[string]string{}
	var todo []truststore.NewPin
	for _, m := range ms {
		fp := identity.Fingerprint(m.key)
		pin, pinned := a.trust.Pin(m.id)
		if _, err := a.peerSpec(m.id); err != nil {
			results[m.id.String()] = fmt.Sprintf("error: %s cannot be a member here: %v", m.id, err)
			continue
		}
		if a.trust.Blocked(fp) {
			results[m.id.String()] = fmt.Sprintf("error: fingerprint %s of %s is blocked", fp, m.id)
			continue
		}
		if pinned && pin.Fingerprint == fp {
			results[m.id.String()] = "already trusted"
		}
		todo = append(todo, truststore.NewPin{ID: m.id, Key: m.key})
	}
	refused, err := a.trust.SetPinsIf(todo, by, func(id identity.ID) bool { return replace[id] })
	var events []audit.Event
	for _, p := range todo {
		switch {
		case err != nil:
			results[p.ID.String()] = "error: " + err.Error()
		case refused[p.ID] != nil:
			results[p.ID.String()] = "error: " + refused[p.ID].Error()
		case results[p.ID.String()] == "":
			results[p.ID.String()] = "trusted"
			events = append(events, audit.Event{Type: "trust", Source: by, Result: "ok", Reason: fmt.Sprintf("trusted %s (key %s)", p.ID, identity.Fingerprint(p.Key)),
				Fields: map[string]string{"id": p.ID.String(), "fingerprint": identity.Fingerprint(p.Key)}})
		}
	}
	if err := a.audit.RecordAll(events); err != nil {
		a.log.WithError(err).Error("audit log write failed")
	}
	return results
}

// serveSyncSSH listens for the trust subsystem on our sync addresses, and
// only that: admin shells belong on the management address. IP_FREEBIND
// lets it bind before syncport has assigned the address.
func (a *Agent) serveSyncSSH(ctx context.Context, srv *sshserver.Server) {
	for _, p := range []config.SyncPort{a.cfg.Internal, a.cfg.External} {
		pfx, err := a.cfg.PortAddress(p)
		if err != nil {
			continue
		}
		addr := net.JoinHostPort(pfx.Addr().String(), strconv.Itoa(a.cfg.SSHPort))
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1) })
			return serr
		}}
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			a.log.WithError(err).WithField("addr", addr).Error("trust subsystem listener not started")
			continue
		}
		a.log.WithField("addr", addr).Info("trust subsystem listening")
		go func() {
			err := srv.ServeOptions(l, sshserver.ListenOptions{SubsystemsOnly: true})
			if err != nil && !errors.Is(err, sshserver.ErrServerClosed) {
				a.log.WithError(err).Error("trust subsystem listener stopped")
			}
		}()
	}
}

// syncAddrPort is where we reach peer id's SSH server, and from where.
func (a *Agent) syncAddrPort(id identity.ID) (remote netip.AddrPort, local netip.Addr, role string, err error) {
	p := a.cfg.PeerPort(id)
	theirs, err := p.AddressFor(id)
	if err != nil {
		return remote, local, p.Role, err
	}
	ours, err := a.cfg.PortAddress(p)
	if err != nil {
		return remote, local, p.Role, err
	}
	return netip.AddrPortFrom(theirs.Addr(), uint16(a.cfg.SSHPort)), ours.Addr(), p.Role, nil
}

const trustDialTimeout = 4 * time.Second
