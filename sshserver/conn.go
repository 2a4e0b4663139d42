package sshserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"golang.org/x/crypto/ssh"
)

// connInfo is what every session of one connection shares.
type connInfo struct {
	ctx       context.Context
	user      string
	principal Principal
	remote    netip.AddrPort
	local     netip.AddrPort
	opts      ListenOptions
	tc        *trackedConn
}

func (s *Server) serveConn(tc *trackedConn, newConfig configFactory, opts ListenOptions) {
	defer s.trackConn(tc, false)
	nc := tc.nc
	defer nc.Close()
	release, ok := s.admit(nc)
	if !ok {
		return
	}
	defer release()
	if t, ok := nc.(*net.TCPConn); ok {
		// Without it, small writes wait for delayed ACKs (DESIGN §7).
		if err := t.SetNoDelay(true); err != nil {
			s.logf("sshserver: setting TCP_NODELAY for %s: %v", nc.RemoteAddr(), err)
		}
	}
	ctx, cancel := context.WithCancel(s.base())
	defer cancel()

	grace := s.LoginGraceTime
	if grace <= 0 {
		grace = DefaultLoginGraceTime
	}
	deadline := time.Now().Add(grace)
	_ = nc.SetDeadline(deadline)
	authCtx, cancelAuth := context.WithDeadline(ctx, deadline)
	sc, chans, reqs, err := ssh.NewServerConn(nc, newConfig(authCtx))
	cancelAuth()
	release()
	if err != nil {
		if !errors.Is(err, io.EOF) && !s.shuttingDown() {
			s.logf("sshserver: handshake with %s: %v", nc.RemoteAddr(), err)
		}
		return
	}
	defer sc.Close()
	_ = nc.SetDeadline(time.Time{})

	info := &connInfo{
		ctx:    ctx,
		user:   sc.User(),
		remote: addrPort(sc.RemoteAddr()),
		local:  addrPort(sc.LocalAddr()),
		opts:   opts,
		tc:     tc,
	}
	if sc.Permissions != nil {
		info.principal, _ = sc.Permissions.ExtraData[principalKey{}].(Principal)
	}

	// Global requests (tcpip-forward, keepalive@openssh.com, ...) all get
	// "false"; a keepalive only needs a reply.
	go ssh.DiscardRequests(reqs)

	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.UnknownChannelType, "only session channels are served")
			continue
		}
		if !tc.addSession(s) {
			_ = nch.Reject(ssh.ResourceShortage, "server shutting down")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			tc.doneSession()
			s.logf("sshserver: accepting session channel from %s: %v", info.remote, err)
			continue
		}
		go s.serveSession(info, ch, creqs)
	}
}
