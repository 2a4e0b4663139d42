// Package syncport owns this orchestrator's sync interfaces as the kernel
// sees them: it finds each one by name in the daemon's own network namespace,
// gives it our address, brings it up once, and reports it as up, down or
// missing from netlink events (with a periodic re-read as a safety net). It
// never creates or deletes interfaces and never switches namespaces.
package syncport

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orchd/orchd/state"
)

// Port is one desired sync port.
type Port struct {
	Role      string // "internal" or "external"
	Interface string
	// Address is ours on this port, e.g. 198.18.1.1/16.
	Address netip.Prefix
}

const (
	// resyncInterval is the full re-read that catches anything events missed.
	resyncInterval = 5 * time.Second
	// resubscribe delays bound how hard a failing subscription is retried.
	minResubscribe = 100 * time.Millisecond
	maxResubscribe = 5 * time.Second
	// maxBatch bounds how many queued events are folded into one re-read.
	maxBatch = 64
)

// Manager configures and watches the sync ports.
type Manager struct {
	k    Kernel
	logf func(format string, args ...any)
	now  func() time.Time

	// ports is owned by the Run goroutine.
	ports []*port

	mu   sync.Mutex
	snap []state.SyncPort // last published
}

type port struct {
	Port
	// index is the ifindex last seen under our name, 0 while missing: a
	// different index means a new link, to be configured afresh.
	index int
	// upDone is set once we brought the link up (or found it up); from then
	// on an administrator's "down" is respected.
	upDone bool
	st     state.SyncPort
}

// New returns a Manager for ports (in config order). logf may be nil.
func New(ports []Port, k Kernel, logf func(format string, args ...any)) *Manager {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	m := &Manager{k: k, logf: logf, now: time.Now}
	now := m.now()
	for _, p := range ports {
		m.ports = append(m.ports, &port{Port: p, st: state.SyncPort{
			Role: p.Role, Interface: p.Interface, State: state.PortMissing, Addresses: []string{}, Since: now,
		}})
	}
	m.snap = m.current()
	return m
}

// Snapshot returns the last published state of every port, in config order.
func (m *Manager) Snapshot() []state.SyncPort {
	m.mu.Lock()
	defer m.mu.Unlock()
	return clonePorts(m.snap)
}

func clonePorts(ps []state.SyncPort) []state.SyncPort {
	out := make([]state.SyncPort, len(ps))
	for i, p := range ps {
		p.Addresses = append([]string{}, p.Addresses...)
		out[i] = p
	}
	return out
}

func (m *Manager) validate() error {
	seen := map[string]bool{}
	for _, p := range m.ports {
		switch {
		case p.Interface == "" || len(p.Interface) > 15 || strings.ContainsAny(p.Interface, "/ \t\n"):
			return fmt.Errorf("sync port %s: interface name %q is not a valid Linux interface name (1-15 characters, no '/' or spaces)", p.Role, p.Interface)
		case seen[p.Interface]:
			return fmt.Errorf("sync port %s: interface %s is used by two ports", p.Role, p.Interface)
		case !p.Address.IsValid() || !p.Address.Addr().Is4():
			return fmt.Errorf("sync port %s: address %q is not an IPv4 prefix like 198.18.1.1/16", p.Role, p.Address)
		}
		seen[p.Interface] = true
	}
	return nil
}

// Run configures the ports and watches them until ctx is done, then returns
// nil. publish gets the full list (config order) once at start and then
// whenever any port's published state changes.
func (m *Manager) Run(ctx context.Context, publish func([]state.SyncPort)) error {
	if err := m.validate(); err != nil {
		return err
	}
	// Subscribe before the first read so no change can fall between them.
	events, err := m.k.Subscribe(ctx)
	var retry <-chan time.Time
	backoff := minResubscribe
	if err != nil {
		m.logf("syncport: %v; retrying, re-reading every %s meanwhile", err, resyncInterval)
		retry = time.After(backoff)
	}
	m.start()
	publish(m.Snapshot())

	tick := time.NewTicker(resyncInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			m.refreshAll()
		case <-retry:
			events, err = m.k.Subscribe(ctx)
			if err != nil {
				backoff = min(2*backoff, maxResubscribe)
				m.logf("syncport: %v; retrying in %s", err, backoff)
				retry = time.After(backoff)
				continue
			}
			retry, backoff = nil, minResubscribe
			m.refreshAll()
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				m.logf("syncport: netlink event subscription ended; subscribing again")
				events, retry = nil, time.After(backoff)
				continue
			}
			m.handle(gather(ev, events))
		}
		if snap, changed := m.commit(); changed {
			publish(snap)
		}
	}
}

// gather folds the events already queued behind first into one batch, so a
// burst costs one re-read per port.
func gather(first Event, events <-chan Event) []Event {
	batch := []Event{first}
	for len(batch) < maxBatch {
		select {
		case ev, ok := <-events:
			if !ok {
				return batch
			}
			batch = append(batch, ev)
		default:
			return batch
		}
	}
	return batch
}

// start is the first full read: every port's Since is now.
func (m *Manager) start() {
	now := m.now()
	for _, p := range m.ports {
		m.refresh(p, now)
		p.st.Since = now
	}
	m.commit()
}

func (m *Manager) refreshAll() {
	now := m.now()
	for _, p := range m.ports {
		m.refresh(p, now)
	}
}

// handle re-reads the ports the events concern; events for other
// interfaces cost a comparison each.
func (m *Manager) handle(events []Event) {
	dirty := make([]bool, len(m.ports))
	for _, ev := range events {
		for i, p := range m.ports {
			switch ev.Kind {
			case Resync:
				if ev.Err != nil && i == 0 {
					m.logf("syncport: re-reading all ports: %v", ev.Err)
				}
				dirty[i] = true
			case LinkChanged, LinkRemoved:
				// By name for appearances and renames to ours, by index for
				// renames away and removals.
				if ev.Name == p.Interface || (p.index != 0 && ev.Index == p.index) {
					dirty[i] = true
				}
			case AddrAdded, AddrRemoved:
				if p.index != 0 && ev.Index == p.index {
					dirty[i] = true
				}
			}
		}
	}
	now := m.now()
	for i, p := range m.ports {
		if dirty[i] {
			m.refresh(p, now)
		}
	}
}

// current is the ports' state as of the last refresh.
func (m *Manager) current() []state.SyncPort {
	out := make([]state.SyncPort, len(m.ports))
	for i, p := range m.ports {
		out[i] = p.st
	}
	return clonePorts(out)
}

// commit records the current state as published and reports whether it
// differs from what was published before.
func (m *Manager) commit() ([]state.SyncPort, bool) {
	cur := m.current()
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.EqualFunc(cur, m.snap, portEqual) {
		return nil, false
	}
	m.snap = cur
	return clonePorts(cur), true
}

func portEqual(a, b state.SyncPort) bool {
	return a.Role == b.Role && a.Interface == b.Interface && a.State == b.State &&
		slices.Equal(a.Addresses, b.Addresses) && a.Since.Equal(b.Since) && a.Error == b.Error
}

// refresh reads one port from the kernel, configuring it where needed.
func (m *Manager) refresh(p *port, now time.Time) {
	l, err := m.k.LinkByName(p.Interface)
	if errors.Is(err, ErrLinkNotFound) {
		if p.index != 0 {
			m.logf("syncport: %s port %s is gone", p.Role, p.Interface)
		}
		p.index, p.upDone = 0, false
		m.update(p, now, state.PortMissing, []string{}, "")
		return
	}
	if err != nil {
		// Nothing new is known: keep the last state, say why it may be stale.
		m.update(p, now, p.st.State, p.st.Addresses, fmt.Sprintf("looking up %s: %v", p.Interface, err))
		return
	}
	if l.Index != p.index {
		m.logf("syncport: %s port %s found (index %d)", p.Role, p.Interface, l.Index)
		p.index, p.upDone = l.Index, false
	}
	have, addrErr := m.k.Addrs(l.Index)
	wrote, problems := m.configure(p, l, have, addrErr == nil)
	if wrote {
		// Our writes changed flags and addresses: publish what the kernel
		// now says rather than what we asked for.
		if l2, err := m.k.LinkByName(p.Interface); err == nil && l2.Index == l.Index {
			l = l2
		}
		have, addrErr = m.k.Addrs(l.Index)
	}
	addrs := p.st.Addresses
	if addrErr != nil {
		problems = append(problems, fmt.Sprintf("listing addresses of %s: %v", p.Interface, addrErr))
	} else {
		addrs = formatAddrs(have)
	}
	st := state.PortDown
	if l.AdminUp && l.Carrier() {
		st = state.PortUp
	}
	m.update(p, now, st, addrs, strings.Join(problems, "; "))
}

// configure brings a newly seen link up and (re)adds our address unless
// have (valid when haveOK) holds it. It returns whether it wrote anything
// and what failed.
func (m *Manager) configure(p *port, l Link, have []netip.Prefix, haveOK bool) (wrote bool, problems []string) {
	if !p.upDone {
		if l.AdminUp {
			p.upDone = true
		} else if err := m.k.SetUp(l); err != nil {
			problems = append(problems, fmt.Sprintf("setting %s up: %v", p.Interface, err))
		} else {
			m.logf("syncport: set %s up", p.Interface)
			p.upDone, wrote = true, true
		}
	}
	if !haveOK || slices.Contains(have, p.Address) {
		return wrote, problems
	}
	if p.st.State != state.PortMissing && slices.Contains(p.st.Addresses, p.Address.String()) {
		m.logf("syncport: %s disappeared from %s; adding it again", p.Address, p.Interface)
	}
	if err := m.k.AddAddr(l, p.Address); err != nil {
		return wrote, append(problems, fmt.Sprintf("adding %s to %s: %v", p.Address, p.Interface, err))
	}
	m.logf("syncport: added %s to %s", p.Address, p.Interface)
	return true, problems
}

func (m *Manager) update(p *port, now time.Time, st string, addrs []string, problem string) {
	if st != p.st.State {
		m.logf("syncport: %s port %s is %s (was %s)", p.Role, p.Interface, st, p.st.State)
		p.st.State, p.st.Since = st, now
	}
	if problem != p.st.Error {
		if problem != "" {
			m.logf("syncport: %s port %s: %s", p.Role, p.Interface, problem)
		} else {
			m.logf("syncport: %s port %s configured", p.Role, p.Interface)
		}
	}
	p.st.Addresses, p.st.Error = addrs, problem
}

// formatAddrs returns the prefixes as sorted, de-duplicated CIDR strings.
func formatAddrs(ps []netip.Prefix) []string {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Bits(), b.Bits())
	})
	ps = slices.Compact(ps)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
