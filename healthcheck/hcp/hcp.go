// Package hcp is the hcp command (HealthCheck Point): it lists and runs the
// healthcheck tests, prints a summary table or JSON, saves every run's
// report under var/log/hcp/ and shows the last one with what changed.
package hcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/orchd/orchd/healthcheck"
	"github.com/orchd/orchd/paths"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Exit codes of hcp.
const (
	ExitOK     = 0
	ExitFailed = 1 // a test FAILED or could not run (ERROR), or there is no report to show
	ExitUsage  = 2
)

const usage = `usage: hcp -l | -r "NAME"|all | --show-last   [--json] [--root DIR]
  -l, --list        list the tests with their descriptions
  -r, --run NAME    run one test by its name (quote it), or all of them
      --show-last   print the detailed last report and what changed since the run before
      --json        print the report (or with -l the test list) as JSON
      --root DIR    orchestrator root directory (env CLISHD_ROOT, default /)
Reports are kept in ROOT/var/log/hcp/last/ (report.txt, report.json); the run before in previous/.
examples:
  hcp -r "Maestro Orchestrator Authentication"
  hcp --show-last
exit status: 0 no test FAILED or ERROR, 1 a test FAILED or ERROR (or no report to show), 2 usage`

// Main is hcp's entry point; it returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("hcp", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	list := fs.BoolP("list", "l", false, "list tests")
	run := fs.StringP("run", "r", "", "run a test or all")
	showLast := fs.Bool("show-last", false, "show the last report")
	asJSON := fs.Bool("json", false, "JSON output")
	root := fs.String("root", "", "root directory (env CLISHD_ROOT)")
	help := fs.BoolP("help", "h", false, "help")
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hcp: "+format+"\n%s\n", append(a, usage)...)
		return ExitUsage
	}
	if err := fs.Parse(args); err != nil {
		return bad("%v", err)
	}
	if *help {
		fmt.Fprintln(stdout, usage)
		return ExitOK
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q (quote a test name with spaces)", fs.Arg(0))
	}
	modes := 0
	for _, on := range []bool{*list, fs.Changed("run"), *showLast} {
		if on {
			modes++
		}
	}
	if modes != 1 {
		return bad("give exactly one of -l, -r NAME, --show-last")
	}
	color := isTerminal(stdout)
	store := healthcheck.NewStore(paths.FromEnv(*root))
	switch {
	case *list:
		return listTests(stdout, *asJSON)
	case *showLast:
		return showLastReport(stdout, stderr, store, *asJSON, color)
	}
	tests, err := healthcheck.Select(*run)
	var unknown *healthcheck.UnknownTestError
	if errors.As(err, &unknown) {
		fmt.Fprintf(stderr, "hcp: unknown test %q; valid names (hcp -l describes them):\n", unknown.Name)
		for _, n := range unknown.Valid {
			fmt.Fprintf(stderr, "  %q\n", n)
		}
		fmt.Fprintf(stderr, "  %s\n", healthcheck.All)
		return ExitUsage
	}
	rep := healthcheck.Run(healthcheck.NewEnv(paths.FromEnv(*root), time.Now()), tests)
	saveErr := store.Save(rep)
	if *asJSON {
		stdout.Write(rep.MarshalIndented())
	} else {
		healthcheck.WriteSummary(stdout, rep, color)
		if saveErr == nil {
			fmt.Fprintf(stdout, "Detailed report: hcp --show-last (saved in %s)\n", store.LastDir())
		}
	}
	if saveErr != nil {
		fmt.Fprintf(stderr, "hcp: warning: the report was not saved: %v\n", saveErr)
	}
	return exitFor(rep)
}

func exitFor(r *healthcheck.Report) int {
	if r.OK() {
		return ExitOK
	}
	return ExitFailed
}

func listTests(w io.Writer, asJSON bool) int {
	tests := healthcheck.Tests()
	if asJSON {
		type entry struct {
			Name        string `json:"name"`
			Description string `json:"description"`
		}
		var out []entry
		for _, t := range tests {
			out = append(out, entry{t.Name, t.Description})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return ExitOK
	}
	for _, t := range tests {
		fmt.Fprintf(w, "%s\n    %s\n", t.Name, t.Description)
	}
	fmt.Fprintf(w, "\nRun one with: hcp -r \"NAME\"; all of them with: hcp -r %s\n", healthcheck.All)
	return ExitOK
}

func showLastReport(stdout, stderr io.Writer, store healthcheck.Store, asJSON, color bool) int {
	last, err := store.Last()
	if errors.Is(err, healthcheck.ErrNoReport) {
		fmt.Fprintf(stderr, "hcp: no report yet in %s: run hcp -r all first\n", store.LastDir())
		return ExitFailed
	}
	if err != nil {
		fmt.Fprintf(stderr, "hcp: %v\n", err)
		return ExitFailed
	}
	if asJSON {
		stdout.Write(last.MarshalIndented())
		return exitFor(last)
	}
	prev, err := store.Previous()
	if err != nil && !errors.Is(err, healthcheck.ErrNoReport) {
		fmt.Fprintf(stderr, "hcp: warning: %v\n", err)
	}
	healthcheck.WriteDetailed(stdout, last, color)
	healthcheck.WriteChanges(stdout, prev, last)
	return exitFor(last)
}

// isTerminal reports whether w is a terminal that should get colour.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}
