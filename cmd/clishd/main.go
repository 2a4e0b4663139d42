// Command clishd is the orchd daemon: `clishd init` creates an orchestrator's
// identity and configuration, `clishd run` (the default) serves.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/orchd/orchd/clishdcmd"
)

func main() {
	// Two Ps more than cores: the peers' liveness tick runs on its own
	// prioritised OS thread (peers/tick.go), but Go code needs a P, and
	// with one P per core a busy daemon (a trust storm's handshakes) made
	// it wait for threads the kernel had descheduled — peers then saw a
	// live daemon fall silent. Spare Ps let the kernel's priorities
	// decide; CPU use is unchanged.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(runtime.NumCPU() + 2)
	}
	err := clishdcmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "clishd:", err)
	var ue *clishdcmd.UsageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}
