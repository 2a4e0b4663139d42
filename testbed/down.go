package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Down stops the daemons, deletes the links and namespaces the journal
// records and removes the journal. Node roots (and their logs) are kept.
// Whatever is already gone counts as removed, so Down may be repeated.
func (tb *Testbed) Down() error { return tb.Teardown(false) }

// Teardown is Down; with purge it also deletes the node roots.
func (tb *Testbed) Teardown(purge bool) error {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	ctx := context.Background()
	logf := tb.Opts.Logf
	var errs []error

	// 1. Daemons we recorded, after checking each PID is still ours, and
	// our daemons whose PID a crash kept out of the journal: processes in
	// our namespaces with a node root among their arguments. Other
	// processes in our namespaces are left alone (their namespace
	// disappears from /run/netns but lives on until they exit).
	var vs []victim
	for _, n := range tb.Nodes {
		if n.PID != 0 && isOurs(n.PID, n.startTime, n.Root) {
			vs = append(vs, tb.victim(n))
		}
	}
	for _, ns := range tb.namespaces {
		if !tb.k.nsExists(ns) {
			continue
		}
		pids, err := tb.k.nsPIDs(ns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, pid := range pids {
			if slices.ContainsFunc(vs, func(v victim) bool { return v.pid == pid }) {
				continue
			}
			if n := tb.ownerOf(pid); n != nil {
				_, start, _ := procStat(pid)
				vs = append(vs, victim{pid: pid, start: start, what: fmt.Sprintf("node %s process (pid %d, not in the journal)", n.ID, pid)})
			} else {
				args, _ := procCmdline(pid)
				logf("leaving process %d (%s) in namespace %s: the testbed did not start it", pid, strings.Join(args, " "), ns)
			}
		}
	}
	if len(vs) > 0 {
		logf("stopping %d daemon(s)", len(vs))
		forced, err := terminate(vs, downGrace, false)
		if err != nil {
			errs = append(errs, err)
		}
		for _, f := range forced {
			logf("%s ignored SIGTERM for %v: killed", f, downGrace)
		}
	}
	for _, n := range tb.Nodes {
		if !alive(n.PID, n.startTime) {
			n.PID, n.startTime = 0, 0
		}
	}

	// 2. Root-namespace links first, so the root namespace is clean when
	// Down returns (namespace deletion frees its links asynchronously).
	for i := len(tb.links) - 1; i >= 0; i-- {
		l := tb.links[i]
		if !tb.k.linkExists(l) {
			continue
		}
		if err := tb.k.ip(ctx, "link", "del", l); err != nil && tb.k.linkExists(l) {
			errs = append(errs, err)
		}
	}
	// 3. Namespaces, with everything inside them (bridges, veth ends).
	for i := len(tb.namespaces) - 1; i >= 0; i-- {
		ns := tb.namespaces[i]
		if !tb.k.nsExists(ns) {
			continue
		}
		if err := tb.k.ip(ctx, "netns", "del", ns); err != nil && tb.k.nsExists(ns) {
			errs = append(errs, err)
		}
	}
	if purge {
		if err := os.RemoveAll(NodesDir(tb.Opts.Dir)); err != nil {
			errs = append(errs, fmt.Errorf("removing node roots: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		if serr := tb.save(); serr != nil {
			err = errors.Join(err, serr)
		}
		return err
	}
	if restored, err := releaseNeigh(tb.Opts.Dir); err != nil {
		// Keep the journal: the next Down tries again.
		return fmt.Errorf("restoring the kernel's neighbour table and backlog limits: %w", err)
	} else if restored != "" {
		logf("restored the kernel's neighbour table and backlog limits: %s", restored)
	}
	if err := os.Remove(JournalFile(tb.Opts.Dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing journal: %w", err)
	}
	return nil
}

// ownerOf returns the node whose root pid has among its arguments.
func (tb *Testbed) ownerOf(pid int) *Node {
	args, err := procCmdline(pid)
	if err != nil {
		return nil
	}
	for _, n := range tb.Nodes {
		if slices.Contains(args, n.Root) {
			return n
		}
	}
	return nil
}
