package healthcheck

import (
	"fmt"
	"io"
	"strings"
)

// colorOf is the ANSI colour of each status on a terminal.
var colorOf = map[Status]string{Passed: "32", Warning: "33", Failed: "31", Error: "1;31"}

// paint pads s to width and colours it by st when color is set, so that
// columns line up whether or not escape codes are present.
func paint(st Status, s string, width int, color bool) string {
	pad := ""
	if n := width - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	if !color {
		return s + pad
	}
	return "\x1b[" + colorOf[st] + "m" + s + "\x1b[0m" + pad
}

func (s Summary) String() string {
	return fmt.Sprintf("%d passed, %d warning, %d failed, %d error", s.Passed, s.Warning, s.Failed, s.Error)
}

// WriteSummary prints the table hcp -r shows: test, status, short finding.
func WriteSummary(w io.Writer, r *Report, color bool) {
	nameW := len("TEST")
	for _, t := range r.Tests {
		nameW = max(nameW, len(t.Name))
	}
	const statusW = len("WARNING")
	fmt.Fprintf(w, "%-*s  %-*s  %s\n", nameW, "TEST", statusW, "STATUS", "FINDING")
	for _, t := range r.Tests {
		fmt.Fprintf(w, "%-*s  %s  %s\n", nameW, t.Name, paint(t.Status, string(t.Status), statusW, color), headline(t))
	}
	fmt.Fprintf(w, "\nSummary: %s\n", r.Summary)
}

// headline is the worst finding of t in one short line, with how many other
// problems there are.
func headline(t TestReport) string {
	if len(t.Findings) == 0 {
		return "-"
	}
	worst, others := t.Findings[0], 0
	for _, f := range t.Findings[1:] {
		if f.Severity.rank() > worst.Severity.rank() {
			worst = f
		}
	}
	for _, f := range t.Findings {
		if f.Severity != Passed && f != worst {
			others++
		}
	}
	s := worst.Subject + ": " + worst.Text
	if len(s) > 72 {
		s = s[:69] + "..."
	}
	if others > 0 {
		s += fmt.Sprintf(" (+%d more)", others)
	}
	return s
}

// WriteDetailed prints the whole report: every test, every finding with
// its remedy.
func WriteDetailed(w io.Writer, r *Report, color bool) {
	id := r.Orchestrator
	if id == "" {
		id = "(unknown)"
	}
	fmt.Fprintf(w, "HealthCheck Point report: orchestrator %s, generated %s\n", id, stamp(r.GeneratedAt))
	fmt.Fprintf(w, "Summary: %s\n", r.Summary)
	for _, t := range r.Tests {
		fmt.Fprintf(w, "\n%s: %s\n", t.Name, paint(t.Status, string(t.Status), 0, color))
		for _, f := range t.Findings {
			fmt.Fprintf(w, "  %s %s: %s\n", paint(f.Severity, "["+string(f.Severity)+"]", 0, color), f.Subject, f.Text)
			if f.Remedy != "" {
				fmt.Fprintf(w, "      Remedy: %s\n", f.Remedy)
			}
		}
	}
}

// WriteChanges prints what changed since prev (nil: there was no run before).
func WriteChanges(w io.Writer, prev, last *Report) {
	if prev == nil {
		fmt.Fprintln(w, "\nNo previous run to compare with.")
		return
	}
	fmt.Fprintf(w, "\nChanges since the previous run (%s):\n", stamp(prev.GeneratedAt))
	d := Diff(prev, last)
	if len(d) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, l := range d {
		fmt.Fprintf(w, "  %s\n", l)
	}
}
