// Command testbed builds a topology of orchestrators as network namespaces
// on this host and operates it: up, down, exec, addr, link, stop, start,
// kill, status. The work is done by package testbed.
package main

import "os"

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		os.Exit(report(err, os.Stderr))
	}
}
