package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/policy"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/shell"
)

// errPasswordExpired refuses everything but an interactive login to a
// user whose password expired (DESIGN §8.2).
var errPasswordExpired = errors.New("password expired: log in interactively to change it")

// changeAtLoginTries is how many new passwords an expired login may offer.
const changeAtLoginTries = 3

// sweepEvery is how often the inactive-user sweep runs.
var sweepEvery = time.Hour

// registerPasswordCommands: `set password-controls ...` and `show
// password-controls` (DESIGN §8.2), feature password-controls.
func (a *Agent) registerPasswordCommands(e *shell.Engine, s *adminSession) {
	for _, st := range policy.Settings() {
		name := st.Name
		syntax := "set password-controls " + name + " <value:text>"
		if st.OnOff {
			syntax = "set password-controls " + name + " <value:enum:on|off>"
		}
		e.Register(shell.Command{Syntax: syntax, Help: st.Help, Write: true, Feature: aaa.FeaturePasswordControls,
			Describe: map[string]string{"value": st.Form},
			Run: func(c *shell.Ctx, x shell.Args) error {
				v := x.String("value")
				if err := a.change(func(d *configdb.Doc) error { return d.SetPasswordControl(name, v) }); err != nil {
					return err
				}
				fmt.Fprintf(c.Out, "password-controls %s is %s\n", name, a.db.Running().PasswordControls.Get(name))
				return nil
			}})
	}
	e.Register(shell.Command{Syntax: "show password-controls", Help: "password policy and lockout settings", Feature: aaa.FeaturePasswordControls,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			pc := a.db.Running().PasswordControls
			tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SETTING\tVALUE\tALLOWED")
			for _, st := range policy.Settings() {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", st.Name, pc.Get(st.Name), st.Form)
			}
			tw.Flush()
			if pc.EnforcePasswordCriteria {
				fmt.Fprintf(c.Out, "Enforced since %s: the require-* settings, history, expiration and inactive-user deletion apply.\n", fmtMinute(pc.EnforcedSince))
			} else {
				fmt.Fprintln(c.Out, "Not enforced: a new password needs min-password-length characters and a lowercase letter, an uppercase letter,\na digit and a special character; history, expiration and inactive-user deletion do not apply.")
			}
			return nil
		}})
}

// askNewPassword asks for a new password twice (once with --input-json,
// whose "password" answers both).
func askNewPassword(c *shell.Ctx, question string) (string, error) {
	pw, err := c.Prompt("password", question, true)
	if err != nil {
		return "", err
	}
	again, err := c.Prompt("password", "Retype "+strings.ToLower(question[:1])+question[1:], true)
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the passwords do not match: nothing changed")
	}
	if pw == "" {
		return "", errors.New("empty password: nothing changed")
	}
	return pw, nil
}

// setPassword asks for a new password of user name, checks it against the
// password controls (naming every rule it breaks) and sets it. through
// writes it to the saved configuration at once (a change at login).
func (a *Agent) setPassword(c *shell.Ctx, name string, through bool) error {
	pw, err := askNewPassword(c, "New password: ")
	if err != nil {
		return err
	}
	d := a.db.Running()
	u, ok := d.User(name)
	if !ok {
		return fmt.Errorf("no user %q", name)
	}
	if err := d.PasswordControls.CheckPassword(pw, u.PasswordHash, u.PasswordHistory); err != nil {
		return err
	}
	hash, err := aaa.Hash(pw)
	if err != nil {
		return err
	}
	set := func(d *configdb.Doc) error { return d.SetPassword(name, hash) }
	if through {
		err = a.db.UpdateThrough(set)
		a.markDirty()
		return err
	}
	return a.change(set)
}

// passwordUsable refuses a login whose password expired, where it cannot
// be changed (exec, scripts, the trust subsystem).
func (a *Agent) passwordUsable(user string) error {
	u, ok := a.db.LookupUser(user)
	if ok && a.db.Running().PasswordControls.Expired(u, time.Now()) {
		return errPasswordExpired
	}
	return nil
}

// loginPolicy applies the password controls at the start of a local
// user's session: an expired password is changed first (interactive) or
// refuses the session; one about to expire is announced. stop says the
// session ends here with code.
func (a *Agent) loginPolicy(s *adminSession, sess *shell.Session) (code int, stop bool) {
	u, ok := a.db.LookupUser(s.user)
	if !ok {
		return 0, false // the first command says the user is gone
	}
	pc := a.db.Running().PasswordControls
	now := time.Now()
	if !pc.Expired(u, now) {
		if w := pc.Warning(u, now); w != "" && s.mode == modeInteractive {
			fmt.Fprintf(s.out, "%s%s", w, nl(s.term))
		}
		return 0, false
	}
	if s.mode != modeInteractive {
		fmt.Fprintln(s.err, errPasswordExpired)
		return shell.ExitFailed, true
	}
	const what = "change expired password"
	err := sess.RunFunc(s.ctx, what, func(c *shell.Ctx) error {
		fmt.Fprintf(c.Out, "Your password expired on %s: you must change it now.\n", fmtMinute(mustExpiry(pc, u)))
		for try := 1; ; try++ {
			err := a.setPassword(c, s.user, true)
			if err == nil {
				fmt.Fprintln(c.Out, "password changed")
				return nil
			}
			if try == changeAtLoginTries || c.Context.Err() != nil || !c.CanPrompt() {
				return err
			}
			fmt.Fprintln(c.Out, err)
		}
	})
	e := audit.Event{Type: "command", User: s.user, Source: s.from, Command: what, Result: "ok"}
	if err != nil {
		e.Result, e.Reason = "failed", err.Error()
	}
	a.record(e)
	if err != nil {
		fmt.Fprintf(s.out, "%v: session ended%s", err, nl(s.term))
		return shell.ExitFailed, true
	}
	return 0, false
}

func mustExpiry(pc policy.Controls, u aaa.User) time.Time {
	at, _ := pc.ExpiresAt(u)
	return at
}

// sweepInactiveUsers deletes, at start and every sweepEvery, the users the
// password controls call inactive (never the last adminRole user), each
// deletion audited and written through to the saved configuration.
func (a *Agent) sweepInactiveUsers(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		a.sweepOnce(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *Agent) sweepOnce(now time.Time) {
	d := a.db.Running()
	for _, del := range d.PasswordControls.Sweep(d.Users, a.lastLogins(), now) {
		log := a.log.WithField("user", del.User).WithField("reason", del.Reason)
		e := audit.Event{Type: "sweep", User: del.User, Command: "delete user " + del.User, Result: "deleted", Reason: del.Reason,
			Fields: map[string]string{"by": "password-controls inactive-user-deletion"}}
		if err := a.db.UpdateThrough(func(d *configdb.Doc) error { return d.DeleteUser(del.User) }); err != nil {
			log.WithError(err).Warn("inactive-user deletion failed")
			e.Result, e.Reason = "failed", del.Reason+": "+err.Error()
			a.record(e)
			continue
		}
		a.markDirty()
		a.forgetLogin(del.User)
		a.sessions.endUser(del.User, "user "+del.User+" was deleted as inactive")
		log.Warn("inactive user deleted")
		a.record(e)
	}
}
