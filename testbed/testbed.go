// Package testbed owns the test topology of orchestrators on one Linux host:
// a network namespace per node (<Prefix>S_M), per-site internal and shared
// external sync bridges inside a switch namespace (<Prefix>sw), a
// management bridge in the root namespace so the host reaches every node,
// one clishd per node with its own root directory, and the journal
// (Dir/testbed.json) that lets Down remove exactly what Up created, even
// after a crash. It is used by cmd/testbed and by integration tests.
//
// The testbed creates the sync interfaces (sync-int, sync-ext) but leaves
// them down and unaddressed: bringing them up and addressing them is the
// daemon's job. Only the management interface (mgmt0) is configured here.
package testbed

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/identity"
)

// Node is one orchestrator of the testbed.
type Node struct {
	ID        identity.ID
	Namespace string
	// Root is the node's --root directory: Dir/nodes/S_M.
	Root string
	// Mgmt is mgmt0's address; Internal and External are the sync addresses
	// the daemon is expected to assign (from the node's config file when it
	// parses, else clishd's default networks).
	Mgmt, Internal, External netip.Prefix
	// PID is the daemon's process ID, 0 when the testbed did not start it
	// or saw it exit.
	PID       int
	startTime uint64
}

// Testbed is a topology that is up (or partly up, after a failure).
type Testbed struct {
	Opts  Options
	Nodes []*Node

	mu         sync.Mutex
	k          kernel
	names      names
	namespaces []string // created namespaces, in order
	links      []string // created root-namespace links, in order
}

func newTestbed(o Options, k kernel) *Testbed {
	return &Testbed{Opts: o, k: k, names: names{o.Prefix}}
}

// ErrAlreadyUp is returned by Up when a journal exists.
var ErrAlreadyUp = errors.New("testbed already up")

// Up builds the topology, initialises and starts every node and waits
// (up to 10 s) until each has written its state file. On failure it tears
// down what it created and returns the error.
func Up(ctx context.Context, o Options) (*Testbed, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(JournalFile(o.Dir)); err == nil {
		return nil, fmt.Errorf("%w (journal %s): run testbed down first", ErrAlreadyUp, JournalFile(o.Dir))
	}
	tb := newTestbed(o, ipKernel{})
	if err := tb.up(ctx); err != nil {
		if len(tb.namespaces)+len(tb.links) > 0 {
			o.Logf("testbed up failed, tearing down: %v", err)
		}
		if derr := tb.Down(); derr != nil {
			return nil, errors.Join(err, fmt.Errorf("tearing down after the failure: %w", derr))
		}
		return nil, err
	}
	return tb, nil
}

func (tb *Testbed) up(ctx context.Context) error {
	o := tb.Opts
	if os.Geteuid() != 0 {
		return errors.New("testbed needs root: it creates network namespaces")
	}
	clishd := filepath.Join(o.BinDir, "clishd")
	if fi, err := os.Stat(clishd); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("no executable clishd in %s: build it (make build) or name its directory (BinDir, testbed up --bin-dir)", o.BinDir)
	}
	if err := tb.checkMgmtFree(); err != nil {
		return err
	}
	if err := os.RemoveAll(NodesDir(o.Dir)); err != nil {
		return fmt.Errorf("wiping old node roots: %w", err)
	}
	if err := os.MkdirAll(NodesDir(o.Dir), 0o755); err != nil {
		return fmt.Errorf("creating node roots: %w", err)
	}
	if err := tb.plan(); err != nil {
		return err
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if err := tb.save(); err != nil {
		return err
	}
	// After the journal exists: Down (even after a crash) releases it.
	if changed, err := raiseNeigh(o.Dir, len(tb.Nodes)); err != nil {
		return fmt.Errorf("raising the kernel's neighbour table and backlog limits for %d nodes: %w", len(tb.Nodes), err)
	} else if changed != "" {
		o.Logf("raised the kernel's neighbour table and backlog limits for %d nodes (restored at testbed down): %s", len(tb.Nodes), changed)
	}
	if err := tb.buildSwitch(ctx); err != nil {
		return err
	}
	for _, n := range tb.Nodes {
		o.Logf("node %s: creating namespace %s", n.ID, n.Namespace)
		if err := tb.buildNode(ctx, n); err != nil {
			return fmt.Errorf("node %s: %w", n.ID, err)
		}
		if err := tb.initNode(ctx, n, false); err != nil {
			return fmt.Errorf("node %s: %w", n.ID, err)
		}
		if err := tb.startDaemon(n); err != nil {
			return fmt.Errorf("node %s: %w", n.ID, err)
		}
	}
	return tb.waitReady(ctx, tb.Nodes, nil)
}

// plan fills tb.Nodes with the nodes' names and addresses.
func (tb *Testbed) plan() error {
	o := tb.Opts
	tb.Nodes = nil
	for _, id := range o.ids() {
		n := &Node{ID: id, Namespace: tb.names.nodeNS(id), Root: filepath.Join(NodesDir(o.Dir), id.String())}
		var err error
		if n.Mgmt, err = config.DeriveAddress(o.MgmtNet, id); err != nil {
			return err
		}
		if n.Internal, err = config.DeriveAddress(InternalNet, id); err != nil {
			return err
		}
		if n.External, err = config.DeriveAddress(ExternalNet, id); err != nil {
			return err
		}
		tb.Nodes = append(tb.Nodes, n)
	}
	return nil
}

// Open returns the testbed recorded in dir's journal ("" means the default
// directory). A testbed that is not up gives an error wrapping
// os.ErrNotExist.
func Open(dir string) (*Testbed, error) {
	o, err := Options{Dir: dir, BinDir: "/"}.withDefaults()
	if err != nil {
		return nil, err
	}
	tb, err := readJournal(o.Dir)
	if err != nil {
		return nil, err
	}
	tb.Opts.Logf = o.Logf
	tb.k = ipKernel{}
	tb.names = names{tb.Opts.Prefix}
	return tb, nil
}

// SetLogf sets where an opened testbed logs.
func (tb *Testbed) SetLogf(logf func(string, ...any)) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if logf == nil {
		logf = func(string, ...any) {}
	}
	tb.Opts.Logf = logf
}

// Node returns the node with ID id ("1_2").
func (tb *Testbed) Node(id string) (*Node, error) {
	for _, n := range tb.Nodes {
		if n.ID.String() == id {
			return n, nil
		}
	}
	var valid []string
	for _, n := range tb.Nodes {
		valid = append(valid, n.ID.String())
	}
	return nil, fmt.Errorf("unknown node %q: expected one of %s", id, strings.Join(valid, ", "))
}

// Command returns a command that runs argv inside node id's namespace with
// the binary directory first on PATH and CLISHD_ROOT set to the node's root.
func (tb *Testbed) Command(id string, argv ...string) (*exec.Cmd, error) {
	n, err := tb.Node(id)
	if err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, errors.New("no command given")
	}
	args := append([]string{"netns", "exec", n.Namespace, "env",
		"PATH=" + tb.Opts.BinDir + ":" + os.Getenv("PATH"), "CLISHD_ROOT=" + n.Root}, argv...)
	return exec.Command("ip", args...), nil
}

// Addr returns node id's address on which: mgmt, internal or external.
func (tb *Testbed) Addr(id, which string) (netip.Prefix, error) {
	n, err := tb.Node(id)
	if err != nil {
		return netip.Prefix{}, err
	}
	switch which {
	case RoleMgmt:
		return n.Mgmt, nil
	case RoleInternal:
		return n.Internal, nil
	case RoleExternal:
		return n.External, nil
	}
	return netip.Prefix{}, fmt.Errorf("invalid address kind %q: expected mgmt, internal or external", which)
}

// Link sets the switch end of node id's internal or external sync veth
// down or up, like pulling or plugging the cable: the node side then shows
// NO-CARRIER, and nothing inside the node can undo it.
func (tb *Testbed) Link(id, role string, up bool) error {
	n, err := tb.Node(id)
	if err != nil {
		return err
	}
	r, err := roleLetter(role)
	if err != nil {
		return err
	}
	state := "down"
	if up {
		state = "up"
	}
	if err := tb.k.ip(context.Background(), "-n", tb.names.switchNS(), "link", "set", tb.names.vethSwitch(r, n.ID), state); err != nil {
		return fmt.Errorf("node %s: setting %s link %s: %w", id, role, state, err)
	}
	return nil
}

// WaitFor polls cond every 20 ms until it returns true (nil), returns an
// error (that error), timeout passes or ctx ends.
func WaitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %v", timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting: %w", ctx.Err())
		case <-t.C:
		}
	}
}
