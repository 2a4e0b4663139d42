// Command statefloor is the floor that orch_stat is compared with: a
// trivial static Go binary that reads the same state file, decodes it and
// prints a small peer table. It does nothing orch_stat does not have to do,
// so orch_stat's wall time minus this one's is orch_stat's own cost.
//
// Usage: statefloor [--root DIR] (default $CLISHD_ROOT).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

type peer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Port   string `json:"port"`
	Reason string `json:"reason"`
}

type file struct {
	Orchestrator struct {
		ID          string `json:"id"`
		Fingerprint string `json:"fingerprint"`
	} `json:"orchestrator"`
	Peers []peer                       `json:"peers"`
	Mesh  map[string]map[string]string `json:"mesh"`
}

func main() {
	root := os.Getenv("CLISHD_ROOT")
	if len(os.Args) == 3 && os.Args[1] == "--root" {
		root = os.Args[2]
	}
	b, err := os.ReadFile(filepath.Join(root, "run", "clishd", "state.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "Orchestrator %s %s\n", f.Orchestrator.ID, f.Orchestrator.Fingerprint)
	for _, p := range f.Peers {
		fmt.Fprintf(w, "  %-5s %-14s %-9s %s\n", p.ID, p.Status, p.Port, p.Reason)
	}
	w.Flush()
}
