package testbed

import (
	"context"
	"fmt"
	"sort"
)

// Every object is recorded in the journal before it is created, and an
// object that already exists is refused rather than adopted, so Down never
// deletes what somebody else made.

// addNS creates a network namespace with lo up.
func (tb *Testbed) addNS(ctx context.Context, name string) error {
	if tb.k.nsExists(name) {
		return fmt.Errorf("network namespace %s already exists and this testbed did not create it: remove it or choose another prefix", name)
	}
	tb.namespaces = append(tb.namespaces, name)
	if err := tb.save(); err != nil {
		return err
	}
	if err := tb.k.ip(ctx, "netns", "add", name); err != nil {
		return err
	}
	return tb.k.ip(ctx, "-n", name, "link", "set", "lo", "up")
}

// addRootLinks records root-namespace links about to be created.
func (tb *Testbed) addRootLinks(names ...string) error {
	for _, l := range names {
		if tb.k.linkExists(l) {
			return fmt.Errorf("link %s already exists in the root namespace and this testbed did not create it: remove it or choose another prefix", l)
		}
	}
	tb.links = append(tb.links, names...)
	return tb.save()
}

// buildSwitch creates the switch namespace with one internal bridge per
// site and the external bridge, and the management bridge in the root
// namespace.
func (tb *Testbed) buildSwitch(ctx context.Context) error {
	sw := tb.names.switchNS()
	if err := tb.addNS(ctx, sw); err != nil {
		return err
	}
	// Where br_netfilter is loaded (Docker loads it), every bridged frame
	// would go through iptables, and conntrack, in the switch namespace:
	// a 64-node mesh's liveness datagrams by the thousand a second. The
	// setting is per namespace; without the module the keys do not exist.
	if err := tb.k.ip(ctx, "netns", "exec", sw, "sysctl", "-q", "-e", "-w",
		"net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-ip6tables=0", "net.bridge.bridge-nf-call-arptables=0"); err != nil {
		tb.Opts.Logf("switch namespace: could not turn bridge netfilter off (bridged frames cost more): %v", err)
	}
	bridges := []string{extBridge}
	for s := 1; s <= tb.Opts.Sites; s++ {
		bridges = append(bridges, intBridge(s))
	}
	for _, br := range bridges {
		if err := tb.k.ip(ctx, "-n", sw, "link", "add", br, "type", "bridge"); err != nil {
			return err
		}
		if err := tb.k.ip(ctx, "-n", sw, "link", "set", br, "up"); err != nil {
			return err
		}
	}
	mg := tb.names.mgmtBridge()
	if err := tb.addRootLinks(mg); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"link", "add", mg, "type", "bridge"},
		{"addr", "add", tb.Opts.hostMgmt().String(), "dev", mg},
		{"link", "set", mg, "up"},
	} {
		if err := tb.k.ip(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// buildNode creates n's namespace and its three veths. Each pair is created
// in the root namespace and its ends moved, so that the two ends have
// different ifindexes (same ifindexes delay netlink events, DESIGN §7).
func (tb *Testbed) buildNode(ctx context.Context, n *Node) error {
	if err := tb.addNS(ctx, n.Namespace); err != nil {
		return err
	}
	sw := tb.names.switchNS()
	for _, p := range ports {
		swEnd, nodeEnd := tb.names.vethSwitch(p.role, n.ID), tb.names.vethNode(p.role, n.ID)
		if err := tb.addRootLinks(swEnd, nodeEnd); err != nil {
			return err
		}
		cmds := [][]string{
			{"link", "add", swEnd, "type", "veth", "peer", "name", nodeEnd},
			{"link", "set", nodeEnd, "netns", n.Namespace, "name", p.ifname},
		}
		switch p.role {
		case 'i', 'e':
			br := extBridge
			if p.role == 'i' {
				br = intBridge(n.ID.Site)
			}
			cmds = append(cmds,
				[]string{"link", "set", swEnd, "netns", sw},
				[]string{"-n", sw, "link", "set", swEnd, "master", br, "up"})
		case 'm':
			cmds = append(cmds,
				[]string{"link", "set", swEnd, "master", tb.names.mgmtBridge(), "up"},
				[]string{"-n", n.Namespace, "addr", "add", n.Mgmt.String(), "dev", p.ifname},
				[]string{"-n", n.Namespace, "link", "set", p.ifname, "up"})
		}
		for _, args := range cmds {
			if err := tb.k.ip(ctx, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkMgmtFree refuses a management network that overlaps an address
// already in the root namespace (another testbed, or a real network).
func (tb *Testbed) checkMgmtFree() error {
	addrs, err := tb.k.rootAddrs()
	if err != nil {
		return err
	}
	devs := make([]string, 0, len(addrs))
	for dev := range addrs {
		devs = append(devs, dev)
	}
	sort.Strings(devs)
	for _, dev := range devs {
		for _, a := range addrs[dev] {
			if a.Overlaps(tb.Opts.MgmtNet) {
				return fmt.Errorf("management network %s overlaps %s on %s in the root namespace: is another testbed up? choose another management network", tb.Opts.MgmtNet, a, dev)
			}
		}
	}
	return nil
}
