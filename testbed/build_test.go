package testbed

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func fakeTestbed(t *testing.T, o Options) (*Testbed, *fakeKernel) {
	t.Helper()
	o.Dir = t.TempDir()
	o.BinDir = "/nonexistent"
	o.Logf = t.Logf
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	k := newFakeKernel()
	tb := newTestbed(o, k)
	if err := tb.plan(); err != nil {
		t.Fatal(err)
	}
	return tb, k
}

func TestBuildCommands(t *testing.T) {
	tb, k := fakeTestbed(t, Options{Sites: 2, PerSite: 1})
	ctx := context.Background()
	if err := tb.buildSwitch(ctx); err != nil {
		t.Fatal(err)
	}
	n, _ := tb.Node("2_1")
	if err := tb.buildNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	want := `ip netns add orch-sw
ip -n orch-sw link set lo up
ip netns exec orch-sw sysctl -q -e -w net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0
ip -n orch-sw link add br-ext type bridge
ip -n orch-sw link set br-ext up
ip -n orch-sw link add br-int1 type bridge
ip -n orch-sw link set br-int1 up
ip -n orch-sw link add br-int2 type bridge
ip -n orch-sw link set br-int2 up
ip link add orch-mgmt type bridge
ip addr add 198.19.128.1/20 dev orch-mgmt
ip link set orch-mgmt up
ip netns add orch-2_1
ip -n orch-2_1 link set lo up
ip link add orch-i2_1 type veth peer name orch-i2_1n
ip link set orch-i2_1n netns orch-2_1 name sync-int
ip link set orch-i2_1 netns orch-sw
ip -n orch-sw link set orch-i2_1 master br-int2 up
ip link add orch-e2_1 type veth peer name orch-e2_1n
ip link set orch-e2_1n netns orch-2_1 name sync-ext
ip link set orch-e2_1 netns orch-sw
ip -n orch-sw link set orch-e2_1 master br-ext up
ip link add orch-m2_1 type veth peer name orch-m2_1n
ip link set orch-m2_1n netns orch-2_1 name mgmt0
ip link set orch-m2_1 master orch-mgmt up
ip -n orch-2_1 addr add 198.19.130.1/20 dev mgmt0
ip -n orch-2_1 link set mgmt0 up
`
	if got := k.take(); got != want {
		t.Errorf("commands:\n%s\nwant:\n%s", got, want)
	}
	// The journal names every object before it exists.
	j, err := readJournal(tb.Opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(j.namespaces, " "), "orch-sw orch-2_1"; got != want {
		t.Errorf("journal namespaces %q, want %q", got, want)
	}
	if got, want := strings.Join(j.links, " "), "orch-mgmt orch-i2_1 orch-i2_1n orch-e2_1 orch-e2_1n orch-m2_1 orch-m2_1n"; got != want {
		t.Errorf("journal links %q, want %q", got, want)
	}

	if err := tb.Down(); err != nil {
		t.Fatal(err)
	}
	want = `ip link del orch-m2_1
ip link del orch-mgmt
ip netns del orch-2_1
ip netns del orch-sw
`
	if got := k.take(); got != want {
		t.Errorf("down commands:\n%s\nwant:\n%s", got, want)
	}
	if _, err := os.Stat(JournalFile(tb.Opts.Dir)); !os.IsNotExist(err) {
		t.Errorf("journal still there after Down: %v", err)
	}
	if err := tb.Down(); err != nil {
		t.Errorf("second Down: %v", err)
	}
	if got := k.take(); got != "\n" {
		t.Errorf("second Down ran commands:\n%s", got)
	}
}

// A failure half-way through a veth leaves its root-namespace ends, which
// the journal names, so Down deletes them.
func TestDownAfterFailedBuild(t *testing.T) {
	tb, k := fakeTestbed(t, Options{Sites: 1, PerSite: 1})
	ctx := context.Background()
	if err := tb.buildSwitch(ctx); err != nil {
		t.Fatal(err)
	}
	k.failOn = "name sync-ext"
	n, _ := tb.Node("1_1")
	if err := tb.buildNode(ctx, n); err == nil {
		t.Fatal("buildNode succeeded despite the failure")
	}
	k.take()
	k.failOn = ""
	tb2, err := readJournal(tb.Opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	tb2.k, tb2.names, tb2.Opts.Logf = k, tb.names, t.Logf
	if err := tb2.Down(); err != nil {
		t.Fatal(err)
	}
	want := `ip link del orch-e1_1n
ip link del orch-e1_1
ip link del orch-mgmt
ip netns del orch-1_1
ip netns del orch-sw
`
	if got := k.take(); got != want {
		t.Errorf("down commands:\n%s\nwant:\n%s", got, want)
	}
}

func TestRefuseExisting(t *testing.T) {
	tb, k := fakeTestbed(t, Options{Sites: 1, PerSite: 1})
	k.ns["orch-sw"] = true
	err := tb.buildSwitch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "orch-sw already exists") {
		t.Fatalf("got %v, want an error about orch-sw existing", err)
	}
	if len(tb.namespaces) != 0 {
		t.Errorf("foreign namespace recorded in the journal: %v", tb.namespaces)
	}
	tb, k = fakeTestbed(t, Options{Sites: 1, PerSite: 1})
	k.addrs["eth9"] = []netip.Prefix{netip.MustParsePrefix("198.19.130.7/24")}
	if err := tb.checkMgmtFree(); err == nil || !strings.Contains(err.Error(), "overlaps 198.19.130.7/24 on eth9") {
		t.Errorf("got %v, want an overlap error", err)
	}
}
