package sshserver

import (
	"context"
	"io"
	"runtime/debug"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"
)

// serveSession runs the request loop of one session channel. Exactly one
// shell, exec or subsystem request is accepted per channel.
func (s *Server) serveSession(info *connInfo, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer info.tc.doneSession()
	ctx, cancel := context.WithCancel(info.ctx)
	defer cancel()
	sess := &Session{ctx: ctx, info: info, ch: ch, winch: make(chan WindowSize, 1)}
	defer close(sess.winch)

	started := false
	for req := range reqs {
		ok := false
		var run func()
		switch req.Type {
		case "pty-req":
			p, err := parsePtyRequest(req.Payload)
			if ok = s.check(info, err); ok {
				sess.setPty(p)
			}
		case "window-change":
			w, err := parseWindowChange(req.Payload)
			if ok = s.check(info, err); ok {
				sess.resize(w)
			}
		case "env":
			if !started {
				name, value, err := parseEnv(req.Payload)
				ok = s.check(info, err) && sess.setenv(name, value)
			}
		case "shell", "exec", "subsystem":
			if !started {
				run = s.prepare(sess, req)
				ok, started = run != nil, run != nil
			}
		}
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
		if run != nil {
			go run()
		}
	}
}

// check logs a malformed request payload and reports whether err is nil.
func (s *Server) check(info *connInfo, err error) bool {
	if err != nil {
		s.logf("sshserver: malformed request from %s: %v", info.remote, err)
	}
	return err == nil
}

// prepare validates a shell, exec or subsystem request and returns the
// function that serves it, or nil to refuse it.
func (s *Server) prepare(sess *Session, req *ssh.Request) func() {
	info := sess.info
	var call func() int
	switch req.Type {
	case "shell":
		call = func() int { return s.Handler.Shell(sess) }
	case "exec":
		cmd, err := parseExec(req.Payload)
		if !s.check(info, err) {
			return nil
		}
		call = func() int { return s.Handler.Exec(sess, cmd) }
	case "subsystem":
		name, err := parseSubsystem(req.Payload)
		if !s.check(info, err) {
			return nil
		}
		if !slices.Contains(s.Subsystems, name) {
			s.logf("sshserver: refused unknown subsystem %q for %q from %s", name, info.user, info.remote)
			return nil
		}
		call = func() int { return s.Handler.Subsystem(sess, name) }
	}
	if req.Type != "subsystem" && info.opts.SubsystemsOnly {
		// Accepted, then ended with status 1: OpenSSH drops stderr that
		// arrives with a refused request, and the admin must see why.
		s.logf("sshserver: refused %s for %q from %s: listener serves only subsystems", req.Type, info.user, info.remote)
		return func() {
			msg := info.opts.RefuseMessage
			if msg == "" {
				msg = DefaultSubsystemsOnlyMessage
			}
			eol := "\n"
			if _, _, _, hasPty := sess.PTY(); hasPty {
				eol = "\r\n"
			}
			_, _ = io.WriteString(sess.Stderr(), msg+eol)
			s.finish(sess, SubsystemsOnlyStatus)
		}
	}
	return func() { s.finish(sess, s.callHandler(sess, req.Type, call)) }
}

// callHandler runs the handler, turning a panic into exit status 1.
func (s *Server) callHandler(sess *Session, kind string, call func() int) (status int) {
	defer func() {
		if r := recover(); r != nil {
			s.logf("sshserver: %s handler for %q from %s panicked: %v\n%s", kind, sess.info.user, sess.info.remote, r, debug.Stack())
			status = 1
		}
	}()
	return call()
}

// finish sends EOF and the exit status, then closes the channel.
func (s *Server) finish(sess *Session, status int) {
	if status < 0 || status > 255 {
		status = 255
	}
	_ = sess.ch.CloseWrite()
	_, _ = sess.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
	_ = sess.ch.Close()
	if sess.cut.Load() {
		time.AfterFunc(disconnectGrace, func() { sess.info.tc.nc.Close() })
	}
}
