package agent

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/shell"
)

// newEngine builds the command tree for one session; commands close over
// the session for its user, role and lock identity.
func (a *Agent) newEngine(s *adminSession) *shell.Engine {
	e := shell.NewEngine()
	a.registerAuditCommands(e)
	users := func() []string {
		var out []string
		for _, u := range a.db.Running().Users {
			out = append(out, u.Name)
		}
		return out
	}
	roles := func() []string {
		var out []string
		for _, r := range aaa.BuiltinRoles() {
			out = append(out, r.Name)
		}
		return out
	}
	change := func(fn func(*configdb.Doc) error) error {
		err := a.db.Update(fn)
		a.markDirty()
		return err
	}

	e.Register(shell.Command{Syntax: "show maestro authentication", Help: "peers: status, port, fingerprint, since, reason",
		Feature: aaa.FeatureMaestroAuth, Run: func(c *shell.Ctx, _ shell.Args) error { a.showAuthentication(c.Out); return nil }})
	e.Register(shell.Command{Syntax: "show maestro authentication fingerprint", Help: "this orchestrator's ID, fingerprint and certificate expiry",
		Feature: aaa.FeatureMaestroAuth, Run: func(c *shell.Ctx, _ shell.Args) error {
			id := a.identity()
			fmt.Fprintf(c.Out, "Orchestrator ID:  %s\nFingerprint:      %s\nCertificate:      valid until %s\n", a.cfg.ID, id.Fingerprint(), fmtTime(id.Cert.NotAfter))
			return nil
		}})

	e.Register(shell.Command{Syntax: "show users", Help: "local users and their roles", Feature: aaa.FeatureUsers,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tROLE\tPASSWORD")
			for _, u := range a.db.Running().Users {
				pw := "set"
				if u.PasswordHash == "" {
					pw = "not set (cannot log in)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, pw)
			}
			return tw.Flush()
		}})
	e.Register(shell.Command{Syntax: "add user <name:user> role <role:role>", Help: "add a local user (set its password next)",
		Write: true, Feature: aaa.FeatureUsers, Complete: map[string]shell.Completer{"role": roles},
		Run: func(c *shell.Ctx, x shell.Args) error {
			name, role := x.String("name"), x.String("role")
			if err := change(func(d *configdb.Doc) error { return d.AddUser(name, role) }); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "user %s added with role %s; it cannot log in until: set user %s password\n", name, role, name)
			return nil
		}})
	e.Register(shell.Command{Syntax: "set user <name:user> password", Help: "set a user's password (asked twice)",
		Write: true, Feature: aaa.FeatureUsers, Complete: map[string]shell.Completer{"name": users},
		Run: func(c *shell.Ctx, x shell.Args) error {
			name := x.String("name")
			if _, ok := a.db.LookupUser(name); !ok {
				return fmt.Errorf("no user %q: expected one of %s", name, strings.Join(users(), ", "))
			}
			hash, err := newPassword(c, "New password: ")
			if err != nil {
				return err
			}
			if err := change(func(d *configdb.Doc) error { return d.SetPassword(name, hash) }); err != nil {
				return err
			}
			a.log.WithField("user", s.user).WithField("target", name).Info("password changed")
			fmt.Fprintf(c.Out, "password of %s changed\n", name)
			return nil
		}})
	e.Register(shell.Command{Syntax: "set user <name:user> role <role:role>", Help: "change a user's role",
		Write: true, Feature: aaa.FeatureUsers, Complete: map[string]shell.Completer{"name": users, "role": roles},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return change(func(d *configdb.Doc) error { return d.SetRole(x.String("name"), x.String("role")) })
		}})
	e.Register(shell.Command{Syntax: "delete user <name:user>", Help: "delete a local user (never the last adminRole user)",
		Write: true, Feature: aaa.FeatureUsers, Complete: map[string]shell.Completer{"name": users},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return change(func(d *configdb.Doc) error { return d.DeleteUser(x.String("name")) })
		}})

	a.registerManagementCommands(e, change, roles)

	e.Register(shell.Command{Syntax: "save config", Help: "persist the running configuration", Write: true, Feature: aaa.FeatureConfig,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			err := a.db.Save()
			a.markDirty()
			if err != nil {
				return err
			}
			a.log.WithField("user", s.user).Info("configuration saved")
			fmt.Fprintln(c.Out, "configuration saved")
			return nil
		}})
	e.Register(shell.Command{Syntax: "show config-state", Help: "saved or unsaved", Feature: aaa.FeatureConfig,
		Run: func(c *shell.Ctx, _ shell.Args) error { fmt.Fprintln(c.Out, a.db.State()); return nil }})
	e.Register(shell.Command{Syntax: "show configuration", Help: "the commands that recreate the running configuration", Feature: aaa.FeatureConfig,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			for _, l := range a.db.ShowConfiguration() {
				fmt.Fprintln(c.Out, l)
			}
			return nil
		}})
	e.Register(shell.Command{Syntax: "lock database override", Help: "take the configuration lock from another session", Feature: aaa.FeatureConfig,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			if !s.role.ReadWrite(aaa.FeatureConfig) {
				return fmt.Errorf("not allowed: role %s is read-only", s.role.Name)
			}
			prev, had := a.lock.Override(s.owner())
			if had {
				a.log.WithField("user", s.user).WithField("previous", prev.String()).Warn("configuration lock overridden")
				fmt.Fprintf(c.Out, "configuration lock taken from %s\n", prev)
			} else {
				fmt.Fprintln(c.Out, "this session holds the configuration lock")
			}
			return nil
		}})

	e.Register(shell.Command{Syntax: "set expert-password", Help: "set the password that expert mode asks for", Write: true, Feature: aaa.FeatureExpert,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			if !s.role.Expert {
				return fmt.Errorf("not allowed: role %s has no expert permission", s.role.Name)
			}
			hash, err := newPassword(c, "New expert password: ")
			if err != nil {
				return err
			}
			if err := change(func(d *configdb.Doc) error { return d.SetExpertPassword(hash) }); err != nil {
				return err
			}
			a.log.WithField("user", s.user).Info("expert password changed")
			fmt.Fprintln(c.Out, "expert password set")
			return nil
		}})
	e.Register(shell.Command{Syntax: "expert", Help: "root shell (asks for the expert password)", Feature: aaa.FeatureExpert,
		Run: func(c *shell.Ctx, _ shell.Args) error { return a.expert(c, s) }})

	a.registerTrustCommands(e, s)
	a.registerProviderCommands(e, s)
	return e
}

// newPassword asks for a new password twice (once with --input-json, whose
// "password" answers both) and returns its hash.
func newPassword(c *shell.Ctx, question string) (string, error) {
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
	return aaa.Hash(pw)
}

// showAuthentication prints the local peer table, straight from the
// session manager (already ordered by ID): no need to build a state file.
func (a *Agent) showAuthentication(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ORCHESTRATOR\tSTATUS\tPORT\tFINGERPRINT\tSINCE\tREASON")
	for _, p := range a.mesh.Statuses() {
		fp := p.Fingerprint
		if fp == "" {
			fp = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Status, p.Port, fp, fmtTime(p.Since), p.Reason)
	}
	tw.Flush()
}
