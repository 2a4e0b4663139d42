// Command clishd is the orchd daemon: `clishd init` creates an orchestrator's
// identity and configuration, `clishd run` (the default) serves.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/orchd/orchd/clishdcmd"
)

func main() {
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
