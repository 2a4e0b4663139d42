package syncport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netlinkKernel is the production Kernel. It never switches namespaces
// itself: the netlink handle and the subscription sockets are opened in the
// target namespace once and used from any thread afterwards.
type netlinkKernel struct {
	h *netlink.Handle
	// ns is nil for the current namespace, else our own duplicate of the
	// caller's handle so the caller may close theirs.
	ns *netns.NsHandle
}

// NewNetlinkKernel returns a Kernel for the current network namespace.
func NewNetlinkKernel() (Kernel, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("opening netlink socket: %w", err)
	}
	return &netlinkKernel{h: h}, nil
}

// NewNetlinkKernelAt returns a Kernel for the network namespace ns, which
// stays open under the caller's control.
func NewNetlinkKernelAt(ns netns.NsHandle) (Kernel, error) {
	if !ns.IsOpen() {
		return nil, errors.New("opening netlink socket in namespace: handle is not open")
	}
	fd, err := unix.FcntlInt(uintptr(ns), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("duplicating namespace handle %s: %w", ns, err)
	}
	own := netns.NsHandle(fd)
	h, err := netlink.NewHandleAt(own)
	if err != nil {
		own.Close()
		return nil, fmt.Errorf("opening netlink socket in namespace %s: %w", ns, err)
	}
	return &netlinkKernel{h: h, ns: &own}, nil
}

func (k *netlinkKernel) Close() error {
	k.h.Close()
	if k.ns != nil {
		return k.ns.Close()
	}
	return nil
}

// dumpAttempts bounds retries of a dump the kernel marked inconsistent
// (NLM_F_DUMP_INTR, a change raced the dump); like containernetworking's
// netlinksafe, a few attempts always suffice in practice.
const dumpAttempts = 5

// retryInterrupted runs f again while it reports netlink.ErrDumpInterrupted,
// whose partial results must not be trusted.
func retryInterrupted[T any](f func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpAttempts {
		v, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, fmt.Errorf("dump still inconsistent after %d attempts: %w", dumpAttempts, err)
}

func (k *netlinkKernel) LinkByName(name string) (Link, error) {
	// LinkByName only dumps on old kernels without IFLA_IFNAME lookup.
	l, err := retryInterrupted(func() (netlink.Link, error) { return k.h.LinkByName(name) })
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
		return Link{}, ErrLinkNotFound
	}
	if err != nil {
		return Link{}, err
	}
	return linkFrom(l.Attrs()), nil
}

func linkFrom(a *netlink.LinkAttrs) Link {
	return Link{
		Index:   a.Index,
		Name:    a.Name,
		AdminUp: a.RawFlags&unix.IFF_UP != 0,
		LowerUp: a.RawFlags&unix.IFF_LOWER_UP != 0,
		Oper:    a.OperState,
	}
}

// device names a link by index for calls that need a netlink.Link.
func device(index int, name string) netlink.Link {
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: index, Name: name}}
}

func (k *netlinkKernel) Addrs(index int) ([]netip.Prefix, error) {
	as, err := retryInterrupted(func() ([]netlink.Addr, error) {
		return k.h.AddrList(device(index, ""), netlink.FAMILY_V4)
	})
	if err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, 0, len(as))
	for _, a := range as {
		if a.IPNet == nil {
			continue
		}
		if p, ok := prefixFrom(*a.IPNet); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// prefixFrom converts an IPv4 net.IPNet; anything else (IPv6, malformed
// masks) is reported as not ok.
func prefixFrom(n net.IPNet) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	if !ip.Is4() {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	switch bits {
	case 32:
	case 128:
		// A 16-byte mask on an IPv4 address covers the v4-mapped prefix too.
		if ones < 96 {
			return netip.Prefix{}, false
		}
		ones -= 96
	default:
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(ip, ones), true
}

func (k *netlinkKernel) AddAddr(l Link, p netip.Prefix) error {
	if !p.Addr().Is4() {
		return fmt.Errorf("%s is not an IPv4 prefix", p)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	err := k.h.AddrAdd(device(l.Index, l.Name), a)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

func (k *netlinkKernel) SetUp(l Link) error {
	return k.h.LinkSetUp(device(l.Index, l.Name))
}

// subscriptionBuffer absorbs bursts (a link flap is a handful of messages)
// without making the kernel drop messages on our sockets.
const subscriptionBuffer = 256

func (k *netlinkKernel) Subscribe(ctx context.Context) (<-chan Event, error) {
	done := make(chan struct{})
	var stopped atomic.Bool
	var once sync.Once
	// stop closes both sockets; their reader goroutines then report a
	// receive error (ignored: we caused it) and close their channels.
	stop := func() {
		once.Do(func() {
			stopped.Store(true)
			close(done)
		})
	}
	resync := make(chan error, 1)
	onErr := func(err error) {
		if stopped.Load() {
			return
		}
		// A lost or undecodable message means our view may be stale; one
		// pending resync covers any number of them.
		select {
		case resync <- err:
		default:
		}
	}
	linkCh := make(chan netlink.LinkUpdate, subscriptionBuffer)
	addrCh := make(chan netlink.AddrUpdate, subscriptionBuffer)
	if err := netlink.LinkSubscribeWithOptions(linkCh, done, netlink.LinkSubscribeOptions{Namespace: k.ns, ErrorCallback: onErr}); err != nil {
		stop()
		return nil, fmt.Errorf("subscribing to link events: %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(addrCh, done, netlink.AddrSubscribeOptions{Namespace: k.ns, ErrorCallback: onErr}); err != nil {
		stop()
		go drain(linkCh)
		return nil, fmt.Errorf("subscribing to address events: %w", err)
	}

	out := make(chan Event, subscriptionBuffer)
	go func() {
		defer close(out)
		defer func() {
			stop()
			// The library's readers block on full channels; drain so they
			// see their socket closed and exit.
			go drain(linkCh)
			go drain(addrCh)
		}()
		for {
			var ev Event
			var ok bool
			select {
			case <-ctx.Done():
				return
			case u, open := <-linkCh:
				if !open {
					return
				}
				ev, ok = linkEvent(u.Header.Type, u.Link)
			case u, open := <-addrCh:
				if !open {
					return
				}
				ev, ok = addrEvent(u)
			case err := <-resync:
				ev, ok = Event{Kind: Resync, Err: err}, true
			}
			if !ok {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func drain[T any](ch <-chan T) {
	for range ch {
	}
}

// linkEvent reduces a deserialized RTM_NEWLINK/RTM_DELLINK to an Event.
func linkEvent(msgType uint16, l netlink.Link) (Event, bool) {
	if l == nil || l.Attrs() == nil {
		return Event{}, false
	}
	var kind EventKind
	switch msgType {
	case unix.RTM_NEWLINK:
		kind = LinkChanged
	case unix.RTM_DELLINK:
		kind = LinkRemoved
	default:
		return Event{}, false
	}
	a := l.Attrs()
	return Event{Kind: kind, Index: a.Index, Name: a.Name}, true
}

// addrEvent reduces an address update to an Event; IPv6 updates (the
// subscription always includes them) are dropped here.
func addrEvent(u netlink.AddrUpdate) (Event, bool) {
	p, ok := prefixFrom(u.LinkAddress)
	if !ok {
		return Event{}, false
	}
	kind := AddrRemoved
	if u.NewAddr {
		kind = AddrAdded
	}
	return Event{Kind: kind, Index: u.LinkIndex, Addr: p}, true
}
