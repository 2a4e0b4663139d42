package agent

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/shell"
)

// change applies fn to the running configuration and republishes.
func (a *Agent) change(fn func(*configdb.Doc) error) error {
	err := a.db.Update(fn)
	a.markDirty()
	return err
}

func (a *Agent) userNames() []string {
	var out []string
	for _, u := range a.db.Running().Users {
		out = append(out, u.Name)
	}
	return out
}

func (a *Agent) roleNames() []string {
	d := a.db.Running()
	return d.RoleNames()
}

// twoFactorOf is what show users prints in TWO-FACTOR: off, totp or
// email (ADDRESS).
var twoFactorOf = func(u aaa.User) string { return u.TwoFactor.String() }

// registerUserCommands: local users (DESIGN §8.1), feature users.
func (a *Agent) registerUserCommands(e *shell.Engine, s *adminSession) {
	users := a.userNames
	roles := a.roleNames
	e.Register(shell.Command{Syntax: "show users", Help: "local users: roles, state, two-factor, last login, password expiry", Feature: aaa.FeatureUsers,
		Run: func(c *shell.Ctx, _ shell.Args) error { return a.showUsers(c) }})
	e.Register(shell.Command{Syntax: "add user <name:user> role <roles:roles>", Help: "add a local user with one or more roles (set its password next)",
		Write: true, Feature: aaa.FeatureUsers, Complete: map[string]shell.Completer{"roles": roles},
		Run: func(c *shell.Ctx, x shell.Args) error {
			name, rs := x.String("name"), x.Strings("roles")
			if err := a.change(func(d *configdb.Doc) error { return d.AddUser(name, rs...) }); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "user %s added with roles %s; it cannot log in until: set user %s password\n", name, strings.Join(rs, ","), name)
			return nil
		}})
	e.Register(shell.Command{Syntax: "set user <name:user> password", Help: "set a user's password (asked twice; password-controls apply)",
		Write: true, Feature: aaa.FeatureUsers, Complete: map[string]shell.Completer{"name": users},
		Run: func(c *shell.Ctx, x shell.Args) error {
			name := x.String("name")
			if _, ok := a.db.LookupUser(name); !ok {
				return fmt.Errorf("no user %q: expected one of %s", name, strings.Join(users(), ", "))
			}
			if err := a.setPassword(c, name, false); err != nil {
				return err
			}
			a.log.WithField("user", s.user).WithField("target", name).Info("password changed")
			fmt.Fprintf(c.Out, "password of %s changed\n", name)
			return nil
		}})
	e.Register(shell.Command{Syntax: "set user <name:user> role <roles:roles>", Help: "replace a user's roles (effective in its open sessions at once)",
		Write: true, Feature: aaa.FeatureUsers, Complete: map[string]shell.Completer{"name": users, "roles": roles},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return a.change(func(d *configdb.Doc) error { return d.SetRoles(x.String("name"), x.Strings("roles")...) })
		}})
	e.Register(shell.Command{Syntax: "set user <name:user> state <state:enum:active|inactive>", Help: "an inactive user cannot log in; its open sessions end",
		Write: true, Feature: aaa.FeatureUsers, Complete: map[string]shell.Completer{"name": users},
		Run: func(c *shell.Ctx, x shell.Args) error {
			name, state := x.String("name"), x.String("state")
			if err := a.change(func(d *configdb.Doc) error { return d.SetState(name, state) }); err != nil {
				return err
			}
			if state == aaa.StateInactive {
				if n := a.sessions.endUser(name, fmt.Sprintf("user %s was made inactive by %s", name, s.user)); n > 0 {
					fmt.Fprintf(c.Out, "ended %d open session(s) of %s\n", n, name)
				}
			}
			return nil
		}})
	e.Register(shell.Command{Syntax: "set user <name:user> email <address:text>", Help: "the user's email address (email codes, expiry notices)",
		Write: true, Feature: aaa.FeatureUsers, Complete: map[string]shell.Completer{"name": users},
		Describe: map[string]string{"address": "an email address such as admin@example.com"},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return a.change(func(d *configdb.Doc) error { return d.SetEmail(x.String("name"), x.String("address")) })
		}})
	e.Register(shell.Command{Syntax: "delete user <name:user>", Help: "delete a local user (never the last adminRole user); its open sessions end",
		Write: true, Feature: aaa.FeatureUsers, Complete: map[string]shell.Completer{"name": users},
		Run: func(c *shell.Ctx, x shell.Args) error {
			name := x.String("name")
			if err := a.change(func(d *configdb.Doc) error { return d.DeleteUser(name) }); err != nil {
				return err
			}
			a.forgetLogin(name)
			if n := a.sessions.endUser(name, fmt.Sprintf("user %s was deleted by %s", name, s.user)); n > 0 {
				fmt.Fprintf(c.Out, "ended %d open session(s) of %s\n", n, name)
			}
			return nil
		}})
}

func (a *Agent) showUsers(c *shell.Ctx) error {
	d := a.db.Running()
	last := a.lastLogins()
	now := time.Now()
	tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tROLES\tSTATE\tTWO-FACTOR\tLAST-LOGIN\tPASSWORD-EXPIRES")
	for _, u := range d.Users {
		login := "never"
		if t, ok := last[u.Name]; ok {
			login = fmtMinute(t)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, strings.Join(u.Roles, ","), u.State, twoFactorOf(u), login, passwordExpires(d, u, now))
	}
	return tw.Flush()
}

func passwordExpires(d configdb.Doc, u aaa.User, now time.Time) string {
	if u.PasswordHash == "" {
		return "no password (cannot log in)"
	}
	at, ok := d.PasswordControls.ExpiresAt(u)
	switch {
	case !ok:
		return "never"
	case !now.Before(at):
		return "expired " + fmtMinute(at)
	}
	return fmtMinute(at)
}

func fmtMinute(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
