package acceptloop

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeListener returns the queued results in order, then blocks until closed.
type fakeListener struct {
	mu      sync.Mutex
	results []error // nil = a connection
	closed  chan struct{}
	once    sync.Once
}

func (f *fakeListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	if len(f.results) > 0 {
		err := f.results[0]
		f.results = f.results[1:]
		f.mu.Unlock()
		if err != nil {
			return nil, err
		}
		c1, c2 := net.Pipe()
		c2.Close()
		return c1, nil
	}
	f.mu.Unlock()
	<-f.closed
	return nil, net.ErrClosed
}

func (f *fakeListener) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

func opErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

func TestRunRetriesTransientErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		results []error
		conns   int
	}{
		{"emfile", []error{opErr(syscall.EMFILE), opErr(syscall.EMFILE), nil}, 1},
		{"enfile then ok", []error{opErr(syscall.ENFILE), nil, nil}, 2},
		{"econnaborted", []error{opErr(syscall.ECONNABORTED), nil}, 1},
		{"enobufs", []error{nil, opErr(syscall.ENOBUFS), opErr(syscall.ENOMEM), nil}, 2},
		{"unknown error", []error{errors.New("something odd"), nil}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &fakeListener{results: tc.results, closed: make(chan struct{})}
			got := make(chan net.Conn, 10)
			var logs []string
			var mu sync.Mutex
			done := make(chan error, 1)
			go func() {
				done <- Run(context.Background(), l, func(f string, a ...any) {
					mu.Lock()
					logs = append(logs, f)
					mu.Unlock()
				}, func(c net.Conn) { got <- c })
			}()
			for i := 0; i < tc.conns; i++ {
				select {
				case c := <-got:
					c.Close()
				case err := <-done:
					t.Fatalf("Run returned %v after %d of %d connections", err, i, tc.conns)
				case <-time.After(5 * time.Second):
					t.Fatalf("only %d of %d connections accepted", i, tc.conns)
				}
			}
			l.Close()
			if err := <-done; err != nil {
				t.Errorf("Run after Close: %v, want nil", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(logs) != 1 {
				t.Errorf("got %d log lines, want 1 (rate-limited): %q", len(logs), logs)
			}
		})
	}
}

func TestRunStopsOnContext(t *testing.T) {
	l := &fakeListener{closed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, l, nil, func(c net.Conn) { c.Close() }) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestBackoff(t *testing.T) {
	var b Backoff
	want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000}
	for i, w := range want {
		if got := b.Next(); got != w*time.Millisecond {
			t.Fatalf("step %d: %v, want %v", i, got, w*time.Millisecond)
		}
	}
	b.Reset()
	if got := b.Next(); got != MinBackoff {
		t.Errorf("after Reset: %v", got)
	}
}

// TestRunSurvivesRealEMFILE runs out of file descriptors for real: the
// queued connections wait in the kernel's backlog while accept fails with
// EMFILE, and are served once descriptors are free again.
func TestRunSurvivesRealEMFILE(t *testing.T) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skip(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	var clients []net.Conn
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	fds, _ := os.ReadDir("/proc/self/fd")
	lim := old
	lim.Cur = uint64(len(fds) + 16)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	var hogs []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		hogs = append(hogs, f)
	}
	logged := make(chan string, 10)
	got := make(chan net.Conn, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, l, func(f string, a ...any) {
			select {
			case logged <- f:
			default:
			}
		}, func(c net.Conn) { got <- c })
	}()
	select {
	case <-logged:
	case c := <-got:
		c.Close()
		t.Fatal("accepted a connection with no free file descriptor")
	case <-time.After(5 * time.Second):
		t.Fatal("no accept error logged while out of file descriptors")
	}
	for _, f := range hogs {
		f.Close()
	}
	for i := range n {
		select {
		case c := <-got:
			c.Close()
		case err := <-done:
			t.Fatalf("Run returned %v after EMFILE", err)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d queued connections accepted after descriptors were freed", i, n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
