package syncport

import (
	"context"
	"errors"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// ErrLinkNotFound is returned by Kernel.LinkByName when no interface has the name.
var ErrLinkNotFound = errors.New("link not found")

// Link is what the manager needs to know of one interface.
type Link struct {
	Index int
	Name  string
	// AdminUp is IFF_UP: someone asked for the link to be up.
	AdminUp bool
	// LowerUp is IFF_LOWER_UP: the driver reports a carrier.
	LowerUp bool
	// Oper is the RFC 2863 operational state (IFLA_OPERSTATE).
	Oper netlink.LinkOperState
}

// Carrier reports whether the link can pass traffic. Drivers that do not
// track an operational state leave it unknown, so then IFF_LOWER_UP decides.
func (l Link) Carrier() bool {
	if l.Oper == netlink.OperUnknown {
		return l.LowerUp
	}
	return l.Oper == netlink.OperUp
}

// EventKind says what changed in the kernel.
type EventKind uint8

// Event kinds.
const (
	// LinkChanged is an RTM_NEWLINK: a link appeared, was renamed or changed flags.
	LinkChanged EventKind = iota + 1
	// LinkRemoved is an RTM_DELLINK: deleted or moved to another namespace.
	LinkRemoved
	// AddrAdded and AddrRemoved are IPv4 RTM_NEWADDR and RTM_DELADDR.
	AddrAdded
	AddrRemoved
	// Resync means events may have been lost: everything must be re-read.
	Resync
)

func (k EventKind) String() string {
	switch k {
	case LinkChanged:
		return "link-changed"
	case LinkRemoved:
		return "link-removed"
	case AddrAdded:
		return "addr-added"
	case AddrRemoved:
		return "addr-removed"
	case Resync:
		return "resync"
	}
	return "unknown"
}

// Event is one kernel notification, reduced to what picks the ports to re-read.
type Event struct {
	Kind  EventKind
	Index int
	// Name is set for link events only.
	Name string
	// Addr is set for address events only.
	Addr netip.Prefix
	// Err says why a Resync was needed, when known.
	Err error
}

// Kernel is the subset of netlink the manager uses, so tests can fake it.
type Kernel interface {
	// LinkByName returns ErrLinkNotFound (wrapped or not) when there is no such link.
	LinkByName(name string) (Link, error)
	// Addrs lists the IPv4 addresses of the link with this index.
	Addrs(index int) ([]netip.Prefix, error)
	// AddAddr adds p to l; an address that already exists is not an error.
	AddAddr(l Link, p netip.Prefix) error
	// SetUp sets IFF_UP on l.
	SetUp(l Link) error
	// Subscribe delivers link and IPv4 address events until ctx is done. The
	// channel is closed when ctx is done or the subscription breaks; the
	// caller then subscribes again and re-reads everything it cares about.
	Subscribe(ctx context.Context) (<-chan Event, error)
	// Close releases the kernel's sockets; the Manager never calls it.
	Close() error
}
