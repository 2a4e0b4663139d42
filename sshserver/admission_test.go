package sshserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// readGreeting returns the first line the server sends a raw TCP client:
// its SSH version, or the refusal.
func readGreeting(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		t.Fatalf("reading the greeting: %v", err)
	}
	return line
}

func TestAllowConnRefusesBeforeCrypto(t *testing.T) {
	var asked atomic.Int32
	var from atomic.Value
	ts := newTestServer(t, ListenOptions{}, func(s *Server) {
		s.AllowConn = func(a netip.Addr) error {
			asked.Add(1)
			from.Store(a)
			return errors.New("source address locked out")
		}
	})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := readGreeting(t, c); got != notAllowed {
		t.Errorf("greeting %q, want %q (no SSH version: nothing of the protocol ran)", got, notAllowed)
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Errorf("after the refusal: %v, want the server to close", err)
	}
	if asked.Load() != 1 || from.Load() != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("AllowConn asked %d times, with %v", asked.Load(), from.Load())
	}
	if _, err := ts.dial("admin", testPassword); err == nil {
		t.Error("a login got through a refusing AllowConn")
	}
	if ts.auth.calls.Load() != 0 {
		t.Errorf("%d password checks ran for refused connections", ts.auth.calls.Load())
	}
	if !ts.log.contains("refused connection from 127.0.0.1 before the handshake: source address locked out") {
		t.Error("refusal not logged")
	}
}

// A refusal repeated in a loop is logged once per address and interval,
// also when its text changes each time (a lockout counts failures).
func TestRepeatedRefusalLoggedOnce(t *testing.T) {
	var n atomic.Int32
	ts := newTestServer(t, ListenOptions{}, func(s *Server) {
		s.AllowConn = func(netip.Addr) error {
			return fmt.Errorf("source address locked out after %d failed logins", n.Add(1))
		}
	})
	for range 5 {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		readGreeting(t, c)
		c.Close()
	}
	if !ts.log.contains("locked out after 1 failed logins") {
		t.Error("first refusal not logged")
	}
	for i := 2; i <= 5; i++ {
		if ts.log.contains(fmt.Sprintf("locked out after %d failed logins", i)) {
			t.Errorf("refusal %d logged again within the interval", i)
		}
	}
}

func TestAllowConnNilOrNilErrorAllows(t *testing.T) {
	ts := newTestServer(t, ListenOptions{}, func(s *Server) { s.AllowConn = func(netip.Addr) error { return nil } })
	ts.mustDial(t)
}

// Connections that never log in are capped per source; one that finishes
// authenticating frees its slot.
func TestUnauthenticatedCapPerSource(t *testing.T) {
	ts := newTestServer(t, ListenOptions{}, func(s *Server) { s.MaxUnauthPerSource = 3 })
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for i := range 3 {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
		if got := readGreeting(t, c); !strings.HasPrefix(got, "SSH-2.0-orchd") {
			t.Fatalf("connection %d: greeting %q, want the SSH version", i, got)
		}
	}
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := readGreeting(t, c); got != notAllowed {
		t.Errorf("4th unauthenticated connection: greeting %q, want %q", got, notAllowed)
	}
	c.Close()
	if _, err := ts.dial("admin", testPassword); err == nil {
		t.Error("a login got in while the source was at its cap")
	}
	if !ts.log.contains("too many unauthenticated connections from this address") {
		t.Error("refusal not logged")
	}
	// Closing one idle connection frees a slot for a real login, which
	// gives it back once logged in (a moment after the client sees
	// success): logins keep getting in one after another.
	idle[0].Close()
	idle = idle[1:]
	for i := range 3 {
		deadline := time.Now().Add(5 * time.Second)
		for {
			cl, err := ts.dial("admin", testPassword)
			if err == nil {
				defer cl.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("login %d after a slot was freed: %v", i, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestUnauthTableTotalCap(t *testing.T) {
	var u unauthTable
	a, b := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	for _, step := range []struct {
		addr netip.Addr
		ok   bool
	}{{a, true}, {a, true}, {a, false}, {b, true}, {b, false}} {
		if ok, why := u.acquire(step.addr, 2, 3); ok != step.ok {
			t.Fatalf("acquire %s: %v (%s), want %v", step.addr, ok, why, step.ok)
		}
	}
	u.release(a)
	u.release(a)
	u.release(b)
	if u.total != 0 || len(u.by) != 0 {
		t.Errorf("after releasing everything: total %d, table %v", u.total, u.by)
	}
}

// A refused login logs the name only when the Authenticator says it is a
// user: a password typed as the name must not reach the log.
func TestRefusedLoginLogsNoUnknownName(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	const typo = "Hunter2-my-password"
	if c, err := ts.dial(typo, "x"); err == nil {
		c.Close()
		t.Fatal("login succeeded")
	}
	if ts.log.contains(typo) {
		t.Errorf("the login name %q was logged", typo)
	}
	if !ts.log.contains("login for unknown user from 127.0.0.1") {
		t.Error(`no "unknown user" refusal logged`)
	}
}

func TestSessionDisconnect(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	ts.handler.disconnect = true
	c := ts.mustDial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Run("disconnect")
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection stayed up after Disconnect")
	}
}
