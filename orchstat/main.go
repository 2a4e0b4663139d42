package orchstat

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/orchd/orchd/paths"
	"github.com/orchd/orchd/state"
	"github.com/spf13/pflag"
)

// Exit codes of orch_stat.
const (
	ExitOK    = 0
	ExitStale = 1 // state missing, stale or unreadable: the daemon is not serving
	ExitUsage = 2
)

const usage = `usage: orch_stat [-A] [-v] [--json] [--root DIR]
  -A       list every expected peer
  -v       verbose: fingerprints, certificates, sync ports, mesh matrix
  --json   machine-readable output (keys as in DESIGN §2)
exit status: 0 state is current, 1 state missing or stale (clishd not running), 2 usage`

// Main is orch_stat's entry point; it returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	// Buffered: the tables are written cell by cell (tabwriter), and the
	// 64x64 mesh of -v was ~10,000 write system calls to a terminal or pipe.
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	return run(args, out, stderr)
}

func run(args []string, stdout *bufio.Writer, stderr io.Writer) int {
	fs := pflag.NewFlagSet("orch_stat", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	all := fs.BoolP("all", "A", false, "all peers")
	verbose := fs.BoolP("verbose", "v", false, "verbose")
	asJSON := fs.Bool("json", false, "JSON output")
	root := fs.String("root", "", "root directory (env CLISHD_ROOT)")
	help := fs.BoolP("help", "h", false, "help")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "orch_stat: %v\n%s\n", err, usage)
		return ExitUsage
	}
	if *help {
		fmt.Fprintln(stdout, usage)
		return ExitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "orch_stat: unexpected argument %q\n%s\n", fs.Arg(0), usage)
		return ExitUsage
	}
	now := time.Now()
	f, err := state.Read(paths.FromEnv(*root).StateFile(), now)
	if err != nil {
		if errors.Is(err, state.ErrMissing) {
			fmt.Fprintf(stderr, "orch_stat: no state: %v\n", err)
		} else {
			fmt.Fprintf(stderr, "orch_stat: %v\n", err)
		}
		return ExitStale
	}
	stale := f.Staleness()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(f)
	} else {
		if stale != "" {
			fmt.Fprintf(stdout, "WARNING: STATE IS STALE: %s. What follows is the last known state, not the current one.\n\n", stale)
		}
		Render(stdout, f, Options{All: *all, Verbose: *verbose, Now: now})
	}
	if stale != "" {
		stdout.Flush() // the table first, as written
		fmt.Fprintf(stderr, "orch_stat: state is stale: %s\n", stale)
		return ExitStale
	}
	return ExitOK
}
