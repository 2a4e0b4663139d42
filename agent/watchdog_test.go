package agent_test

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/agent"
	"github.com/sirupsen/logrus"
)

// Under systemd with WatchdogSec=: READY=1, then WATCHDOG=1 with the mesh
// summary every half period while the main loop runs, and no more pings once
// the debug hook wedges the loop (systemd would then restart clishd).
func TestWatchdogPingsOnlyWhileLoopHealthy(t *testing.T) {
	layout, cfg := isolatedRoot(t, "1_1,1_2,2_1", "--set", "management.port=0")
	notify := filepath.Join(t.TempDir(), "notify.sock")
	nl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	t.Setenv("NOTIFY_SOCKET", notify)
	t.Setenv("WATCHDOG_USEC", "400000")
	t.Setenv(agent.WedgeEnv, "1500ms")

	log := logrus.New()
	log.SetOutput(&bytes.Buffer{})
	a, err := agent.New(agent.Options{Layout: layout, Config: cfg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- a.Run(ctx) }()

	type msg struct {
		at   time.Duration
		text string
	}
	var msgs []msg
	buf := make([]byte, 512)
	for time.Since(start) < 3500*time.Millisecond {
		nl.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := nl.Read(buf)
		if err != nil {
			continue
		}
		msgs = append(msgs, msg{time.Since(start), string(buf[:n])})
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a wedged daemon did not stop on cancel")
	}

	var ready, pings, stuck, afterStuck int
	for _, m := range msgs {
		switch {
		case strings.Contains(m.text, "READY=1"):
			ready++
		case strings.Contains(m.text, "WATCHDOG=1"):
			pings++
			if stuck > 0 {
				afterStuck++
			}
			if !strings.Contains(m.text, "STATUS=0/2 peers Authenticated, 2 Unknown") {
				t.Errorf("ping without the mesh summary: %q", m.text)
			}
		case strings.Contains(m.text, "STATUS=main loop not responding"):
			// A loaded machine may be slow for one period before the
			// wedge; only the pings after the last such message count.
			stuck++
			afterStuck = 0
		}
	}
	t.Logf("messages: %v", msgs)
	if ready != 1 {
		t.Errorf("READY=1 sent %d times, want 1", ready)
	}
	// Pings every 200 ms until the wedge at 1.5 s.
	if pings < 3 {
		t.Errorf("%d watchdog pings before the wedge, want at least 3", pings)
	}
	if stuck < 1 || afterStuck != 0 {
		t.Errorf("%d STATUS messages about the stuck loop (want 1 or more), %d pings after it (want 0)", stuck, afterStuck)
	}
}
