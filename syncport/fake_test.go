package syncport

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
)

// fakeLink models a veth whose far end is farUp: carrier needs both ends up.
type fakeLink struct {
	index   int
	name    string
	adminUp bool
	farUp   bool
	// operUnknown models drivers that leave IFLA_OPERSTATE unknown.
	operUnknown bool
	addrs       []netip.Prefix
}

func (l *fakeLink) link() Link {
	lower := l.adminUp && l.farUp
	oper := netlink.LinkOperState(netlink.OperDown)
	switch {
	case l.operUnknown:
		oper = netlink.OperUnknown
	case lower:
		oper = netlink.OperUp
	case l.adminUp:
		oper = netlink.OperLowerLayerDown
	}
	return Link{Index: l.index, Name: l.name, AdminUp: l.adminUp, LowerUp: lower, Oper: oper}
}

// fakeKernel records writes as the ip(8) commands that would make them.
type fakeKernel struct {
	mu        sync.Mutex
	links     []*fakeLink
	nextIndex int
	writes    []string
	reads     int
	addErr    error
	upErr     error
	lookupErr error

	subErr     error
	subscribes int
	sub        chan Event
}

func newFakeKernel() *fakeKernel { return &fakeKernel{nextIndex: 10} }

// add creates a link; addrs are CIDR strings.
func (k *fakeKernel) add(name string, adminUp, farUp bool, addrs ...string) *fakeLink {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := &fakeLink{index: k.nextIndex, name: name, adminUp: adminUp, farUp: farUp}
	k.nextIndex++
	for _, a := range addrs {
		l.addrs = append(l.addrs, netip.MustParsePrefix(a))
	}
	k.links = append(k.links, l)
	return l
}

// edit changes the named link under the lock and returns the event the
// kernel would send.
func (k *fakeKernel) edit(name string, f func(l *fakeLink)) Event {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, l := range k.links {
		if l.name == name {
			f(l)
			return Event{Kind: LinkChanged, Index: l.index, Name: l.name}
		}
	}
	panic("fake: no link " + name)
}

func (k *fakeKernel) remove(name string) Event {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, l := range k.links {
		if l.name == name {
			k.links = append(k.links[:i], k.links[i+1:]...)
			return Event{Kind: LinkRemoved, Index: l.index, Name: l.name}
		}
	}
	panic("fake: no link " + name)
}

func (k *fakeKernel) takeWrites() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	w := k.writes
	k.writes = nil
	return w
}

func (k *fakeKernel) readCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reads
}

func (k *fakeKernel) find(index int) *fakeLink {
	for _, l := range k.links {
		if l.index == index {
			return l
		}
	}
	return nil
}

func (k *fakeKernel) LinkByName(name string) (Link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reads++
	if k.lookupErr != nil {
		return Link{}, k.lookupErr
	}
	for _, l := range k.links {
		if l.name == name {
			return l.link(), nil
		}
	}
	return Link{}, ErrLinkNotFound
}

func (k *fakeKernel) Addrs(index int) ([]netip.Prefix, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reads++
	l := k.find(index)
	if l == nil {
		return nil, fmt.Errorf("no link with index %d", index)
	}
	return append([]netip.Prefix(nil), l.addrs...), nil
}

func (k *fakeKernel) AddAddr(l Link, p netip.Prefix) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.writes = append(k.writes, fmt.Sprintf("ip addr add %s dev %s", p, l.Name))
	if k.addErr != nil {
		return k.addErr
	}
	if fl := k.find(l.Index); fl != nil {
		fl.addrs = append(fl.addrs, p)
	}
	return nil
}

func (k *fakeKernel) SetUp(l Link) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.writes = append(k.writes, fmt.Sprintf("ip link set %s up", l.Name))
	if k.upErr != nil {
		return k.upErr
	}
	if fl := k.find(l.Index); fl != nil {
		fl.adminUp = true
	}
	return nil
}

// Subscribe hands out a channel the test feeds with send and may break
// with breakSub.
func (k *fakeKernel) Subscribe(ctx context.Context) (<-chan Event, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.subscribes++
	if k.subErr != nil {
		return nil, k.subErr
	}
	k.sub = make(chan Event, 16)
	return k.sub, nil
}

func (k *fakeKernel) send(ev Event) {
	k.mu.Lock()
	ch := k.sub
	k.mu.Unlock()
	ch <- ev
}

func (k *fakeKernel) breakSub() {
	k.mu.Lock()
	defer k.mu.Unlock()
	close(k.sub)
	k.sub = nil
}

func (k *fakeKernel) subscribeCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.subscribes
}

func (k *fakeKernel) Close() error { return nil }
