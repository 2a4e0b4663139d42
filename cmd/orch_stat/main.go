// Command orch_stat prints this orchestrator's authentication state from the
// shared state file, so it works even when clishd is stuck.
package main

import (
	"os"

	"github.com/orchd/orchd/orchstat"
)

func main() {
	os.Exit(orchstat.Main(os.Args[1:], os.Stdout, os.Stderr))
}
