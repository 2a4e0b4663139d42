// Package acceptloop owns the accept loop every orchd listener runs (the
// control socket, the SSH servers, the sync sessions): an accept error that
// is not the listener being closed — out of file descriptors (EMFILE,
// ENFILE), a connection aborted before it was accepted (ECONNABORTED), out
// of buffers — is transient, so it is logged (rate-limited) and retried with
// backoff instead of ending the listener and with it the daemon (DESIGN §12).
package acceptloop

import (
	"context"
	"errors"
	"net"
	"time"
)

// Backoff bounds, as net/http's Server uses: short enough that a freed file
// descriptor is used at once, long enough that a persistent EMFILE does not
// spin a core.
const (
	MinBackoff = 5 * time.Millisecond
	MaxBackoff = time.Second
	// logEvery keeps a persistent error to one log line per interval.
	logEvery = 10 * time.Second
)

// Run accepts connections on l and hands each to handle (which must not
// block: start a goroutine). It returns nil when ctx ends or l is closed,
// after closing l. Any other accept error is retried after a backoff that
// doubles from MinBackoff to MaxBackoff and resets after a success; logf
// (may be nil) hears of it at most every 10 s.
func Run(ctx context.Context, l net.Listener, logf func(format string, args ...any), handle func(net.Conn)) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	defer l.Close()
	var b Backoff
	var lastLog time.Time
	for {
		c, err := l.Accept()
		if err == nil {
			b.Reset()
			handle(c)
			continue
		}
		if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
			return nil
		}
		d := b.Next()
		if logf != nil && time.Since(lastLog) >= logEvery {
			lastLog = time.Now()
			logf("accepting on %s: %v (transient; retrying with backoff up to %v)", l.Addr(), err, MaxBackoff)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Backoff is the delay sequence after consecutive accept errors.
type Backoff struct{ d time.Duration }

// Next returns the next delay: MinBackoff, then doubling up to MaxBackoff.
func (b *Backoff) Next() time.Duration {
	b.d = min(max(2*b.d, MinBackoff), MaxBackoff)
	return b.d
}

// Reset starts the sequence again.
func (b *Backoff) Reset() { b.d = 0 }
