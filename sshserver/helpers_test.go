package sshserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
	"golang.org/x/crypto/ssh"
)

// testPassword is the fake administrator's password.
var testPassword = "Corr3ct-horse-battery"

const trustSubsystem = "orchd-trust"

// fakeAuth accepts admin/testPassword.
type fakeAuth struct{ calls atomic.Int32 }

type lockedOut struct{}

func (lockedOut) Error() string { return "source address locked out" }
func (lockedOut) UserMessage() string {
	return "Too many failed logins from your address: locked out for 5 minutes.\n"
}

func (a *fakeAuth) Authenticate(_ context.Context, user, password string, remote netip.Addr) (Principal, error) {
	a.calls.Add(1)
	if !remote.IsLoopback() {
		return Principal{}, fmt.Errorf("unexpected remote address %s", remote)
	}
	if user == "locked" {
		return Principal{}, lockedOut{}
	}
	if user == "admin" && password == testPassword {
		return Principal{User: "admin", Role: "adminRole", Extra: "aaa-details"}, nil
	}
	return Principal{}, errors.New("wrong user name or password")
}

// echoHandler is the fake Handler. Exec commands:
//
//	exit N    print who ran it, exit N
//	env       print the environment
//	pty       print the pty
//	panic     panic
//	block     wait for the session context to end, then report it on cancelled
//	cat       copy stdin to stdout until EOF
type echoHandler struct {
	calls      atomic.Int32  // Exec and Shell calls
	cancelled  chan struct{} // closed by "block" when its context ends
	disconnect bool          // "disconnect" closes the whole connection
}

func (h *echoHandler) Exec(s *Session, cmd string) int {
	h.calls.Add(1)
	switch {
	case strings.HasPrefix(cmd, "exit "):
		n, _ := strconv.Atoi(strings.TrimPrefix(cmd, "exit "))
		fmt.Fprintf(s, "ran %q as %s/%s/%v from %s\n", cmd, s.User(), s.Principal().Role, s.Principal().Extra, s.RemoteAddr().Addr())
		fmt.Fprintf(s.Stderr(), "stderr of %q\n", cmd)
		return n
	case cmd == "env":
		fmt.Fprintln(s, strings.Join(s.Environ(), "\n"))
	case cmd == "pty":
		term, w, h, ok := s.PTY()
		fmt.Fprintf(s, "pty=%v term=%s size=%dx%d\n", ok, term, w, h)
	case cmd == "panic":
		panic("test panic")
	case cmd == "block":
		<-s.Context().Done()
		if h.cancelled != nil {
			close(h.cancelled)
		}
	case cmd == "disconnect" && h.disconnect:
		s.Disconnect()
		return 1
	case cmd == "cat":
		_, _ = io.Copy(s, s)
	default:
		fmt.Fprintf(s, "ran %q\n", cmd)
	}
	return 0
}

// Shell reports the pty and each window change, and echoes input lines
// until "quit". It is the only writer, so outputs never interleave.
func (h *echoHandler) Shell(s *Session) int {
	h.calls.Add(1)
	term, w, ht, ok := s.PTY()
	fmt.Fprintf(s, "term=%s size=%dx%d pty=%v\r\n", term, w, ht, ok)
	lines := make(chan string)
	go func() {
		defer close(lines)
		var line []byte
		buf := make([]byte, 256)
		for {
			n, err := s.Read(buf)
			for _, c := range buf[:n] {
				if c == '\r' || c == '\n' {
					lines <- string(line)
					line = line[:0]
				} else {
					line = append(line, c)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	winch := s.WindowChanges()
	for {
		select {
		case ws, ok := <-winch:
			if !ok {
				winch = nil
				continue
			}
			fmt.Fprintf(s, "resize %dx%d\r\n", ws.Width, ws.Height)
		case l, ok := <-lines:
			if !ok || l == "quit" {
				return 0
			}
			fmt.Fprintf(s, "echo %s\r\n", l)
		case <-s.Context().Done():
			return 1
		}
	}
}

func (h *echoHandler) Subsystem(s *Session, name string) int {
	fmt.Fprintf(s, "subsystem %s\n", name)
	_, _ = io.Copy(s, s)
	return 0
}

// testServer is a running Server on 127.0.0.1.
type testServer struct {
	srv     *Server
	addr    string
	port    string
	hostKey ssh.PublicKey
	fp      string // identity.Fingerprint of the host key
	auth    *fakeAuth
	handler *echoHandler
	log     *testLog
	served  chan error
}

// testLog collects log lines and forwards them to t.Logf until the test
// ends (logging after that would panic).
type testLog struct {
	mu    sync.Mutex
	t     testing.TB
	done  bool
	lines []string
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	l.lines = append(l.lines, line)
	if !l.done {
		l.t.Logf("server: %s", line)
	}
}

func (l *testLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func newTestServer(t testing.TB, opts ListenOptions, configure ...func(*Server)) *testServer {
	t.Helper()
	dir := t.TempDir()
	files := identity.Files{Key: filepath.Join(dir, "id_ed25519"), Pub: filepath.Join(dir, "id_ed25519.pub"), Cert: filepath.Join(dir, "cert.pem")}
	id, err := identity.Create(files, identity.ID{Site: 1, Member: 1}, identity.DefaultValidity, false)
	if err != nil {
		t.Fatalf("creating identity: %v", err)
	}
	ts := &testServer{auth: &fakeAuth{}, handler: &echoHandler{}, log: &testLog{t: t}, served: make(chan error, 1), fp: id.Fingerprint()}
	_, ts.log.done = t.(*testing.B) // keep benchmark output readable
	ts.srv = &Server{
		HostKey:    id.Key,
		Auth:       ts.auth,
		Handler:    ts.handler,
		Subsystems: []string{trustSubsystem},
		Logf:       ts.log.logf,
	}
	for _, c := range configure {
		c(ts.srv)
	}
	if ts.hostKey, err = ssh.NewPublicKey(id.Key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = l.Addr().String()
	_, ts.port, _ = net.SplitHostPort(ts.addr)
	go func() { ts.served <- ts.srv.ServeOptions(l, opts) }()
	t.Cleanup(func() {
		_ = ts.srv.Close()
		select {
		case err := <-ts.served:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
		ts.log.mu.Lock()
		ts.log.done = true
		ts.log.mu.Unlock()
	})
	return ts
}

// dial logs in with a Go client.
func (ts *testServer) dial(user, password string) (*ssh.Client, error) {
	return ssh.Dial("tcp", ts.addr, &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.FixedHostKey(ts.hostKey),
		Timeout:         10 * time.Second,
	})
}

func (ts *testServer) mustDial(t testing.TB) *ssh.Client {
	t.Helper()
	c, err := ts.dial("admin", testPassword)
	if err != nil {
		t.Fatalf("logging in: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// syncBuffer is a bytes.Buffer safe for one writer and polling readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor polls until buf contains want.
func waitFor(t testing.TB, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q; got output %q", want, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ioCopy copies until src fails (a pty master returns EIO at hangup).
func ioCopy(dst io.Writer, src io.Reader) (int64, error) { return io.Copy(dst, src) }
