package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/shell"
)

// Session modes, whatever the transport.
const (
	modeInteractive = "interactive"
	modeExec        = "exec"
	modeScript      = "script"
)

// adminSession is one shell session, from SSH or the control socket. Both
// transports fill it in and hand it to runSession: one code path.
type adminSession struct {
	id        uint64
	user      string
	domain    string // login domain of a remote user ("" for local users)
	role      aaa.Role
	from      string // "ssh from 198.19.128.1:5123" or "console (uid 0)"
	remote    string // source address for logs, "" for the console
	mode      string
	command   string // modeExec
	script    string // modeScript
	scriptTag string // clish -f FILE: named in the error ("FILE line 3: ...")
	answers   map[string]string
	in        io.Reader
	out, err  io.Writer
	term      bool
	termName  string
	width     int
	height    int
	windows   <-chan [2]int
	ctx       context.Context
	// fixedRole: the role is not re-read from the configuration at each
	// command (root on the console; users of an external provider, who
	// have no local account and get their roles at login).
	fixedRole bool
	// disconnect closes the client's whole connection (SSH); nil when
	// ending the session already does (the console socket).
	disconnect func()
}

var sessionIDs atomic.Uint64

func (s *adminSession) owner() configdb.Owner {
	return configdb.Owner{SessionID: fmt.Sprint(s.id), User: s.user, From: s.from}
}

// currentRole re-reads a local user's role at each command, so deleting or
// demoting a user takes effect in its open sessions at once. Remote users
// (no local account) keep what their provider granted at login.
func (a *Agent) currentRole(s *adminSession) (aaa.Role, error) {
	if s.fixedRole {
		return s.role, nil
	}
	_, r, err := a.db.ResolveUser(s.user)
	return r, err
}

// authorize checks one command against the feature it names (DESIGN §8.1):
// a change needs the feature read-write, anything else read access.
func (a *Agent) authorize(s *adminSession, cmd *shell.Command) error {
	if cmd.Feature == "" {
		return nil // exit, help, show commands: the shell's own words
	}
	role, err := a.currentRole(s)
	if err != nil {
		return err
	}
	switch {
	case cmd.Write:
		err := needReadWrite(s.user, role, cmd.Feature)
		if err != nil {
			// A refused change is a security event too (Ran only hears of
			// commands that ran).
			a.record(audit.Event{Type: "command", User: s.user, Source: s.from, Result: "refused", Reason: err.Error(),
				Fields: map[string]string{"syntax": cmd.Syntax}})
		}
		return err
	case !role.Read(cmd.Feature):
		return fmt.Errorf("needs feature %s; user %s has roles %s, which do not include it", cmd.Feature, s.user, role.Name)
	}
	return nil
}

// needReadWrite refuses a change unless role has feature read-write,
// naming the feature and every role of the user (role.Name lists them).
func needReadWrite(user string, role aaa.Role, feature string) error {
	if role.ReadWrite(feature) {
		return nil
	}
	have := "no access"
	if role.Read(feature) {
		have = "read-only"
	}
	return fmt.Errorf("needs feature %s read-write; user %s has roles %s (%s: %s)", feature, user, role.Name, feature, have)
}

// requireReadWrite is needReadWrite for the session's current roles, for
// commands that change something without being marked Write (they must
// run while another session holds the configuration lock).
func (a *Agent) requireReadWrite(s *adminSession, feature string) error {
	role, err := a.currentRole(s)
	if err != nil {
		return err
	}
	return needReadWrite(s.user, role, feature)
}

// readOnlyReason is asked before every command: a role with nothing
// read-write never takes the configuration lock, and the lock may have
// moved.
func (a *Agent) readOnlyReason(s *adminSession) string {
	role, err := a.currentRole(s)
	if err != nil {
		return err.Error()
	}
	if len(role.ReadWriteFeatures) == 0 {
		if strings.Contains(role.Name, ",") {
			return fmt.Sprintf("roles %s are read-only", role.Name)
		}
		return fmt.Sprintf("role %s is read-only", role.Name)
	}
	if ok, holder := a.lock.Acquire(s.owner()); !ok {
		return configdb.LockedMessage(holder)
	}
	return ""
}

// runSession runs s to its end and returns its exit status.
func (a *Agent) runSession(s *adminSession) int {
	s.id = sessionIDs.Add(1)
	defer a.lock.Release(s.owner())
	if !s.fixedRole {
		// Making the user inactive or deleting it ends this session.
		ctx, cancel := context.WithCancel(s.ctx)
		defer cancel()
		s.ctx = ctx
		out := s.out
		a.sessions.add(s.id, liveSession{user: s.user, end: cancel, notify: func(msg string) {
			if s.term {
				msg = strings.ReplaceAll(msg, "\n", "\r\n")
			}
			io.WriteString(out, msg)
		}})
		defer a.sessions.remove(s.id)
	}
	log := a.log.WithField("user", s.user).WithField("from", s.from).WithField("session", s.id)
	log.WithField("mode", s.mode).Info("shell session start")
	defer log.Info("shell session end")
	a.record(audit.Event{Type: "login", User: s.user, Source: s.from, Result: "ok", Fields: map[string]string{"mode": s.mode, "session": fmt.Sprint(s.id)}})
	defer a.record(audit.Event{Type: "logout", User: s.user, Source: s.from, Result: "ok", Fields: map[string]string{"session": fmt.Sprint(s.id)}})

	// Take the lock at once for a read-write user, so a second admin is
	// told who holds it before typing anything.
	reason := a.readOnlyReason(s)
	eng := a.newEngine(s)
	hist := ""
	if s.mode == modeInteractive {
		hist = filepath.Join(a.opts.Layout.LibDir(), "history", s.user)
		os.MkdirAll(filepath.Dir(hist), 0o700)
	}
	errOut := s.err
	if s.mode == modeScript && s.scriptTag != "" {
		// The shell's "line N: ..." says which line; the file says where.
		errOut = &prefixWriter{w: s.err, prefix: s.scriptTag + " "}
	}
	sess := shell.NewSession(eng, shell.SessionOptions{
		In: s.in, Out: s.out, Err: errOut, Term: s.term, Width: s.width, Height: s.height,
		Prompt:         a.prompt(),
		User:           s.user,
		ReadOnlyReason: func() string { return a.readOnlyReason(s) },
		Answers:        s.answers,
		HistoryFile:    hist,
		Authorize:      func(cmd *shell.Command) error { return a.authorize(s, cmd) },
		Ran: func(cmd *shell.Command, line string, err error) {
			if !cmd.Write {
				return
			}
			e := audit.Event{Type: "command", User: s.user, Source: s.from, Command: line, Result: "ok"}
			if err != nil {
				e.Result, e.Reason = "failed", err.Error()
			}
			a.record(e)
		},
	})
	if s.windows != nil {
		go func() {
			for ws := range s.windows {
				sess.Resize(ws[0], ws[1])
			}
		}()
	}
	if !s.fixedRole {
		if code, stop := a.loginPolicy(s, sess); stop {
			return code
		}
	}
	switch s.mode {
	case modeExec:
		code := sess.Exec(s.ctx, s.command)
		if len(s.command) > shell.MaxLine {
			a.cutOff(s, log)
		}
		return code
	case modeScript:
		return sess.RunScript(s.ctx, strings.NewReader(s.script))
	}
	if role, _ := a.currentRole(s); reason != "" && len(role.ReadWriteFeatures) > 0 {
		fmt.Fprintf(s.out, "%s%s", strings.ReplaceAll(reason, "\n", "\r\n"), nl(s.term))
	}
	err := sess.RunInteractive(s.ctx)
	if shell.IsLineTooLong(err) {
		fmt.Fprintf(s.out, "%v: disconnecting%s", err, nl(s.term))
		a.cutOff(s, log)
		return 1
	}
	if err != nil && s.ctx.Err() == nil {
		log.WithError(err).Warn("interactive session ended with an error")
		return 1
	}
	return 0
}

func nl(term bool) string {
	if term {
		return "\r\n"
	}
	return "\n"
}

func (a *Agent) prompt() string { return "orch-" + a.cfg.ID.String() + "> " }

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// prefixWriter puts prefix at the start of every line written through it.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool // inside a line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if !p.mid {
			out = append(out, p.prefix...)
		}
		out = append(out, c)
		p.mid = c != '\n'
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
