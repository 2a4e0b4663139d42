package agent

import (
	"fmt"
	"net/netip"
	"text/tabwriter"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/lockout"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/shell"
	"github.com/orchd/orchd/state"
	"github.com/sirupsen/logrus"
)

// newLockout builds the one per-source-address lockout every login path
// shares: the SSH server at accept, the Authenticator, expert mode, the
// trust subsystem (it logs in over SSH) and the management API.
func (a *Agent) newLockout() *lockout.Table {
	return lockout.New(lockout.Options{
		Settings: a.lockoutSettings,
		Notify:   a.lockoutEvent,
	})
}

// lockoutSettings are the password-controls lockout values in service
// units: failed-lock-duration minutes last test.lockout_minute each
// (always a minute outside tests).
func (a *Agent) lockoutSettings() lockout.Settings {
	s := passwordControlsLockout(a)
	minute := a.cfg.LockoutMinute
	if minute <= 0 {
		minute = time.Minute
	}
	s.Duration = time.Duration(s.Duration.Minutes() * float64(minute))
	return s
}

// passwordControlsLockout reads failed-attempts-allowed, failed-lock-duration
// (as minutes) and failed-alarm-threshold from the running configuration
// (`set password-controls ...`), so a change applies at the next attempt.
func passwordControlsLockout(a *Agent) lockout.Settings {
	pc := a.db.Running().PasswordControls
	s := lockout.Settings{Allowed: pc.FailedAttemptsAllowed, Duration: time.Duration(pc.FailedLockDuration) * time.Minute,
		AlarmThreshold: pc.FailedAlarmThreshold}
	if s.Allowed <= 0 || s.Duration <= 0 {
		return lockout.Defaults() // an older saved configuration without the settings
	}
	return s
}

// lockoutEvent makes a lockout or an alarm loud: the log, the audit trail,
// and (through the state file) hcp's "Administrator Logins".
func (a *Agent) lockoutEvent(e lockout.Event) {
	fields := map[string]string{"address": e.Addr, "failures": fmt.Sprint(e.Failures)}
	log := a.log.WithFields(logrus.Fields{"part": "aaa", "address": e.Addr, "failures": e.Failures, "last_user": e.User})
	switch e.Kind {
	case lockout.KindLockout:
		fields["locked_until"] = e.Until.UTC().Format(time.RFC3339)
		log.WithField("locked_until", e.Until.UTC().Format(time.RFC3339)).Warn("source address locked out after failed logins")
		a.record(audit.Event{Type: "lockout", User: e.User, Source: e.Addr, Result: "locked",
			Reason: fmt.Sprintf("%d failed logins", e.Failures), Fields: fields})
	case lockout.KindAlarm:
		log.Warn("ALARM: failed-login threshold reached from one source address")
		a.record(audit.Event{Type: "alarm", User: e.User, Source: e.Addr, Result: "raised",
			Reason: fmt.Sprintf("%d failed logins from %s within the lock duration", e.Failures, e.Addr), Fields: fields})
	}
	a.markDirty()
}

// loginsState is the lockout table for the state file.
func (a *Agent) loginsState() *state.Logins {
	l := &state.Logins{AlarmThreshold: a.lockoutSettings().AlarmThreshold, Lockouts: []state.Lockout{}}
	for _, e := range a.lockout.List() {
		sl := state.Lockout{Address: e.Addr, Failures: e.Failures, LastUser: e.LastUser, Alarm: e.Alarm}
		if !e.LockedUntil.IsZero() {
			t := e.LockedUntil.UTC()
			sl.LockedUntil = &t
		}
		l.Lockouts = append(l.Lockouts, sl)
	}
	return l
}

// allowConn is the SSH server's accept hook: a locked address is closed
// before any crypto.
func (a *Agent) allowConn(remote netip.Addr) error { return a.lockout.Check(remote) }

func (a *Agent) registerLockoutCommands(e *shell.Engine, s *adminSession) {
	e.Register(shell.Command{Syntax: "show aaa lockouts", Help: "source addresses with recent failed logins, and which are locked out",
		Feature: aaa.FeatureAAA, Run: func(c *shell.Ctx, _ shell.Args) error {
			l := a.lockout.List()
			if len(l) == 0 {
				fmt.Fprintln(c.Out, "no source address has recent failed logins")
				return nil
			}
			tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ADDRESS\tFAILURES\tLOCKED-UNTIL\tLAST-USER-TRIED")
			for _, e := range l {
				until, user := "-", e.LastUser
				if !e.LockedUntil.IsZero() {
					until = fmtTime(e.LockedUntil)
				}
				if e.Alarm {
					until += " (alarm)"
				}
				if user == "" {
					user = "-"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", e.Addr, e.Failures, until, user)
			}
			return tw.Flush()
		}})
	e.Register(shell.Command{Syntax: "delete aaa lockout <address:text>", Help: "unlock a source address now and forget its failures",
		Write: true, Feature: aaa.FeatureAAA,
		Complete: map[string]shell.Completer{"address": func() []string {
			var out []string
			for _, e := range a.lockout.List() {
				out = append(out, e.Addr)
			}
			return out
		}},
		Run: func(c *shell.Ctx, x shell.Args) error {
			k, err := lockout.ParseKey(x.String("address"))
			if err != nil {
				return err
			}
			if !a.lockout.Unlock(k) {
				return fmt.Errorf("%s has no recent failed logins: nothing to unlock (show aaa lockouts lists them)", lockout.KeyString(k))
			}
			a.record(audit.Event{Type: "lockout", User: s.user, Source: s.from, Result: "unlocked",
				Fields: map[string]string{"address": lockout.KeyString(k)}})
			a.log.WithField("user", s.user).WithField("address", lockout.KeyString(k)).Warn("lockout deleted")
			a.markDirty()
			fmt.Fprintf(c.Out, "%s unlocked\n", lockout.KeyString(k))
			return nil
		}})
}
