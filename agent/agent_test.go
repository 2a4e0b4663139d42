package agent_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/agent"
	"github.com/orchd/orchd/ctlsock"
	"github.com/orchd/orchd/state"
	"github.com/sirupsen/logrus"
)

// An in-process daemon outside any testbed: it notifies systemd, serves the
// console, reports its missing sync ports and peers without inventing
// anything, and stops cleanly.
func TestDaemonLifecycle(t *testing.T) {
	layout, cfg := isolatedRoot(t, "1_1,1_2,2_1")

	notify := filepath.Join(t.TempDir(), "notify.sock")
	nl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	t.Setenv("NOTIFY_SOCKET", notify)

	log := logrus.New()
	log.SetOutput(&bytes.Buffer{})
	a, err := agent.New(agent.Options{Layout: layout, Config: cfg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	nl.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := nl.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "READY=1") {
		t.Fatalf("no READY=1 from the daemon: %q %v", buf[:n], err)
	}

	f, err := state.Read(layout.StateFile(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if f.Staleness() != "" || f.Orchestrator.ID != "1_1" || len(f.Peers) != 2 {
		t.Fatalf("state: %+v", f)
	}
	for _, p := range f.SyncPorts {
		if p.State != state.PortMissing {
			t.Errorf("port %s is %s, want missing", p.Interface, p.State)
		}
	}
	for _, p := range f.Peers {
		if p.Status == state.Authenticated {
			t.Errorf("peer %s Authenticated without any trust or link", p.ID)
		}
	}

	c, err := ctlsock.Dial(layout.Socket())
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code, err := c.Run(&ctlsock.Hello{Mode: ctlsock.ModeExec, Command: "show config-state"}, nil, &out, &errb)
	c.Close()
	if err != nil || code != 0 || strings.TrimSpace(out.String()) != "saved" {
		t.Fatalf("console exec: %d %v %q %q", code, err, out.String(), errb.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop")
	}
	if _, err := os.Stat(layout.Socket()); err == nil {
		t.Error("control socket left behind")
	}
}
