package agent

import (
	"fmt"
	"text/tabwriter"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/records"
	"github.com/orchd/orchd/shell"
)

// registerMeshCommands adds the membership and revocation-record commands
// (DESIGN §3).
func (a *Agent) registerMeshCommands(e *shell.Engine, s *adminSession) {
	e.Register(shell.Command{Syntax: "show maestro orchestrators", Help: "the mesh membership: every member, its sync addresses, since when", Feature: aaa.FeatureMaestroAuth,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tInternal sync\tExternal sync\tMember since\tAdded by")
			for _, m := range a.members.Members() {
				in, ex := a.syncAddr(a.cfg.Internal, m.ID), a.syncAddr(a.cfg.External, m.ID)
				id := m.ID.String()
				if m.ID == a.cfg.ID {
					id += " (this one)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, in, ex, fmtTime(m.Since), m.By)
			}
			tw.Flush()
			if rs := a.members.Removed(); len(rs) > 0 {
				fmt.Fprintln(c.Out, "Removed:")
				for _, r := range rs {
					fmt.Fprintf(c.Out, "  %s at %s (%s)\n", r.ID, fmtTime(r.At), r.By)
				}
			}
			return nil
		}})
	e.Register(shell.Command{Syntax: "show maestro authentication revocations", Help: "signed revocation records and removal notices this orchestrator holds and relays", Feature: aaa.FeatureMaestroAuth,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			all := a.records.All()
			if len(all) == 0 {
				fmt.Fprintln(c.Out, "no revocation records")
				return nil
			}
			tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "Issued (UTC)\tIssuer\tRecord\tID\tRevoked key")
			for _, r := range all {
				what, key := "revoked", r.Fingerprint
				if r.Kind == records.KindRemove {
					what, key = "removed", "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", fmtTime(r.IssuedAt), r.Issuer, what, r.Subject, key)
			}
			return tw.Flush()
		}})
	e.Register(shell.Command{Syntax: "delete maestro orchestrator <id:id>", Help: "remove a revoked orchestrator from the mesh, here and on every member", Write: true, Feature: aaa.FeatureMaestroAuth,
		Complete: map[string]shell.Completer{"id": func() []string {
			var out []string
			for _, id := range a.members.Peers() {
				out = append(out, id.String())
			}
			return out
		}},
		Run: func(c *shell.Ctx, x shell.Args) error {
			id := x.ID("id")
			n, err := a.removeMember(id, s.user)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "removed %s from the mesh; signed removal notice kept and sent to %d connected orchestrator(s)\n", id, n)
			return nil
		}})
}

func (a *Agent) syncAddr(p config.SyncPort, id identity.ID) string {
	if id == a.cfg.ID {
		if pfx, err := a.cfg.PortAddress(p); err == nil {
			return pfx.String()
		}
	}
	pfx, err := p.AddressFor(id)
	if err != nil {
		return "-"
	}
	return pfx.String()
}
