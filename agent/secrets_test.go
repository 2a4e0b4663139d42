package agent_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchd/orchd/agent"
	"github.com/orchd/orchd/ctlsock"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Unsealing makes the daemon non-dumpable (no core dump holds the data key),
// and the passphrase appears nowhere in the daemon's log.
func TestUnsealedDaemonIsNotDumpable(t *testing.T) {
	if d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); d != 1 {
		t.Skipf("the test process is not dumpable to begin with (%d)", d)
	}
	layout, cfg := isolatedRoot(t, "1_1")
	var logBuf syncBuffer
	log := logrus.New()
	log.SetOutput(&logBuf)
	a, err := agent.New(agent.Options{Layout: layout, Config: cfg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		// Later tests in this process may want core dumps again.
		unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0)
	}()

	const pass = "MARKER-dumpable-pass"
	var out, errb bytes.Buffer
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := ctlsock.Dial(layout.Socket())
		if err == nil {
			out.Reset()
			errb.Reset()
			code, err := c.Run(&ctlsock.Hello{Mode: ctlsock.ModeExec, Command: "security init",
				Answers: map[string]string{"clusterPassphrase": pass}}, nil, &out, &errb)
			c.Close()
			if err != nil || code != 0 {
				t.Fatalf("security init: %d %v %q %q", code, err, out.String(), errb.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("console: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); d != 0 {
		t.Fatalf("PR_GET_DUMPABLE = %d after unseal, want 0", d)
	}
	if strings.Contains(logBuf.String(), pass) || !strings.Contains(logBuf.String(), "secret store initialized") {
		t.Fatalf("log:\n%s", logBuf.String())
	}
}

// syncBuffer is a bytes.Buffer the daemon's goroutines may log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
