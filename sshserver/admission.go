package sshserver

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Limits on connections that have not logged in yet (DESIGN §12). Each
// holds a goroutine and a few tens of KiB until LoginGraceTime, so a client
// opening connections in a loop must not be able to hold thousands. 64 from
// one address is above the heaviest legitimate burst (the benchmark's 50
// concurrent logins from one host; a trust-all opens one per target) and
// far below what costs the daemon anything; 256 in all leaves room for four
// such sources at once. OpenSSH's MaxStartups-style random early drop is
// not copied: DESIGN §7 asks that no concurrent legitimate login be refused.
const (
	DefaultMaxUnauthPerSource = 64
	DefaultMaxUnauth          = 256
)

// notAllowed is written, before the SSH version line (RFC 4253 §4.2 lets a
// server send other lines first), to a connection refused before any
// crypto; OpenSSH's drop_connection says the same.
const notAllowed = "not allowed at this time\r\n"

// unauthTable counts the connections of each source address that have not
// finished authenticating. Entries exist only while a count is positive, so
// the table is bounded by the total cap.
type unauthTable struct {
	mu    sync.Mutex
	total int
	by    map[netip.Addr]int
}

// acquire takes a slot for addr, reporting false (and why) when the source
// or the server is at its cap.
func (u *unauthTable) acquire(addr netip.Addr, perSource, total int) (bool, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.by == nil {
		u.by = map[netip.Addr]int{}
	}
	switch {
	case u.by[addr] >= perSource:
		return false, "too many unauthenticated connections from this address"
	case u.total >= total:
		return false, "too many unauthenticated connections"
	}
	u.by[addr]++
	u.total++
	return true, ""
}

func (u *unauthTable) release(addr netip.Addr) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.by[addr] <= 1 {
		delete(u.by, addr)
	} else {
		u.by[addr]--
	}
	u.total--
}

// admit decides, before any crypto, whether nc may start a handshake: the
// AllowConn hook (per-address lockout) first, then the unauthenticated
// connection caps. On refusal it tells the client in one line and closes
// nc; release must be called once authentication ends either way.
func (s *Server) admit(nc net.Conn) (release func(), ok bool) {
	addr := addrPort(nc.RemoteAddr()).Addr()
	// The log key is the address and the kind of refusal, not its text:
	// a lockout's text counts the failures and the time left, so it
	// changes with every connection, and keying on it logged each of an
	// attack's thousands of refusals (a quarter of their cost).
	refuse := func(kind, why string) (func(), bool) {
		s.refusedLog.logf(s.logf, addr.String()+" "+kind, "sshserver: refused connection from %s before the handshake: %s", addr, why)
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		nc.Write([]byte(notAllowed))
		nc.Close()
		return nil, false
	}
	if s.AllowConn != nil {
		if err := s.AllowConn(addr); err != nil {
			return refuse("not allowed", err.Error())
		}
	}
	per, total := s.MaxUnauthPerSource, s.MaxUnauth
	if per <= 0 {
		per = DefaultMaxUnauthPerSource
	}
	if total <= 0 {
		total = DefaultMaxUnauth
	}
	if ok, why := s.unauth.acquire(addr, per, total); !ok {
		return refuse(why, why)
	}
	var once sync.Once
	return func() { once.Do(func() { s.unauth.release(addr) }) }, true
}

// logLimiter keeps a repeating refusal (a client retrying in a loop) to one
// log line per key and interval; its table is cleared when it grows large.
type logLimiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (l *logLimiter) logf(logf func(string, ...any), key, format string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	if t, ok := l.last[key]; ok && now.Sub(t) < 10*time.Second {
		l.mu.Unlock()
		return
	}
	if l.last == nil || len(l.last) > 1024 {
		l.last = map[string]time.Time{}
	}
	l.last[key] = now
	l.mu.Unlock()
	logf(format, args...)
}
