package agent

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/rba"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/shell"
)

// registerRBACommands: role definitions (DESIGN §8.1), feature rba.
func (a *Agent) registerRBACommands(e *shell.Engine, s *adminSession) {
	featureHelp := "features separated by commas, from " + strings.Join(aaa.Features(), ", ")
	describe := map[string]string{"name": "a new role name: " + "a letter, then letters, digits, _ or -", "rw": featureHelp, "ro": featureHelp}
	add := func(c *shell.Ctx, x shell.Args) error {
		name, rw, ro := x.String("name"), x.String("rw"), x.String("ro")
		r, err := rba.NewRole(name, x.String("domain"), rw, ro)
		if err != nil {
			return err
		}
		if err := a.change(func(d *configdb.Doc) error { return d.AddRole(r) }); err != nil {
			return err
		}
		fmt.Fprintf(c.Out, "role %s added\n", name)
		return nil
	}
	e.Register(shell.Command{Syntax: "add rba role <name:text> domain-type <domain:enum:System> readwrite-features <rw:text> [readonly-features <ro:text>]",
		Help: "define a role: features it may change, and features it may only see", Write: true, Feature: aaa.FeatureRBA,
		Describe: describe, Run: add})
	e.Register(shell.Command{Syntax: "add rba role <name:text> domain-type <domain:enum:System> readonly-features <ro:text>",
		Help: "define a role that may only see its features", Write: true, Feature: aaa.FeatureRBA,
		Describe: map[string]string{"name": describe["name"], "ro": featureHelp}, Run: add})
	custom := func() []string {
		var out []string
		for _, r := range a.db.Running().Roles {
			out = append(out, r.Name)
		}
		return out
	}
	e.Register(shell.Command{Syntax: "delete rba role <name:text>", Help: "delete a custom role (refused while a user holds it)",
		Write: true, Feature: aaa.FeatureRBA, Complete: map[string]shell.Completer{"name": custom},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return a.change(func(d *configdb.Doc) error { return d.DeleteRole(x.String("name")) })
		}})
	e.Register(shell.Command{Syntax: "show rba roles", Help: "every role: its features and who holds it", Feature: aaa.FeatureRBA,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			d := a.db.Running()
			tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ROLE\tTYPE\tREAD-WRITE\tREAD-ONLY\tUSERS")
			for _, name := range d.RoleNames() {
				r, _ := d.LookupRole(name)
				kind := "custom"
				if aaa.IsBuiltinRole(name) {
					kind = "built-in"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, kind, list(r.ReadWriteFeatures), list(r.ReadOnlyFeatures), list(d.Holders(name)))
			}
			return tw.Flush()
		}})
	e.Register(shell.Command{Syntax: "show rba role <name:text>", Help: "one role: its features and who holds it", Feature: aaa.FeatureRBA,
		Complete: map[string]shell.Completer{"name": a.roleNames},
		Run: func(c *shell.Ctx, x shell.Args) error {
			d := a.db.Running()
			r, ok := d.LookupRole(x.String("name"))
			if !ok {
				return fmt.Errorf("no role %q: expected one of %s", x.String("name"), strings.Join(d.RoleNames(), ", "))
			}
			fmt.Fprint(c.Out, rba.Describe(r))
			fmt.Fprintf(c.Out, "Users:               %s\n", list(d.Holders(r.Name)))
			return nil
		}})
	// Which feature each command needs: what an administrator defining a
	// role wants to know, and how the tests walk the whole tree.
	e.Register(shell.Command{Syntax: "show rba commands", Help: "every command with the feature it needs, read-write or read-only", Feature: aaa.FeatureRBA,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "FEATURE\tNEEDS\tCOMMAND")
			for _, cmd := range e.Commands() {
				f, needs := cmd.Feature, "read-only"
				switch {
				case f == "":
					f, needs = "-", "-"
				case cmd.Write:
					needs = "read-write"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", f, needs, cmd.Syntax)
			}
			return tw.Flush()
		}})
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}
