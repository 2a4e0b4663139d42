package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/creack/pty"
	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/paths"
	"github.com/orchd/orchd/shell"
)

const expertTries = 3

// expert runs a root bash on a PTY bridged to the session's stream, after
// the expert password. Every entry is logged with user and source.
func (a *Agent) expert(c *shell.Ctx, s *adminSession) error {
	log := a.log.WithField("user", s.user).WithField("from", s.from)
	if err := a.requireReadWrite(s, aaa.FeatureExpert); err != nil {
		log.Warn("expert mode refused: no expert permission")
		return fmt.Errorf("not allowed: %w", err)
	}
	if !s.term {
		return errors.New("expert needs an interactive terminal: log in with ssh (or ssh -t) or run clish without -c")
	}
	hash := a.db.Running().ExpertPasswordHash
	if hash == "" {
		return errors.New("no expert password is set: run set expert-password first")
	}
	ok := false
	for i := 0; i < expertTries && !ok; i++ {
		pw, err := c.Prompt("password", "Enter expert password:\n\nPassword: ", true)
		if err != nil {
			return err
		}
		if ok, err = a.checkExpertPassword(c, s, hash, pw, "expert mode"); err != nil {
			return err
		} else if ok {
			break
		}
		fmt.Fprintln(c.Out, "Wrong password.")
		if _, preset := s.answers["password"]; preset {
			break
		}
	}
	if !ok {
		log.Warn("expert mode refused: wrong expert password")
		return errors.New("expert mode refused: wrong password")
	}
	log.Info("expert mode entered")
	a.record(audit.Event{Type: "expert", User: s.user, Source: s.from, Result: "ok"})
	defer log.Info("expert mode left")
	fmt.Fprintln(c.Out, "\nWarning! All configurations should be done through clish.\nYou are in expert mode now.")

	raw := c.Raw()
	defer raw.Close()
	cmd := exec.Command("/bin/bash", "--noprofile", "--norc", "-i")
	cmd.Env = a.expertEnv(s)
	cmd.Dir = "/"
	w, h := raw.Size()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(max(w, 1)), Rows: uint16(max(h, 1))})
	if err != nil {
		return fmt.Errorf("starting root shell: %w", err)
	}
	defer ptmx.Close()
	go func() {
		for range raw.Resized() {
			w, h := raw.Size()
			pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(max(w, 1)), Rows: uint16(max(h, 1))})
		}
	}()
	go io.Copy(ptmx, raw.In)
	done := make(chan struct{})
	go func() { io.Copy(raw.Out, ptmx); close(done) }()
	exited := make(chan struct{})
	go func() {
		// A dropped connection must not leave a root shell behind.
		select {
		case <-c.Context.Done():
			cmd.Process.Kill()
		case <-exited:
		}
	}()
	err = cmd.Wait()
	close(exited)
	ptmx.Close()
	<-done
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() >= 0 {
		return nil
	}
	return err
}

// expertEnv gives the root shell a usable environment: our binaries on
// PATH (orch_stat, hcp, clish) and the same root as the daemon.
func (a *Agent) expertEnv(s *adminSession) []string {
	bin := "/usr/local/bin"
	if exe, err := os.Executable(); err == nil {
		bin = filepath.Dir(exe)
	}
	term := s.termName
	if term == "" {
		term = "xterm"
	}
	return []string{
		"PATH=" + bin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/bash",
		"TERM=" + term,
		paths.EnvRoot + "=" + a.opts.Layout.Root,
		"PS1=[Expert@orch-" + a.cfg.ID.String() + ":0]# ",
	}
}
