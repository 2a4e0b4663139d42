package testbed

import (
	"fmt"

	"github.com/orchd/orchd/identity"
)

// Naming scheme. With prefix P (default "orch-") and node S_M:
//
//	P S_M        node namespace                      orch-1_1
//	P sw         switch namespace (sync bridges)     orch-sw
//	P mgmt       management bridge, root namespace   orch-mgmt
//	br-int S     internal sync bridge of site S      br-int1   (inside P sw)
//	br-ext       external sync bridge, all sites     br-ext    (inside P sw)
//	P r S_M      switch end of the veth of role r    orch-i1_1 (r: i internal,
//	             e external, m management); i and e ends live in P sw, m ends
//	             in the root namespace on P mgmt
//	P r S_M n    node end, only while it is created in the root namespace;
//	             it is renamed sync-int, sync-ext or mgmt0 as it moves
//
// The longest name is the node end, len(P)+len(S_M)+2: 12 characters for
// "orch-" and S, M up to two digits, 14 for three. Options.Validate rejects
// a prefix that would exceed the kernel's 15.

const maxLinkName = 15

// Interface names inside a node namespace.
const (
	IfInternal = "sync-int"
	IfExternal = "sync-ext"
	IfMgmt     = "mgmt0"
)

// Roles for Addr and Link.
const (
	RoleMgmt     = "mgmt"
	RoleInternal = "internal"
	RoleExternal = "external"
)

type names struct{ prefix string }

func (n names) nodeNS(id identity.ID) string { return n.prefix + id.String() }
func (n names) switchNS() string             { return n.prefix + "sw" }
func (n names) mgmtBridge() string           { return n.prefix + "mgmt" }

func (n names) vethSwitch(role byte, id identity.ID) string {
	return fmt.Sprintf("%s%c%s", n.prefix, role, id)
}

func (n names) vethNode(role byte, id identity.ID) string { return n.vethSwitch(role, id) + "n" }

func intBridge(site int) string { return fmt.Sprintf("br-int%d", site) }

const extBridge = "br-ext"

// port is one of a node's three veths.
type port struct {
	role   byte   // 'i', 'e', 'm'
	ifname string // name inside the node namespace
}

var ports = []port{{'i', IfInternal}, {'e', IfExternal}, {'m', IfMgmt}}

func roleLetter(role string) (byte, error) {
	switch role {
	case RoleInternal:
		return 'i', nil
	case RoleExternal:
		return 'e', nil
	}
	return 0, fmt.Errorf("invalid link role %q: expected internal or external", role)
}
