package sshserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func TestConcurrentLogins(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			c, err := ts.dial("admin", testPassword)
			if err != nil {
				errs <- fmt.Errorf("login %d: %w", i, err)
				return
			}
			defer c.Close()
			s, err := c.NewSession()
			if err != nil {
				errs <- fmt.Errorf("session %d: %w", i, err)
				return
			}
			out, err := s.Output(fmt.Sprintf("show %d", i))
			if want := fmt.Sprintf("ran \"show %d\"\n", i); err != nil || string(out) != want {
				errs <- fmt.Errorf("exec %d: got %q, %v; want %q", i, out, err, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMaxAuthTries(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	var prompts int
	_, err := ssh.Dial("tcp", ts.addr, &ssh.ClientConfig{
		User: "admin",
		Auth: []ssh.AuthMethod{ssh.RetryableAuthMethod(ssh.PasswordCallback(func() (string, error) {
			prompts++
			return "wrong", nil
		}), 10)},
		HostKeyCallback: ssh.FixedHostKey(ts.hostKey),
		Timeout:         10 * time.Second,
	})
	if err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	if got := ts.auth.calls.Load(); got != DefaultMaxAuthTries {
		t.Errorf("got %d password checks on one connection, want %d", got, DefaultMaxAuthTries)
	}
}

func TestNilAuthRefusesEveryone(t *testing.T) {
	ts := newTestServer(t, ListenOptions{}, func(s *Server) { s.Auth = nil })
	if c, err := ts.dial("admin", testPassword); err == nil {
		c.Close()
		t.Fatal("login succeeded without an Authenticator")
	}
	if !ts.log.contains("no authenticator configured") {
		t.Error("the refusal was not logged")
	}
}

func TestAuthUserMessage(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	var banner string
	_, err := ssh.Dial("tcp", ts.addr, &ssh.ClientConfig{
		User:            "locked",
		Auth:            []ssh.AuthMethod{ssh.Password("x")},
		HostKeyCallback: ssh.FixedHostKey(ts.hostKey),
		BannerCallback:  func(m string) error { banner += m; return nil },
	})
	if err == nil {
		t.Fatal("login succeeded")
	}
	if !strings.Contains(banner, "locked out for 5 minutes") {
		t.Errorf("got banner %q, want the Authenticator's message", banner)
	}
}

func TestSubsystem(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	c := ts.mustDial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	// RequestSubsystem does not start the Stdout copy: use the pipes.
	in, _ := s.StdinPipe()
	stdout, _ := s.StdoutPipe()
	var out syncBuffer
	copied := make(chan error, 1)
	go func() { _, err := io.Copy(&out, stdout); copied <- err }()
	if err := s.RequestSubsystem(trustSubsystem); err != nil {
		t.Fatalf("requesting the %s subsystem: %v", trustSubsystem, err)
	}
	waitFor(t, &out, "subsystem "+trustSubsystem+"\n")
	fmt.Fprintln(in, "hello peer")
	waitFor(t, &out, "hello peer\n")
	in.Close()
	select {
	case err := <-copied:
		if want := "subsystem " + trustSubsystem + "\nhello peer\n"; err != nil || out.String() != want {
			t.Errorf("got %q, %v; want %q", out.String(), err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the subsystem did not end after stdin closed")
	}

	s2, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.RequestSubsystem("sftp"); err == nil {
		t.Error("unknown subsystem sftp was accepted")
	}
}

func TestSubsystemsOnlyGoClient(t *testing.T) {
	ts := newTestServer(t, ListenOptions{SubsystemsOnly: true})
	c := ts.mustDial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	s.Stderr = &stderr
	err = s.Run("show x")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != SubsystemsOnlyStatus {
		t.Errorf("exec on a subsystems-only listener: got %v, want exit status %d", err, SubsystemsOnlyStatus)
	}
	if !strings.Contains(stderr.String(), DefaultSubsystemsOnlyMessage) {
		t.Errorf("got stderr %q, want %q", stderr.String(), DefaultSubsystemsOnlyMessage)
	}
	s2, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.RequestSubsystem(trustSubsystem); err != nil {
		t.Errorf("subsystem on a subsystems-only listener: %v", err)
	}
	if err := s2.RequestSubsystem(trustSubsystem); err == nil {
		t.Error("a second request on the same channel was accepted")
	}
}

func TestGoClientPtyWindowChangeEnv(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	c := ts.mustDial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Setenv("LANG", "C.UTF-8"); err != nil {
		t.Errorf("setting LANG: %v", err)
	}
	if err := s.Setenv("BAD-NAME", "x"); err == nil {
		t.Error("an invalid environment variable name was accepted")
	}
	if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	var out syncBuffer
	s.Stdout = &out
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &out, "term=xterm size=80x24 pty=true")
	if err := s.WindowChange(50, 132); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &out, "resize 132x50")
	fmt.Fprint(in, "quit\n")
	if err := s.Wait(); err != nil {
		t.Errorf("shell ended with %v, want status 0", err)
	}

	s2, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	_ = s2.Setenv("LANG", "C.UTF-8")
	got, err := s2.Output("env")
	if err != nil || string(got) != "LANG=C.UTF-8\n" {
		t.Errorf("env: got %q, %v; want \"LANG=C.UTF-8\\n\"", got, err)
	}
	s3, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	got, err = s3.Output("pty")
	if err != nil || string(got) != "pty=false term= size=0x0\n" {
		t.Errorf("pty without a pty request: got %q, %v", got, err)
	}
}

func TestOneRequestPerChannel(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	c := ts.mustDial(t)
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	go ssh.DiscardRequests(reqs)
	str := func(s string) []byte { return ssh.Marshal(struct{ S string }{s}) }
	if ok, err := ch.SendRequest("exec", true, str("cat")); !ok || err != nil {
		t.Fatalf("first exec: got %v, %v; want accepted", ok, err)
	}
	if ok, _ := ch.SendRequest("exec", true, str("show x")); ok {
		t.Error("a second exec on the same channel was accepted")
	}
	if ok, _ := ch.SendRequest("shell", true, nil); ok {
		t.Error("a shell after exec on the same channel was accepted")
	}
	if ok, _ := ch.SendRequest("env", true, ssh.Marshal(struct{ N, V string }{"A", "b"})); ok {
		t.Error("env after exec was accepted")
	}
	if ok, _ := ch.SendRequest("x11-req", true, nil); ok {
		t.Error("x11-req was accepted")
	}
	if _, err := ch.Write([]byte("still cat\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(ch, buf, len("still cat\n"))
	if err != nil || string(buf[:n]) != "still cat\n" {
		t.Errorf("got %q, %v; want the cat output", buf[:n], err)
	}
}

func TestForwardingRefused(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	c := ts.mustDial(t)
	if conn, err := c.Dial("tcp", ts.addr); err == nil {
		conn.Close()
		t.Error("direct-tcpip channel accepted")
	}
	if l, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
		t.Error("tcpip-forward accepted")
	}
	if ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil || ok {
		t.Errorf("keepalive: got %v, %v; want a false reply", ok, err)
	}
	// The connection still works afterwards.
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s.Output("show x"); err != nil || string(out) != "ran \"show x\"\n" {
		t.Errorf("got %q, %v", out, err)
	}
}

func TestHandlerPanic(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	c := ts.mustDial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run("panic")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 1 {
		t.Errorf("got %v, want exit status 1", err)
	}
	if !ts.log.contains("panicked: test panic") {
		t.Error("panic not logged")
	}
}

func TestShutdownIdle(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	c := ts.mustDial(t) // authenticated, no session: closed at once
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-ts.served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	ts.served <- ErrServerClosed // for the cleanup check
	if err := c.Wait(); err == nil {
		t.Error("client connection still open")
	}
	if conn, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		conn.Close()
		t.Error("still accepting after Shutdown")
	}
}

func TestShutdownWaitsForSessions(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	c := ts.mustDial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	var out syncBuffer
	s.Stdout = &out
	if err := s.Start("cat"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(context.Background()) }()
	// New sessions are refused while the running one goes on.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s2, err := c.NewSession()
		if err != nil {
			break
		}
		s2.Close()
		if time.Now().After(deadline) {
			t.Fatal("new sessions still accepted during Shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintln(in, "still here")
	waitFor(t, &out, "still here\n")
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a session was open", err)
	default:
	}
	in.Close()
	if err := s.Wait(); err != nil {
		t.Errorf("session ended with %v, want status 0", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the last session ended")
	}
}

func TestShutdownDeadlineCancelsSessions(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	ts.handler.cancelled = make(chan struct{})
	c := ts.mustDial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("block"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: got %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-ts.handler.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the session's context was not cancelled")
	}
	if err := s.Wait(); err == nil {
		t.Error("session ended cleanly, want the connection closed")
	}
}

func TestClientDisconnectCancelsSession(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	ts.handler.cancelled = make(chan struct{})
	c, err := ts.dial("admin", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("block"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	select {
	case <-ts.handler.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the session's context was not cancelled when the client went away")
	}
}

func TestLoginGraceTime(t *testing.T) {
	ts := newTestServer(t, ListenOptions{}, func(s *Server) { s.LoginGraceTime = 100 * time.Millisecond })
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	// The server sends its version, then closes the silent connection.
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Errorf("got %v, want the server to close the connection", err)
	}
}

func TestServeRequiresHostKeyAndHandler(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Server{Handler: &echoHandler{}}).Serve(l); err == nil || !strings.Contains(err.Error(), "no host key") {
		t.Errorf("got %v, want a missing host key error", err)
	}
	ts := newTestServer(t, ListenOptions{})
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Server{HostKey: ts.srv.HostKey}).Serve(l); err == nil || !strings.Contains(err.Error(), "no handler") {
		t.Errorf("got %v, want a missing handler error", err)
	}
}

func TestListenAndServeClose(t *testing.T) {
	ts := newTestServer(t, ListenOptions{})
	srv := &Server{HostKey: ts.srv.HostKey, Handler: ts.handler, Auth: ts.auth, Logf: ts.log.logf}
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe("127.0.0.1:0") }()
	time.Sleep(20 * time.Millisecond) // either order must end in ErrServerClosed
	_ = srv.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrServerClosed) {
			t.Errorf("got %v, want ErrServerClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return after Close")
	}
}
