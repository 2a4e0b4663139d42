package syncport

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orchd/orchd/state"
	"github.com/vishvananda/netlink"
)

var (
	intPort = Port{Role: "internal", Interface: "sync-int", Address: netip.MustParsePrefix("198.18.1.1/16")}
	extPort = Port{Role: "external", Interface: "sync-ext", Address: netip.MustParsePrefix("198.19.1.1/16")}
	t0      = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

type testManager struct {
	*Manager
	k    *fakeKernel
	now  time.Time
	logs []string
}

func newTestManager(t *testing.T, k *fakeKernel, ports ...Port) *testManager {
	t.Helper()
	if len(ports) == 0 {
		ports = []Port{intPort, extPort}
	}
	tm := &testManager{k: k, now: t0}
	tm.Manager = New(ports, k, func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		tm.logs = append(tm.logs, s)
		t.Log(s)
	})
	tm.Manager.now = func() time.Time { return tm.now }
	if err := tm.validate(); err != nil {
		t.Fatal(err)
	}
	return tm
}

// step feeds events at time now+d and returns what Run would publish.
func (tm *testManager) step(d time.Duration, evs ...Event) ([]state.SyncPort, bool) {
	tm.now = tm.now.Add(d)
	tm.handle(evs)
	return tm.commit()
}

func (tm *testManager) port(t *testing.T, name string) state.SyncPort {
	t.Helper()
	for _, p := range tm.Snapshot() {
		if p.Interface == name {
			return p
		}
	}
	t.Fatalf("no port %s in snapshot", name)
	return state.SyncPort{}
}

func checkWrites(t *testing.T, k *fakeKernel, want ...string) {
	t.Helper()
	got := strings.Join(k.takeWrites(), "\n")
	if w := strings.Join(want, "\n"); got != w {
		t.Errorf("writes:\n%s\nwant:\n%s", got, w)
	}
}

func TestMissingInterface(t *testing.T) {
	k := newFakeKernel()
	tm := newTestManager(t, k)
	tm.start()
	checkWrites(t, k)
	want := []state.SyncPort{
		{Role: "internal", Interface: "sync-int", State: state.PortMissing, Addresses: []string{}, Since: t0},
		{Role: "external", Interface: "sync-ext", State: state.PortMissing, Addresses: []string{}, Since: t0},
	}
	got := tm.Snapshot()
	if !slices.EqualFunc(got, want, portEqual) {
		t.Errorf("snapshot = %+v, want %+v", got, want)
	}
	for _, p := range got {
		if p.Addresses == nil {
			t.Errorf("%s: Addresses is nil, want empty (JSON [] not null)", p.Interface)
		}
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(k *fakeKernel)
		wantWrites []string
		wantState  string
		wantAddrs  []string
		wantError  string
	}{
		{
			name:  "down link without address",
			setup: func(k *fakeKernel) { k.add("sync-int", false, true) },
			wantWrites: []string{
				"ip link set sync-int up",
				"ip addr add 198.18.1.1/16 dev sync-int",
			},
			wantState: state.PortUp,
			wantAddrs: []string{"198.18.1.1/16"},
		},
		{
			name:      "already configured",
			setup:     func(k *fakeKernel) { k.add("sync-int", true, true, "198.18.1.1/16") },
			wantState: state.PortUp,
			wantAddrs: []string{"198.18.1.1/16"},
		},
		{
			name:       "other addresses left alone and sorted numerically",
			setup:      func(k *fakeKernel) { k.add("sync-int", true, true, "198.18.1.10/16", "198.18.1.9/24") },
			wantWrites: []string{"ip addr add 198.18.1.1/16 dev sync-int"},
			wantState:  state.PortUp,
			wantAddrs:  []string{"198.18.1.1/16", "198.18.1.9/24", "198.18.1.10/16"},
		},
		{
			name:       "same address with another prefix length is not ours",
			setup:      func(k *fakeKernel) { k.add("sync-int", true, true, "198.18.1.1/24") },
			wantWrites: []string{"ip addr add 198.18.1.1/16 dev sync-int"},
			wantState:  state.PortUp,
			wantAddrs:  []string{"198.18.1.1/16", "198.18.1.1/24"},
		},
		{
			name:  "far end down: no carrier",
			setup: func(k *fakeKernel) { k.add("sync-int", false, false) },
			wantWrites: []string{
				"ip link set sync-int up",
				"ip addr add 198.18.1.1/16 dev sync-int",
			},
			wantState: state.PortDown,
			wantAddrs: []string{"198.18.1.1/16"},
		},
		{
			name: "oper state unknown: lower up decides",
			setup: func(k *fakeKernel) {
				k.add("sync-int", true, true, "198.18.1.1/16").operUnknown = true
			},
			wantState: state.PortUp,
			wantAddrs: []string{"198.18.1.1/16"},
		},
		{
			name: "adding the address fails",
			setup: func(k *fakeKernel) {
				k.add("sync-int", true, true)
				k.addErr = syscall.EACCES
			},
			wantWrites: []string{"ip addr add 198.18.1.1/16 dev sync-int"},
			wantState:  state.PortUp,
			wantAddrs:  []string{},
			wantError:  "adding 198.18.1.1/16 to sync-int: permission denied",
		},
		{
			name: "setting up fails",
			setup: func(k *fakeKernel) {
				k.add("sync-int", false, true)
				k.upErr = syscall.EPERM
			},
			wantWrites: []string{
				"ip link set sync-int up",
				"ip addr add 198.18.1.1/16 dev sync-int",
			},
			wantState: state.PortDown,
			wantAddrs: []string{"198.18.1.1/16"},
			wantError: "setting sync-int up: operation not permitted",
		},
		{
			name: "lookup fails",
			setup: func(k *fakeKernel) {
				k.lookupErr = syscall.ENOBUFS
			},
			wantState: state.PortMissing,
			wantAddrs: []string{},
			wantError: "looking up sync-int: no buffer space available",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel()
			tt.setup(k)
			tm := newTestManager(t, k)
			tm.start()
			checkWrites(t, k, tt.wantWrites...)
			got := tm.port(t, "sync-int")
			if got.State != tt.wantState || !slices.Equal(got.Addresses, tt.wantAddrs) || got.Error != tt.wantError || !got.Since.Equal(t0) {
				t.Errorf("got %+v\nwant state %s, addresses %q, error %q, since %v", got, tt.wantState, tt.wantAddrs, tt.wantError, t0)
			}
		})
	}
}

func TestErrorClearedOnSuccess(t *testing.T) {
	k := newFakeKernel()
	k.add("sync-int", true, true)
	k.addErr = syscall.EPERM
	tm := newTestManager(t, k)
	tm.start()
	if e := tm.port(t, "sync-int").Error; e != "adding 198.18.1.1/16 to sync-int: operation not permitted" {
		t.Fatalf("error = %q", e)
	}
	k.takeWrites()
	k.addErr = nil
	tm.now = tm.now.Add(time.Second)
	tm.refreshAll()
	snap, changed := tm.commit()
	checkWrites(t, k, "ip addr add 198.18.1.1/16 dev sync-int")
	if !changed || snap[0].Error != "" || !slices.Equal(snap[0].Addresses, []string{"198.18.1.1/16"}) {
		t.Errorf("after retry: changed=%v %+v, want error cleared and address present", changed, snap)
	}
	if !snap[0].Since.Equal(t0) {
		t.Errorf("since = %v, want %v: only state changes move it", snap[0].Since, t0)
	}
}

func TestLinkDownPublishedOnce(t *testing.T) {
	k := newFakeKernel()
	k.add("sync-int", true, true, "198.18.1.1/16")
	tm := newTestManager(t, k)
	tm.start()

	ev := k.edit("sync-int", func(l *fakeLink) { l.farUp = false })
	snap, changed := tm.step(time.Second, ev)
	if !changed || snap[0].State != state.PortDown || !snap[0].Since.Equal(t0.Add(time.Second)) {
		t.Fatalf("after carrier loss: changed=%v %+v, want down since t0+1s", changed, snap[0])
	}
	// The kernel repeats itself (flags, stats): nothing new, nothing published.
	if snap, changed := tm.step(time.Second, ev, ev); changed {
		t.Errorf("duplicate event published %+v", snap)
	}
	ev = k.edit("sync-int", func(l *fakeLink) { l.farUp = true })
	snap, changed = tm.step(time.Second, ev)
	if !changed || snap[0].State != state.PortUp || !snap[0].Since.Equal(t0.Add(3*time.Second)) {
		t.Errorf("after carrier back: changed=%v %+v, want up since t0+3s", changed, snap[0])
	}
	checkWrites(t, k)
}

func TestUnrelatedEventsCostNoReads(t *testing.T) {
	k := newFakeKernel()
	k.add("sync-int", true, true, "198.18.1.1/16")
	tm := newTestManager(t, k)
	tm.start()
	before := k.readCount()
	other := k.add("eth0", true, true)
	if _, changed := tm.step(0,
		Event{Kind: LinkChanged, Index: other.index, Name: "eth0"},
		Event{Kind: AddrAdded, Index: other.index, Addr: netip.MustParsePrefix("198.18.200.1/24")},
		Event{Kind: LinkRemoved, Index: 999, Name: "veth9"},
	); changed {
		t.Error("unrelated events changed the state")
	}
	if n := k.readCount() - before; n != 0 {
		t.Errorf("unrelated events caused %d kernel reads, want 0", n)
	}
}

func TestAdminDownNotReupped(t *testing.T) {
	k := newFakeKernel()
	k.add("sync-int", false, true)
	tm := newTestManager(t, k)
	tm.start()
	checkWrites(t, k, "ip link set sync-int up", "ip addr add 198.18.1.1/16 dev sync-int")

	ev := k.edit("sync-int", func(l *fakeLink) { l.adminUp = false })
	snap, changed := tm.step(time.Second, ev)
	if !changed || snap[0].State != state.PortDown {
		t.Fatalf("after admin down: changed=%v %+v", changed, snap[0])
	}
	tm.refreshAll() // the periodic safety net must not fight the admin either
	checkWrites(t, k)
	if got := tm.port(t, "sync-int"); got.State != state.PortDown || got.Error != "" {
		t.Errorf("got %+v, want down without error", got)
	}
}

func TestAddressReadded(t *testing.T) {
	for _, admin := range []bool{true, false} {
		t.Run(fmt.Sprintf("adminUp=%v", admin), func(t *testing.T) {
			k := newFakeKernel()
			k.add("sync-int", true, true, "198.18.1.1/16", "198.18.7.7/16")
			tm := newTestManager(t, k)
			tm.start()
			if !admin {
				tm.step(0, k.edit("sync-int", func(l *fakeLink) { l.adminUp = false }))
			}
			var idx int
			k.edit("sync-int", func(l *fakeLink) {
				idx = l.index
				l.addrs = slices.DeleteFunc(l.addrs, func(p netip.Prefix) bool { return p == intPort.Address })
			})
			snap, changed := tm.step(time.Second, Event{Kind: AddrRemoved, Index: idx, Addr: intPort.Address})
			checkWrites(t, k, "ip addr add 198.18.1.1/16 dev sync-int")
			if changed {
				t.Errorf("published %+v although the address is back", snap)
			}
			if got := tm.port(t, "sync-int").Addresses; !slices.Equal(got, []string{"198.18.1.1/16", "198.18.7.7/16"}) {
				t.Errorf("addresses = %q", got)
			}
			if !slices.ContainsFunc(tm.logs, func(s string) bool { return strings.Contains(s, "disappeared") }) {
				t.Errorf("re-adding was not logged: %q", tm.logs)
			}
		})
	}
}

func TestAppearsLater(t *testing.T) {
	tests := []struct {
		name   string
		appear func(k *fakeKernel) Event
	}{
		{"created", func(k *fakeKernel) Event {
			l := k.add("sync-ext", false, true)
			return Event{Kind: LinkChanged, Index: l.index, Name: l.name}
		}},
		{"renamed", func(k *fakeKernel) Event {
			return k.edit("veth7", func(l *fakeLink) { l.name = "sync-ext" })
		}},
		{"moved in after a resync", func(k *fakeKernel) Event {
			k.add("sync-ext", false, true)
			return Event{Kind: Resync, Err: errors.New("receive failed: no buffer space available")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel()
			k.add("veth7", false, true)
			tm := newTestManager(t, k)
			tm.start()
			checkWrites(t, k)
			snap, changed := tm.step(time.Second, tt.appear(k))
			checkWrites(t, k, "ip link set sync-ext up", "ip addr add 198.19.1.1/16 dev sync-ext")
			want := state.SyncPort{Role: "external", Interface: "sync-ext", State: state.PortUp, Addresses: []string{"198.19.1.1/16"}, Since: t0.Add(time.Second)}
			if !changed || !portEqual(snap[1], want) {
				t.Errorf("changed=%v got %+v\nwant %+v", changed, snap[1], want)
			}
		})
	}
}

func TestGoneAndBack(t *testing.T) {
	k := newFakeKernel()
	k.add("sync-int", false, true)
	tm := newTestManager(t, k)
	tm.start()
	k.takeWrites()
	// The admin downs it: respected for this link...
	tm.step(time.Second, k.edit("sync-int", func(l *fakeLink) { l.adminUp = false }))

	// ...renamed away, which is as good as gone for us...
	snap, changed := tm.step(time.Second, k.edit("sync-int", func(l *fakeLink) { l.name = "old-int" }))
	if !changed || snap[0].State != state.PortMissing || len(snap[0].Addresses) != 0 {
		t.Fatalf("after rename away: changed=%v %+v, want missing", changed, snap[0])
	}
	// ...and a new link under the name is configured afresh, up included.
	l := k.add("sync-int", false, true)
	snap, _ = tm.step(time.Second, Event{Kind: LinkChanged, Index: l.index, Name: l.name})
	checkWrites(t, k, "ip link set sync-int up", "ip addr add 198.18.1.1/16 dev sync-int")
	if snap[0].State != state.PortUp {
		t.Errorf("new link: %+v, want up", snap[0])
	}
	snap, _ = tm.step(time.Second, k.remove("sync-int"))
	if snap[0].State != state.PortMissing {
		t.Errorf("after removal: %+v, want missing", snap[0])
	}
	checkWrites(t, k)
}

func TestCarrier(t *testing.T) {
	tests := []struct {
		l    Link
		want bool
	}{
		{Link{Oper: netlink.OperUp}, true},
		{Link{Oper: netlink.OperUp, LowerUp: true}, true},
		{Link{Oper: netlink.OperDown, LowerUp: true}, false},
		{Link{Oper: netlink.OperLowerLayerDown}, false},
		{Link{Oper: netlink.OperDormant, LowerUp: true}, false},
		{Link{Oper: netlink.OperUnknown, LowerUp: true}, true},
		{Link{Oper: netlink.OperUnknown}, false},
	}
	for _, tt := range tests {
		if got := tt.l.Carrier(); got != tt.want {
			t.Errorf("%+v.Carrier() = %v, want %v", tt.l, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		ports []Port
		want  string
	}{
		{[]Port{intPort, extPort}, ""},
		{[]Port{intPort, {Role: "external", Interface: "sync-int", Address: extPort.Address}}, "used by two ports"},
		{[]Port{{Role: "internal", Interface: "a-very-long-interface", Address: intPort.Address}}, "not a valid Linux interface name"},
		{[]Port{{Role: "internal", Interface: "", Address: intPort.Address}}, "not a valid Linux interface name"},
		{[]Port{{Role: "internal", Interface: "sync-int"}}, "not an IPv4 prefix"},
		{[]Port{{Role: "internal", Interface: "sync-int", Address: netip.MustParsePrefix("2001:db8::1/64")}}, "not an IPv4 prefix"},
	}
	for _, tt := range tests {
		err := New(tt.ports, newFakeKernel(), nil).validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("validate(%+v) = %v, want error containing %q", tt.ports, err, tt.want)
		}
	}
	bad := New([]Port{{Role: "internal", Interface: "sync-int"}}, newFakeKernel(), nil)
	if err := bad.Run(context.Background(), func([]state.SyncPort) { t.Error("published with invalid ports") }); err == nil {
		t.Error("Run with an invalid port returned nil")
	}
}

// runManager runs m in the background, returning the publications.
func runManager(t *testing.T, m *Manager) (pubs <-chan []state.SyncPort, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan []state.SyncPort, 100)
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx, func(ps []state.SyncPort) { ch <- ps }) }()
	var stopped bool
	var runErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case runErr = <-errc:
			case <-time.After(5 * time.Second):
				runErr = errors.New("Run did not return after cancel")
			}
		}
		return runErr
	}
	t.Cleanup(func() { stop() })
	return ch, stop
}

func awaitPub(t *testing.T, pubs <-chan []state.SyncPort) []state.SyncPort {
	t.Helper()
	select {
	case ps := <-pubs:
		return ps
	case <-time.After(5 * time.Second):
		t.Fatal("no publication within 5s")
		return nil
	}
}

func TestRun(t *testing.T) {
	k := newFakeKernel()
	k.add("sync-int", false, true)
	m := New([]Port{intPort, extPort}, k, t.Logf)
	pubs, stop := runManager(t, m)

	first := awaitPub(t, pubs)
	if first[0].State != state.PortUp || first[1].State != state.PortMissing {
		t.Fatalf("first publication %+v, want sync-int up, sync-ext missing", first)
	}
	checkWrites(t, k, "ip link set sync-int up", "ip addr add 198.18.1.1/16 dev sync-int")

	down := k.edit("sync-int", func(l *fakeLink) { l.farUp = false })
	k.send(down)
	if ps := awaitPub(t, pubs); ps[0].State != state.PortDown {
		t.Fatalf("published %+v, want sync-int down", ps[0])
	}
	// A duplicate must not publish: the next publication is the next change.
	k.send(down)
	k.send(k.edit("sync-int", func(l *fakeLink) { l.farUp = true }))
	if ps := awaitPub(t, pubs); ps[0].State != state.PortUp {
		t.Fatalf("published %+v, want sync-int up (a duplicate was published?)", ps[0])
	}

	// A broken subscription is renewed, with a full re-read that catches
	// what happened in between.
	k.breakSub()
	k.add("sync-ext", true, true)
	if ps := awaitPub(t, pubs); ps[1].State != state.PortUp {
		t.Fatalf("published %+v, want sync-ext up after re-subscribing", ps[1])
	}
	if n := k.subscribeCount(); n != 2 {
		t.Errorf("subscribed %d times, want 2", n)
	}
	if err := stop(); err != nil {
		t.Errorf("Run returned %v after cancel, want nil", err)
	}
	if got := m.Snapshot(); got[0].State != state.PortUp || got[1].State != state.PortUp {
		t.Errorf("snapshot %+v, want both up", got)
	}
}

func TestRunWithoutSubscription(t *testing.T) {
	k := newFakeKernel()
	k.subErr = errors.New("subscribing to link events: permission denied")
	m := New([]Port{intPort}, k, t.Logf)
	pubs, stop := runManager(t, m)
	if ps := awaitPub(t, pubs); ps[0].State != state.PortMissing {
		t.Fatalf("published %+v, want missing", ps)
	}
	deadline := time.Now().Add(5 * time.Second)
	for k.subscribeCount() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("subscribed %d times in 5s, want retries", k.subscribeCount())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestFormatAddrs(t *testing.T) {
	in := []netip.Prefix{
		netip.MustParsePrefix("198.18.1.10/16"),
		netip.MustParsePrefix("198.18.1.9/16"),
		netip.MustParsePrefix("198.18.1.9/16"),
		netip.MustParsePrefix("198.18.1.9/8"),
	}
	want := []string{"198.18.1.9/8", "198.18.1.9/16", "198.18.1.10/16"}
	if got := formatAddrs(in); !slices.Equal(got, want) {
		t.Errorf("formatAddrs = %q, want %q", got, want)
	}
	if got := formatAddrs(nil); got == nil || len(got) != 0 {
		t.Errorf("formatAddrs(nil) = %#v, want empty non-nil", got)
	}
}
