package agent_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orchd/orchd/agent"
	"github.com/orchd/orchd/ctlsock"
	"github.com/orchd/orchd/identity"
	"github.com/sirupsen/logrus"
)

// endless streams one byte forever: a console client sending a line that
// never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	return len(p), nil
}

// An in-process daemon: stale temp files swept at start, SIGHUP re-reads a
// hand-edited block list, and a console client sending an endless line is
// cut off.
func TestDaemonHardening(t *testing.T) {
	layout, cfg := isolatedRoot(t, "1_1,1_2")
	stale := filepath.Join(layout.LibDir(), ".trust.json.tmp-4242")
	os.MkdirAll(layout.LibDir(), 0o700)
	if err := os.WriteFile(stale, []byte("half a write"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The test binary must not die of a SIGHUP sent before the daemon
	// registered its handler.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	log := logrus.New()
	log.SetOutput(io.Discard)
	a, err := agent.New(agent.Options{Layout: layout, Config: cfg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop")
		}
	}()
	exec := func(cmd string) string {
		t.Helper()
		var out, errb bytes.Buffer
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := ctlsock.Dial(layout.Socket())
			if err == nil {
				_, err = c.Run(&ctlsock.Hello{Mode: ctlsock.ModeExec, Command: cmd}, nil, &out, &errb)
				c.Close()
				if err == nil {
					return out.String() + errb.String()
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("console: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	exec("show config-state")
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp file not swept at start: %v", err)
	}

	fp := identity.Fingerprint(bytes.Repeat([]byte{7}, 32))
	if err := os.WriteFile(layout.BlockedFingerprints(), []byte("# by hand\n"+fp+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(exec("show maestro authentication blocked"), fp) {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not make the daemon re-read the hand-edited block list")
		}
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		time.Sleep(50 * time.Millisecond)
	}

	// An interactive console session streaming a line without a newline.
	c, err := ctlsock.Dial(layout.Socket())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out bytes.Buffer
	res := make(chan int, 1)
	go func() {
		code, _ := c.Run(&ctlsock.Hello{Mode: ctlsock.ModeInteractive}, endless{}, &out, io.Discard)
		res <- code
	}()
	select {
	case code := <-res:
		if code != 1 || !strings.Contains(out.String(), "line longer than 64 KiB: refused: disconnecting") {
			t.Errorf("endless line: exit %d, output tail %q", code, tail(out.String()))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a console session streaming an endless line was not cut off")
	}
	if strings.Contains(exec("show config-state"), "saved") == false {
		t.Error("the daemon stopped answering after cutting a client off")
	}
}

func tail(s string) string {
	if len(s) > 200 {
		return s[len(s)-200:]
	}
	return s
}
