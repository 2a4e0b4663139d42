package tacacs

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/domain"
	"github.com/orchd/orchd/aaa/tacacs/tacacstest"
)

var secret = []byte("tac-secret")

func startServer(t *testing.T) *tacacstest.Server {
	t.Helper()
	s, err := tacacstest.Start("127.0.0.1:0", secret, map[string]tacacstest.User{
		"alice": {Password: "pw", Args: []string{"priv-lvl=15", "shell:msc-roles=adminRole"}},
		"bob":   {Password: "pw"}, // authenticates, but no shell authorization
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func client(t *testing.T, addr string, timeout time.Duration, key []byte) *Client {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p := 0
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	c, err := New(Config{Host: host, Port: p, Timeout: timeout, Secret: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAgainstTacquito(t *testing.T) {
	s := startServer(t)
	c := client(t, s.Addr, time.Second, secret)
	res, err := c.Authenticate(context.Background(), "alice", "pw")
	if err != nil {
		t.Fatalf("alice: %v", err)
	}
	if got := strings.Join(res.Values, ";"); got != "priv-lvl=15;shell:msc-roles=adminRole" {
		t.Errorf("args = %q", got)
	}
	for _, tt := range []struct{ user, pw, want string }{
		{"alice", "wrong", "authentication FAIL"},
		{"nobody", "pw", "authentication FAIL"},
		{"bob", "pw", "authorization FAIL"},
		{"alice", "", "empty password"},
	} {
		_, err := c.Authenticate(context.Background(), tt.user, tt.pw)
		if !errors.Is(err, aaa.ErrRejected) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s/%q: %v; want a rejection containing %q", tt.user, tt.pw, err, tt.want)
		}
	}
	// A wrong shared secret garbles the reply: could not ask, not a no.
	_, err = client(t, s.Addr, time.Second, []byte("other")).Authenticate(context.Background(), "alice", "pw")
	if err == nil || errors.Is(err, aaa.ErrRejected) {
		t.Errorf("wrong secret: %v; want a could-not-ask error", err)
	}
}

func TestCouldNotAsk(t *testing.T) {
	s := startServer(t)
	s.SetDelay(300 * time.Millisecond)
	start := time.Now()
	_, err := client(t, s.Addr, 100*time.Millisecond, secret).Authenticate(context.Background(), "alice", "pw")
	if err == nil || errors.Is(err, aaa.ErrRejected) || time.Since(start) > time.Second {
		t.Fatalf("slow server: %v after %v; want a timeout within 1s", err, time.Since(start))
	}
	if got := domain.Cause(err); got != "no answer in time" {
		t.Errorf("cause of %v = %q; want the client told no answer in time", err, got)
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if _, err := client(t, addr, time.Second, secret).Authenticate(context.Background(), "alice", "pw"); err == nil || errors.Is(err, aaa.ErrRejected) || domain.Cause(err) != "connection refused" {
		t.Fatalf("closed port: %v (cause %q); want connection refused, could not ask", err, domain.Cause(err))
	}

	// A server that answers with the unencrypted flag is refused.
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		hb := make([]byte, headerLen)
		io.ReadFull(conn, hb)
		h, _ := ParseHeader(hb)
		io.CopyN(io.Discard, conn, int64(h.Length))
		body := []byte{authenPass, 0, 0, 0, 0, 0}
		rh := Header{Version: h.Version, Type: h.Type, Seq: 2, Flags: flagUnencrypted, Session: h.Session, Length: uint32(len(body))}
		conn.Write(append(rh.Marshal(), body...))
	}()
	_, err = client(t, l.Addr().String(), time.Second, secret).Authenticate(context.Background(), "alice", "pw")
	if err == nil || !strings.Contains(err.Error(), "unencrypted flag") || errors.Is(err, aaa.ErrRejected) {
		t.Fatalf("unencrypted reply: %v", err)
	}
}
