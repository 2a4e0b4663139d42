// Command clish is the orchestrator's Gaia-style shell client: it talks to
// the local clishd over its control socket.
package main

import (
	"os"

	"github.com/orchd/orchd/clishcmd"
)

func main() { os.Exit(clishcmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
