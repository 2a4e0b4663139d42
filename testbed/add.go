package testbed

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/identity"
)

// AddNode adds orchestrator id to a running testbed, as an installer would
// add an appliance to a running environment: its namespace and cables (and
// its site's internal bridge when the site is new), `clishd init` with only
// its own ID in topology.orchestrators (it learns the mesh when a member
// trusts it, DESIGN §3), and its daemon, waiting (10 s) for its state file.
// adminPassword, if not empty, creates user admin as Up does.
func (tb *Testbed) AddNode(ctx context.Context, id identity.ID, adminPassword string) (*Node, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("testbed needs root: it creates network namespaces")
	}
	tb.mu.Lock()
	for _, n := range tb.Nodes {
		if n.ID == id {
			tb.mu.Unlock()
			return nil, fmt.Errorf("node %s is already in the testbed", id)
		}
	}
	n := &Node{ID: id, Namespace: tb.names.nodeNS(id), Root: filepath.Join(NodesDir(tb.Opts.Dir), id.String())}
	var err error
	for _, a := range []struct {
		dst *netip.Prefix
		net netip.Prefix
	}{{&n.Mgmt, tb.Opts.MgmtNet}, {&n.Internal, InternalNet}, {&n.External, ExternalNet}} {
		if *a.dst, err = config.DeriveAddress(a.net, id); err != nil {
			tb.mu.Unlock()
			return nil, fmt.Errorf("node %s: %w", id, err)
		}
	}
	for _, l := range []string{tb.names.vethNode('i', id), n.Namespace} {
		if len(l) > maxLinkName {
			tb.mu.Unlock()
			return nil, fmt.Errorf("node %s: name %q longer than the kernel's %d characters", id, l, maxLinkName)
		}
	}
	newSite := true
	for _, m := range tb.Nodes {
		if m.ID.Site == id.Site {
			newSite = false
		}
	}
	if err := os.RemoveAll(n.Root); err != nil {
		tb.mu.Unlock()
		return nil, fmt.Errorf("node %s: wiping its root: %w", id, err)
	}
	tb.Nodes = append(tb.Nodes, n)
	err = tb.addNode(ctx, n, newSite, adminPassword)
	tb.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", id, err)
	}
	if err := tb.waitReady(ctx, []*Node{n}, nil); err != nil {
		return nil, err
	}
	return n, nil
}

// addNode does AddNode's work; callers hold tb.mu. What it created is in
// the journal, so Down removes it even if a later step fails.
func (tb *Testbed) addNode(ctx context.Context, n *Node, newSite bool, adminPassword string) error {
	if err := tb.save(); err != nil {
		return err
	}
	if newSite {
		br := intBridge(n.ID.Site)
		if err := tb.k.ip(ctx, "-n", tb.names.switchNS(), "link", "add", br, "type", "bridge"); err != nil {
			return err
		}
		if err := tb.k.ip(ctx, "-n", tb.names.switchNS(), "link", "set", br, "up"); err != nil {
			return err
		}
	}
	tb.Opts.Logf("node %s: creating namespace %s", n.ID, n.Namespace)
	if err := tb.buildNode(ctx, n); err != nil {
		return err
	}
	saved := tb.Opts.AdminPassword
	tb.Opts.AdminPassword = adminPassword
	err := tb.initNode(ctx, n, true)
	tb.Opts.AdminPassword = saved
	if err != nil {
		return err
	}
	return tb.startDaemon(n)
}
