// Command hcp runs the HealthCheck Point tests over the shared state file
// (hcp -l, hcp -r "NAME"|all, hcp --show-last), so it works even when clishd
// is stuck.
package main

import (
	"os"

	"github.com/orchd/orchd/healthcheck/hcp"
)

func main() {
	os.Exit(hcp.Main(os.Args[1:], os.Stdout, os.Stderr))
}
