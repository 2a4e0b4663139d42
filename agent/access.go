package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/ctlsock"
	"github.com/orchd/orchd/sshserver"
	"github.com/orchd/orchd/trustproto"
)

// ctlGroup may use the control socket besides root.
const ctlGroup = "clishd"

// serveControl runs the local control socket for clish on l.
func (a *Agent) serveControl(ctx context.Context, l *net.UnixListener) error {
	defer os.Remove(a.opts.Layout.Socket())
	return ctlsock.Serve(ctx, l, a.handleControl, func(f string, args ...any) { a.log.Warnf(f, args...) })
}

// handleControl maps the socket peer's uid to a user: root is admin, any
// other local account must exist as a clish user of the same name.
func (a *Agent) handleControl(cs *ctlsock.Session) int {
	name, role := "", aaa.Role{}
	if cs.Cred.UID == 0 {
		name = "admin"
		role, _ = aaa.LookupRole(aaa.AdminRole)
	} else {
		u, err := user.LookupId(strconv.Itoa(cs.Cred.UID))
		if err != nil {
			fmt.Fprintf(cs.Stderr, "clishd: local uid %d has no clish account\n", cs.Cred.UID)
			return 1
		}
		cu, ok := a.db.LookupUser(u.Username)
		if !ok {
			fmt.Fprintf(cs.Stderr, "clishd: local user %s (uid %d) has no clish account\n", u.Username, cs.Cred.UID)
			return 1
		}
		if cu.TwoFactor != nil {
			if err := a.consoleSecondFactor(cs, cu); err != nil {
				fmt.Fprintf(cs.Stderr, "clishd: %v\n", err)
				return 1
			}
		}
		name = cu.Name
		if _, role, err = a.db.ResolveUser(cu.Name); err != nil {
			fmt.Fprintf(cs.Stderr, "clishd: %v\n", err)
			return 1
		}
	}
	var wins chan [2]int
	if cs.Windows != nil {
		wins = make(chan [2]int, 4)
		go func() {
			defer close(wins)
			for ws := range cs.Windows {
				wins <- [2]int{ws.Width, ws.Height}
			}
		}()
	}
	h := cs.Hello
	s := &adminSession{
		user: name, role: role, from: fmt.Sprintf("console (uid %d, pid %d)", cs.Cred.UID, cs.Cred.PID),
		mode: h.Mode, command: h.Command, script: h.Script, scriptTag: h.ScriptName, answers: h.Answers,
		in: cs.Stdin, out: cs.Stdout, err: cs.Stderr, term: h.TTY, termName: h.Term, width: h.Width, height: h.Height,
		windows: wins, ctx: cs.Ctx, fixedRole: cs.Cred.UID == 0,
	}
	if h.Answers != nil && h.Mode != modeInteractive {
		// Answers replace the stream: prompts without an answer fail
		// instead of waiting on a stdin that carried the JSON.
		s.in = nil
	}
	return a.runSession(s)
}

// sshAuth adapts aaa to the SSH server.
type sshAuth struct{ a *aaa.Authenticator }

func (s sshAuth) Authenticate(ctx context.Context, user, password string, remote netip.Addr) (sshserver.Principal, error) {
	p, err := s.a.Authenticate(ctx, user, password, remote)
	if err != nil {
		return sshserver.Principal{}, sshSecondStep(err)
	}
	return sshPrincipal(p), nil
}

func sshPrincipal(p aaa.Principal) sshserver.Principal {
	return sshserver.Principal{User: p.User, Role: p.Role.Name, Extra: p}
}

// sshHandler serves SSH sessions with the same shell as the console.
type sshHandler struct{ a *Agent }

func (h sshHandler) session(ss *sshserver.Session, mode string) *adminSession {
	p, _ := ss.Principal().Extra.(aaa.Principal)
	term, w, hgt, tty := ss.PTY()
	var wins chan [2]int
	if tty {
		wins = make(chan [2]int, 4)
		go func() {
			defer close(wins)
			for ws := range ss.WindowChanges() {
				wins <- [2]int{ws.Width, ws.Height}
			}
		}()
	}
	return &adminSession{
		user: p.User, domain: p.Domain, role: p.Role, from: "ssh from " + ss.RemoteAddr().String(), remote: ss.RemoteAddr().Addr().String(),
		mode: mode, in: ss.Stdin(), out: ss.Stdout(), err: ss.Stderr(), term: tty, termName: term, width: w, height: hgt,
		windows: wins, ctx: ss.Context(), fixedRole: p.Domain != "", disconnect: ss.Disconnect,
	}
}

func (h sshHandler) Shell(ss *sshserver.Session) int {
	s := h.session(ss, modeInteractive)
	h.a.recordLogin(s, true)
	return h.a.runSession(s)
}

func (h sshHandler) Exec(ss *sshserver.Session, command string) int {
	s := h.session(ss, modeExec)
	s.command = command
	h.a.recordLogin(s, false)
	return h.a.runSession(s)
}

func (h sshHandler) Subsystem(ss *sshserver.Session, name string) int {
	if name == trustproto.Subsystem {
		if err := h.a.passwordUsable(ss.Principal().User); err != nil {
			// The trust client reads a response, so the refusal is one.
			trustproto.Write(ss.Stdout(), trustproto.Response{ID: h.a.cfg.ID.String(), Error: err.Error()})
			return 1
		}
		return h.a.serveTrustSubsystem(ss)
	}
	fmt.Fprintf(ss.Stderr(), "subsystem %q is not served\n", name)
	return 1
}

// serveSSH runs the admin SSH server on the management address. A port
// already taken (a system sshd outside the testbed) is logged, and the
// daemon carries on with the console.
func (a *Agent) serveSSH(ctx context.Context) {
	host := ""
	if a.cfg.MgmtAddress.IsValid() {
		host = a.cfg.MgmtAddress.String()
	}
	addr := net.JoinHostPort(host, strconv.Itoa(a.cfg.SSHPort))
	srv := &sshserver.Server{
		HostKey:    a.identity().Key,
		Auth:       sshAuth{a.auth},
		Handler:    sshHandler{a},
		Banner:     fmt.Sprintf("orchd orchestrator %s: authorised administrators only; activity is logged.\n", a.cfg.ID),
		Subsystems: []string{trustproto.Subsystem},
		AllowConn:  a.allowConn,
		Logf:       func(f string, args ...any) { a.log.WithField("part", "ssh").Infof(f, args...) },
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	a.serveSyncSSH(ctx, srv)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		a.log.WithError(err).Error("SSH server not started; the console (clish) still works")
		return
	}
	a.log.WithField("addr", addr).Info("SSH server listening")
	if err := srv.Serve(l); err != nil && !errors.Is(err, sshserver.ErrServerClosed) {
		a.log.WithError(err).Error("SSH server stopped")
	}
}
