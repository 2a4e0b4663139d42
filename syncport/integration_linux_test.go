package syncport

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchd/orchd/state"
	"github.com/vishvananda/netns"
)

// runIP runs ip(8) and fails the test on error.
func runIP(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ipDelete runs a delete where "already gone" is success: deleting the
// namespace also destroys the veth pairs with an end inside it.
func ipDelete(t *testing.T, args ...string) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Cannot find device") && !strings.Contains(string(out), "No such file") {
		t.Errorf("cleanup: ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// watcher keeps the latest publication of a running Manager.
type watcher struct {
	mu     sync.Mutex
	latest []state.SyncPort
	count  int
}

func (w *watcher) publish(ps []state.SyncPort) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.latest, w.count = ps, w.count+1
}

// await polls the published state until ok holds, failing when limit has
// passed since start (taken before the change, so the ip command counts).
func (w *watcher) await(t *testing.T, what string, start time.Time, limit time.Duration, ok func(ps []state.SyncPort) bool) time.Duration {
	t.Helper()
	for {
		w.mu.Lock()
		ps := w.latest
		w.mu.Unlock()
		if ps != nil && ok(ps) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s; last published %+v", what, limit, ps)
		}
		time.Sleep(time.Millisecond)
	}
}

func portIs(name, st string, addrs ...string) func([]state.SyncPort) bool {
	return func(ps []state.SyncPort) bool {
		for _, p := range ps {
			if p.Interface == name {
				return p.State == st && (addrs == nil || slices.Equal(p.Addresses, addrs))
			}
		}
		return false
	}
}

func TestNetnsIntegration(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	pid := os.Getpid()
	nsName := fmt.Sprintf("spt-%d", pid)
	a, b := fmt.Sprintf("spt%da", pid), fmt.Sprintf("spt%db", pid)
	c, d := fmt.Sprintf("spt%dc", pid), fmt.Sprintf("spt%dd", pid)

	runIP(t, "netns", "add", nsName)
	t.Cleanup(func() { ipDelete(t, "netns", "del", nsName) })
	t.Cleanup(func() {
		ipDelete(t, "link", "del", b)
		ipDelete(t, "link", "del", d)
	})
	// Created in the root namespace and moved, so the two ends have
	// different ifindexes (DESIGN §7: same-index veths delay events ~0.9 s).
	runIP(t, "link", "add", a, "type", "veth", "peer", "name", b)
	runIP(t, "link", "set", a, "netns", nsName)
	runIP(t, "-n", nsName, "link", "set", a, "name", "sync-int")
	runIP(t, "link", "set", b, "up")

	h, err := netns.GetFromName(nsName)
	if err != nil {
		t.Fatalf("opening namespace %s: %v", nsName, err)
	}
	k, err := NewNetlinkKernelAt(h)
	h.Close() // the kernel holds its own handle
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })

	ports := []Port{
		{Role: "internal", Interface: "sync-int", Address: netip.MustParsePrefix("198.18.1.1/16")},
		{Role: "external", Interface: "sync-ext", Address: netip.MustParsePrefix("198.19.1.1/16")},
	}
	m := New(ports, k, t.Logf)
	w := &watcher{}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx, w.publish) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})

	w.await(t, "sync-int configured", time.Now(), 5*time.Second, func(ps []state.SyncPort) bool {
		return portIs("sync-int", state.PortUp, "198.18.1.1/16")(ps) && portIs("sync-ext", state.PortMissing)(ps)
	})
	if out := runIP(t, "-n", nsName, "-4", "addr", "show", "dev", "sync-int"); !strings.Contains(out, "inet 198.18.1.1/16") {
		t.Errorf("ip -n %s addr show dev sync-int:\n%s\nwant inet 198.18.1.1/16", nsName, out)
	}
	if got := m.Snapshot()[1]; len(got.Addresses) != 0 || got.Addresses == nil || got.Error != "" {
		t.Errorf("sync-ext: %+v, want missing with no addresses and no error", got)
	}

	start := time.Now()
	runIP(t, "link", "set", b, "down")
	el := w.await(t, "far end down", start, time.Second, portIs("sync-int", state.PortDown))
	t.Logf("far end down published after %s", el)
	start = time.Now()
	runIP(t, "link", "set", b, "up")
	el = w.await(t, "far end up", start, time.Second, portIs("sync-int", state.PortUp))
	t.Logf("far end up published after %s", el)

	// The published state never lacks the address (the re-add happens in
	// the same re-read), so watch the kernel instead.
	start = time.Now()
	runIP(t, "-n", nsName, "addr", "del", "198.18.1.1/16", "dev", "sync-int")
	for !strings.Contains(runIP(t, "-n", nsName, "-4", "addr", "show", "dev", "sync-int"), "inet 198.18.1.1/16") {
		if time.Since(start) > time.Second {
			t.Fatal("198.18.1.1/16 not re-added to sync-int within 1s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("address re-added after %s", time.Since(start))
	w.await(t, "address still published", time.Now(), time.Second, portIs("sync-int", state.PortUp, "198.18.1.1/16"))

	// sync-ext appears later: moved in and renamed, then configured.
	runIP(t, "link", "add", c, "type", "veth", "peer", "name", d)
	runIP(t, "link", "set", d, "up")
	runIP(t, "link", "set", c, "netns", nsName)
	runIP(t, "-n", nsName, "link", "set", c, "name", "sync-ext")
	w.await(t, "sync-ext appeared", time.Now(), 2*time.Second, portIs("sync-ext", state.PortUp, "198.19.1.1/16"))

	// An administrator's down is respected, even across later events.
	runIP(t, "-n", nsName, "link", "set", "sync-int", "down")
	w.await(t, "admin down", time.Now(), time.Second, portIs("sync-int", state.PortDown))
	// Carrier flaps of the far end make more sync-int events; an admin down
	// on sync-ext after them is a barrier, as one socket delivers all link
	// events in order.
	runIP(t, "link", "set", b, "down")
	runIP(t, "link", "set", b, "up")
	runIP(t, "-n", nsName, "link", "set", "sync-ext", "down")
	w.await(t, "barrier", time.Now(), time.Second, portIs("sync-ext", state.PortDown))
	out := runIP(t, "-n", nsName, "-o", "link", "show", "sync-int")
	if strings.Contains(out, ",UP") || strings.Contains(out, "<UP") {
		t.Errorf("sync-int was brought up again after the admin set it down:\n%s", out)
	}
	if got := m.Snapshot()[0]; got.State != state.PortDown {
		t.Errorf("sync-int: %+v, want down", got)
	}
}
