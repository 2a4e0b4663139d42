package agent

import (
	"fmt"
	"io"
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
	a.registerLockoutCommands(e, s)
	a.registerMFACommands(e, s)
	e.Register(shell.Command{Syntax: "show maestro authentication", Help: "peers: status, port, fingerprint, since, reason",
		Feature: aaa.FeatureMaestroAuth, Run: func(c *shell.Ctx, _ shell.Args) error { a.showAuthentication(c.Out); return nil }})
	e.Register(shell.Command{Syntax: "show maestro authentication fingerprint", Help: "this orchestrator's ID, fingerprint and certificate expiry",
		Feature: aaa.FeatureMaestroAuth, Run: func(c *shell.Ctx, _ shell.Args) error {
			id := a.identity()
			fmt.Fprintf(c.Out, "Orchestrator ID:  %s\nFingerprint:      %s\nCertificate:      valid until %s\n", a.cfg.ID, id.Fingerprint(), fmtTime(id.Cert.NotAfter))
			return nil
		}})

	a.registerUserCommands(e, s)
	a.registerRBACommands(e, s)
	a.registerPasswordCommands(e, s)

	a.registerManagementCommands(e, a.change, a.roleNames)

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
			if err := a.requireReadWrite(s, aaa.FeatureConfig); err != nil {
				return fmt.Errorf("not allowed: %w", err)
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
			if err := a.askCurrentExpertPassword(c, s); err != nil {
				return err
			}
			hash, err := newPassword(c, "New expert password: ")
			if err != nil {
				return err
			}
			if err := a.change(func(d *configdb.Doc) error { return d.SetExpertPassword(hash) }); err != nil {
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
	a.registerSecurityCommands(e, s)
	return e
}

// newPassword asks for a new password twice (askNewPassword) and returns
// its hash.
func newPassword(c *shell.Ctx, question string) (string, error) {
	pw, err := askNewPassword(c, question)
	if err != nil {
		return "", err
	}
	return aaa.Hash(pw)
}

// showAuthentication prints the local peer table, straight from the
// session manager (already ordered by ID): no need to build a state file.
func (a *Agent) showAuthentication(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// FINGERPRINT holds only verified keys (pinned, or authenticated by
	// a session); what a refused handshake showed is labelled apart.
	fmt.Fprintln(tw, "ORCHESTRATOR\tSTATUS\tPORT\tFINGERPRINT\tPRESENTED (UNVERIFIED)\tSINCE\tREASON")
	for _, p := range a.mesh.Statuses() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Status, p.Port, dashIfEmpty(p.Fingerprint), dashIfEmpty(p.PresentedFingerprint), fmtTime(p.Since), p.Reason)
	}
	tw.Flush()
}
