// Package orchstat renders the shared state file for admins (orch_stat): a
// summary, the peer table (-A), and the verbose view (-v) with fingerprints,
// certificates, sync ports and the mesh matrix. It reads only the state file.
package orchstat

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/state"
)

// Options select what Render prints.
type Options struct {
	All     bool // -A: every peer
	Verbose bool // -v: fingerprints, certificates, sync ports, mesh matrix
	Now     time.Time
}

// Render writes the human view of f.
func Render(w io.Writer, f *state.File, o Options) {
	me := f.Orchestrator
	fmt.Fprintf(w, "Orchestrator %s (site %d, member %d)\n", me.ID, me.Site, me.Member)
	if o.Verbose {
		fmt.Fprintf(w, "  Fingerprint:  %s\n", me.Fingerprint)
		fmt.Fprintf(w, "  Certificate:  valid until %s (%s)\n", stamp(me.CertNotAfter), until(me.CertNotAfter, o.Now))
		if me.CertRenewalError != "" {
			fmt.Fprintf(w, "  Renewal:      FAILED: %s\n", me.CertRenewalError)
		}
		fmt.Fprintf(w, "  Daemon:       pid %d, up since %s, state %.1fs old\n", f.Daemon.PID, stamp(f.Daemon.StartedAt), f.StateAgeSeconds)
	}
	if o.Verbose {
		fmt.Fprintln(w, "\nSync ports:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ROLE\tINTERFACE\tSTATE\tADDRESSES\tSINCE")
		for _, p := range f.SyncPorts {
			addrs := strings.Join(p.Addresses, ",")
			if addrs == "" {
				addrs = "-"
			}
			st := p.State
			if p.Error != "" {
				st += " (" + p.Error + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.Role, p.Interface, st, addrs, stamp(p.Since))
		}
		tw.Flush()
	}
	counts := map[string]int{}
	for _, p := range f.Peers {
		counts[p.Status]++
	}
	fmt.Fprintf(w, "\nPeers: %d expected: %d %s, %d %s, %d %s, %d %s\n", len(f.Peers),
		counts[state.Authenticated], state.Authenticated, counts[state.Unknown], state.Unknown,
		counts[state.Unreachable], state.Unreachable, counts[state.Untrusted], state.Untrusted)
	if o.All || o.Verbose {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if o.Verbose {
			fmt.Fprintln(tw, "  ID\tSTATUS\tPORT\tADDRESS\tFINGERPRINT\tPRESENTED (UNVERIFIED)\tCERT EXPIRES\tSINCE\tREASON")
		} else {
			fmt.Fprintln(tw, "  ID\tSTATUS\tPORT\tSINCE\tREASON")
		}
		for _, p := range f.Peers {
			if o.Verbose {
				fp := p.Fingerprint
				if fp == "" {
					fp = "-"
				}
				exp := "-"
				if p.CertNotAfter != nil {
					exp = stamp(*p.CertNotAfter)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Status, p.Port, dash(p.Address), fp, dash(p.PresentedFingerprint), exp, stamp(p.Since), p.Reason)
			} else {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.ID, p.Status, p.Port, stamp(p.Since), p.Reason)
			}
		}
		tw.Flush()
	}
	if o.Verbose {
		renderMesh(w, f)
	}
}

// renderMesh prints who sees whom: one row per observer (us from our own
// table, each peer from the view it last reported), one column per target.
func renderMesh(w io.Writer, f *state.File) {
	ids := []string{f.Orchestrator.ID}
	for _, p := range f.Peers {
		ids = append(ids, p.ID)
	}
	sortIDs(ids)
	mine := map[string]string{}
	for _, p := range f.Peers {
		mine[p.ID] = p.Status
	}
	fmt.Fprintln(w, "\nMesh (row = view of, column = orchestrator seen; ? = not reported):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  VIEW OF")
	for _, id := range ids {
		fmt.Fprintf(tw, "\t%s", id)
	}
	fmt.Fprintln(tw)
	for _, row := range ids {
		view := f.Mesh[row]
		if row == f.Orchestrator.ID {
			view = mine
		}
		fmt.Fprintf(tw, "  %s", row)
		for _, col := range ids {
			cell := "?"
			switch {
			case row == col:
				cell = "-"
			case view != nil && view[col] != "":
				cell = view[col]
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

func sortIDs(ids []string) {
	sort.Slice(ids, func(i, j int) bool {
		a, ea := identity.ParseID(ids[i])
		b, eb := identity.ParseID(ids[j])
		if ea != nil || eb != nil {
			return ids[i] < ids[j]
		}
		return identity.Less(a, b)
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func until(t, now time.Time) string {
	d := t.Sub(now)
	if d < 0 {
		return "EXPIRED " + human(-d) + " ago"
	}
	return "in " + human(d)
}

func human(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%.0f h", d.Hours())
	case d >= time.Minute:
		return fmt.Sprintf("%.0f min", d.Minutes())
	}
	return fmt.Sprintf("%.0f s", d.Seconds())
}
