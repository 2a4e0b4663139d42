package agent

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/orchd/orchd/state"
)

// WedgeEnv is a debug control for testing the systemd watchdog: set to a
// duration (ORCHD_DEBUG_WEDGE_MAIN_LOOP=3s), clishd wedges its main loop that
// long after start by holding the agent's state lock, as a deadlock would.
// The watchdog pings then stop and systemd restarts the daemon. Only who sets
// the daemon's environment (root, the unit file) can use it; clishd warns at
// start when it is set.
const WedgeEnv = "ORCHD_DEBUG_WEDGE_MAIN_LOOP"

// statusPeriod is how often STATUS= is refreshed when systemd asked for
// readiness but not for a watchdog.
const statusPeriod = 2 * time.Second

// loopBeat is when the main loop (the state writer, which takes the agent's
// and the peer manager's locks on every pass) last completed a pass.
type loopBeat struct{ at atomic.Int64 }

func (b *loopBeat) mark()                  { b.at.Store(time.Now().UnixNano()) }
func (b *loopBeat) since(t time.Time) bool { return b.at.Load() >= t.UnixNano() }

// startWatchdog starts the systemd watchdog and status reporter when clishd
// runs under systemd (NOTIFY_SOCKET set), and the debug wedge when asked.
func (a *Agent) startWatchdog(ctx context.Context, wg *sync.WaitGroup) {
	if v := os.Getenv(WedgeEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			a.log.WithError(err).Warnf("ignoring %s=%q: expected a duration such as 3s", WedgeEnv, v)
		} else {
			a.log.Warnf("debug: %s is set: the main loop wedges %s after start", WedgeEnv, d)
			wg.Add(1)
			go func() { defer wg.Done(); a.wedge(ctx, d) }()
		}
	}
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return
	}
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		a.log.WithError(err).Warn("ignoring the systemd watchdog setting")
	}
	wg.Add(1)
	go func() { defer wg.Done(); a.watchdog(ctx, interval) }()
}

// watchdog sends WATCHDOG=1 every interval/2, but only when the main loop
// answered the previous request for a pass: a wedged loop stops the pings
// and systemd (WatchdogSec=) kills and restarts clishd. Each message carries
// STATUS= with the mesh summary shown by systemctl status.
func (a *Agent) watchdog(ctx context.Context, interval time.Duration) {
	period := interval / 2
	if interval == 0 {
		period = statusPeriod
	}
	t := time.NewTicker(period)
	defer t.Stop()
	asked := time.Now()
	a.markDirty()
	stuck := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !a.beat.since(asked) {
			if !stuck {
				stuck = true
				a.log.Errorf("main loop has not completed a pass since %s: withholding watchdog pings", asked.UTC().Format(time.RFC3339))
				daemon.SdNotify(false, "STATUS=main loop not responding since "+asked.UTC().Format(time.RFC3339)+"; watchdog pings withheld")
			}
			continue
		}
		if stuck {
			stuck = false
			a.log.Warn("main loop responding again")
		}
		msg := "STATUS=" + meshSummary(a.mesh.Statuses())
		if interval > 0 {
			msg = daemon.SdNotifyWatchdog + "\n" + msg
		}
		if _, err := daemon.SdNotify(false, msg); err != nil {
			a.log.WithError(err).Debug("notifying systemd")
		}
		asked = time.Now()
		a.markDirty()
	}
}

// wedge holds the agent's state lock from d after start until shutdown.
func (a *Agent) wedge(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(d):
	}
	a.mu.Lock()
	a.log.Warnf("debug: main loop wedged (%s)", WedgeEnv)
	<-ctx.Done()
	a.mu.Unlock()
}

// meshSummary is the STATUS= line: "3/3 peers Authenticated", followed by
// the count of each other status when not all are.
func meshSummary(ps []state.Peer) string {
	n := map[string]int{}
	for _, p := range ps {
		n[p.Status]++
	}
	s := fmt.Sprintf("%d/%d peers %s", n[state.Authenticated], len(ps), state.Authenticated)
	var rest []string
	for st, c := range n {
		if st != state.Authenticated {
			rest = append(rest, fmt.Sprintf("%d %s", c, st))
		}
	}
	if len(rest) > 0 {
		sort.Strings(rest)
		s += ", " + strings.Join(rest, ", ")
	}
	return s
}
