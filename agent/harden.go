package agent

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/orchd/orchd/atomicfile"
	"github.com/sirupsen/logrus"
)

// cutOff disconnects a client that sent a shell line over the limit
// (DESIGN §12): logged with who and from where, never with the line.
func (a *Agent) cutOff(s *adminSession, log *logrus.Entry) {
	log.Warn("shell line over the length limit: client disconnected")
	if s.disconnect != nil {
		s.disconnect()
	}
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sweepTemps removes the temporary files of atomic writes a crash left
// behind (they never hold anything the real file does not). Only the
// daemon writes under these directories, and Run calls this once it knows
// it is the only daemon on this root.
func (a *Agent) sweepTemps() {
	l := a.opts.Layout
	removed, err := atomicfile.SweepTemps(l.EtcDir(), l.LibDir(), l.RunDir())
	for _, p := range removed {
		a.log.WithField("file", p).Info("removed a stale temporary file left by an interrupted write")
	}
	if err != nil {
		a.log.WithError(err).Warn("sweeping stale temporary files")
	}
}

// reloadOnHUP re-reads the block list (and pins) on SIGHUP, for an
// administrator who edited etc/clishd/blocked_fingerprints by hand. A file
// that does not parse is reported and the running lists are kept. Without
// this handler SIGHUP would end the daemon (Go's default).
func (a *Agent) reloadOnHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := a.trust.Reload(); err != nil {
				a.log.WithError(err).Error("SIGHUP: not reloaded; the running trust store and block list are unchanged")
				continue
			}
			a.log.WithField("blocked", len(a.trust.BlockedList())).Info("SIGHUP: reloaded the block list and trust store")
		}
	}
}
