package peers

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/records"
	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/truststore"
)

// Compile-time check: the real store satisfies the consumer interface.
var _ Trust = (*truststore.Store)(nil)

const (
	testHeartbeat = 100 * time.Millisecond
	testDeadAfter = 800 * time.Millisecond
)

// fakeTrust is an in-memory Trust the tests mutate.
type fakeTrust struct {
	mu      sync.Mutex
	pins    map[identity.ID]truststore.Pin
	blocked map[string]bool
}

func newFakeTrust() *fakeTrust {
	return &fakeTrust{pins: map[identity.ID]truststore.Pin{}, blocked: map[string]bool{}}
}

func (f *fakeTrust) Pin(id identity.ID) (truststore.Pin, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pins[id]
	return p, ok
}

func (f *fakeTrust) Blocked(fp string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked[fp]
}

func (f *fakeTrust) pin(id identity.ID, pub ed25519.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pins[id] = truststore.Pin{ID: id, PublicKey: pub, Fingerprint: identity.Fingerprint(pub)}
}

func (f *fakeTrust) unpin(id identity.ID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pins, id)
}

func (f *fakeTrust) block(fp string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blocked[fp] = true
}

func mustID(s string) identity.ID {
	id, err := identity.ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// newIdentity makes an identity whose certificate was issued at issued.
func newIdentity(t testing.TB, id string, issued time.Time) *identity.Identity {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return withCert(t, mustID(id), key, identity.DefaultValidity, issued)
}

func withCert(t testing.TB, id identity.ID, key ed25519.PrivateKey, validity time.Duration, issued time.Time) *identity.Identity {
	t.Helper()
	pemb, err := identity.NewCertificate(id, key, validity, issued)
	if err != nil {
		t.Fatal(err)
	}
	c, err := identity.ParseCertificatePEM(pemb)
	if err != nil {
		t.Fatal(err)
	}
	return &identity.Identity{ID: id, Key: key, Cert: c, CertPEM: pemb}
}

// logBuf collects a node's log, shown only when the test fails.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, a...))
}

func (l *logBuf) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// node is one simulated orchestrator on its own loopback address.
type node struct {
	name  string
	self  atomic.Pointer[identity.Identity]
	addr  netip.AddrPort
	trust *fakeTrust
	log   *logBuf
	m     *Manager
	// recs and onRecord, when set, are the node's record store and
	// OnRecord.
	recs     *records.Store
	onRecord func(records.Record)

	cancel context.CancelFunc
	done   chan struct{}
}

// testMesh is a set of nodes on 127.A.B.x:7443, A.B random per mesh so that
// parallel tests (and other packages' tests) do not collide.
type testMesh struct {
	t      testing.TB
	nodes  map[string]*node
	order  []string
	specOf func(from, to *node) PeerSpec
	// configure, if set, changes a node's Config before New.
	configure func(n *node, cfg *Config)
	hb        time.Duration
	dead      time.Duration
}

var meshSeq atomic.Uint32

func newMesh(t testing.TB, ids ...string) *testMesh {
	seq := meshSeq.Add(1)
	a, b := byte(1+mrand.IntN(250)), byte(seq%250+1)
	ms := &testMesh{t: t, nodes: map[string]*node{}, hb: testHeartbeat, dead: testDeadAfter}
	for i, s := range ids {
		n := &node{
			name: s, trust: newFakeTrust(), log: &logBuf{},
			addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, a, b, byte(i + 1)}), 7443),
		}
		n.self.Store(newIdentity(t, s, time.Now()))
		ms.nodes[s] = n
		ms.order = append(ms.order, s)
	}
	t.Cleanup(func() {
		for _, s := range ms.order {
			ms.stop(s)
		}
		if t.Failed() {
			for _, s := range ms.order {
				n := ms.nodes[s]
				n.log.mu.Lock()
				t.Logf("log of %s:\n  %s", s, strings.Join(n.log.lines, "\n  "))
				n.log.mu.Unlock()
			}
		}
	})
	return ms
}

// pin makes a trust b's current key.
func (ms *testMesh) pin(a, b string) {
	nb := ms.nodes[b]
	ms.nodes[a].trust.pin(mustID(b), nb.self.Load().Public())
}

func (ms *testMesh) pinAll() {
	for _, a := range ms.order {
		for _, b := range ms.order {
			if a != b {
				ms.pin(a, b)
			}
		}
	}
}

func (ms *testMesh) config(n *node) Config {
	cfg := Config{
		Self:       func() *identity.Identity { return n.self.Load() },
		Trust:      n.trust,
		Listen:     []netip.AddrPort{n.addr},
		Heartbeat:  ms.hb,
		DeadAfter:  ms.dead,
		Logf:       n.log.logf,
		Interfaces: map[string]string{"internal": "sync-int", "external": "sync-ext"},
	}
	if n.recs != nil {
		cfg.Records, cfg.OnRecord = n.recs, n.onRecord
	}
	for _, o := range ms.order {
		if o == n.name {
			continue
		}
		spec := PeerSpec{ID: mustID(o), Port: "internal", Addr: ms.nodes[o].addr, Local: n.addr.Addr()}
		if ms.specOf != nil {
			spec = ms.specOf(n, ms.nodes[o])
		}
		cfg.Peers = append(cfg.Peers, spec)
	}
	if ms.configure != nil {
		ms.configure(n, &cfg)
	}
	return cfg
}

func (ms *testMesh) start(name string) *Manager {
	n := ms.nodes[name]
	n.m = New(ms.config(n))
	ms.startWith(name, n.m)
	return n.m
}

func (ms *testMesh) startAll() {
	for _, s := range ms.order {
		ms.start(s)
	}
}

func (ms *testMesh) stop(name string) {
	n := ms.nodes[name]
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
}

func (ms *testMesh) m(name string) *Manager { return ms.nodes[name].m }

// peerOf returns what a thinks of b.
func peerOf(m *Manager, b string) state.Peer {
	for _, p := range m.Statuses() {
		if p.ID == b {
			return p
		}
	}
	return state.Peer{}
}

// waitFor polls cond until it holds or timeout passes; cond says what it
// saw for the failure message.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: want %s; saw %s", timeout, what, saw)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStatus waits until a sees b with status and a reason containing want.
func (ms *testMesh) waitStatus(a, b, status, want string, timeout time.Duration) state.Peer {
	ms.t.Helper()
	var got state.Peer
	waitFor(ms.t, timeout, fmt.Sprintf("%s sees %s %s (%q)", a, b, status, want), func() (bool, string) {
		got = peerOf(ms.m(a), b)
		return got.Status == status && strings.Contains(got.Reason, want), fmt.Sprintf("%s: %q", got.Status, got.Reason)
	})
	return got
}

// allAuthenticated reports whether every running node sees every other as
// Authenticated.
func (ms *testMesh) allAuthenticated() (bool, string) {
	for _, a := range ms.order {
		for _, p := range ms.m(a).Statuses() {
			if p.Status != state.Authenticated {
				return false, fmt.Sprintf("%s sees %s %s: %s", a, p.ID, p.Status, p.Reason)
			}
		}
	}
	return true, ""
}

func (ms *testMesh) startWith(name string, m *Manager) {
	n := ms.nodes[name]
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan struct{})
	go func() {
		defer close(n.done)
		if err := m.Run(ctx); err != nil {
			n.log.logf("Run: %v", err)
		}
	}()
}

// withRecords gives every node a record store of its own; on, when not
// nil, returns the node's OnRecord (nil: none).
func (ms *testMesh) withRecords(on func(name string) func(records.Record)) {
	for _, name := range ms.order {
		st, err := records.Open(filepath.Join(ms.t.TempDir(), "revocations.json"))
		if err != nil {
			ms.t.Fatal(err)
		}
		ms.nodes[name].recs = st
		if on != nil {
			ms.nodes[name].onRecord = on(name)
		}
	}
}
