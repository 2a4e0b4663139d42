package peers

import (
	"context"
	"net/netip"
	"runtime"
	"time"

	"github.com/orchd/orchd/threadprio"
)

// setupTime bounds a TLS handshake and the hello exchange. It is longer
// than DeadAfter on purpose: during a trust storm on a loaded machine a
// handshake waits for CPU, and timing it out only makes another one.
const setupTime = 3 * time.Second

func (m *Manager) setupTimeout() time.Duration { return max(m.cfg.DeadAfter, setupTime) }

// silenceError ends a session whose peer said nothing for after (DeadAfter,
// or strainedDeadAfter under strain); it is a timeout, so ended() reports
// "no heartbeat".
type silenceError struct{ after time.Duration }

func (silenceError) Error() string   { return "no heartbeat" }
func (silenceError) Timeout() bool   { return true }
func (silenceError) Temporary() bool { return true }

// writeTimeout bounds one write to a session. It only catches a peer that
// stopped reading (its window stayed full): liveness is the datagrams'
// job. At DeadAfter it ended healthy sessions whenever this process was
// descheduled between arming the deadline and writing — on a busy 64-node
// host, most of the flaps once the mesh had settled (bench/RESULTS.md).
const writeTimeout = 5 * time.Second

// writeStallError ends a session whose peer took none of our data for
// writeTimeout.
type writeStallError struct{ err error }

func (e writeStallError) Error() string { return "write stalled: " + e.err.Error() }
func (e writeStallError) Unwrap() error { return e.err }

// ticker is the one timer of all sessions (DESIGN §7: the per-session
// timers and wakeups were most of the idle cost of a large mesh). Every
// tick period it reads every queued liveness datagram, ends the sessions
// whose peer fell silent, sends each session's datagram, and hands the
// writers what is due: a TLS heartbeat only where datagrams do not reach
// the peer and the session sent nothing else, delayed views, renewed
// certificates. A peer whose silence reaches DeadAfter between two ticks
// is judged at that moment (a short extra wake that only reads and
// judges), so detection takes DeadAfter from the peer's last datagram, not
// up to a tick period more.
//
// It runs on its own OS thread, prioritised when allowed, so that a machine
// saturated by other work delays it least; its datagram system calls are
// raw (udp_linux.go) so it keeps its P through them.
func (m *Manager) ticker(ctx context.Context) {
	raised := threadprio.Lock()
	defer runtime.UnlockOSThread()
	if !raised {
		m.logf("peers: liveness tick at normal priority (not permitted to raise it)")
	}
	var out outQueue
	last := time.Now()
	next := last
	var strainedUntil time.Time
	period := m.tickPeriod()
	perSecond := max(1, int(time.Second/period))
	// verdictAt is the earliest moment before the next tick at which a
	// session's silence reaches its limit (zero: none).
	var verdictAt time.Time
	inStorm := false
	for n := 0; ; {
		target, full := next.Add(period), true
		if !verdictAt.IsZero() && verdictAt.Before(target) {
			target, full = verdictAt, false
		}
		// A runtime sleep, not nanosleep(2): a thread blocked in a system
		// call keeps its P "in syscall", and sysmon polls such a P every
		// 20 µs to 10 ms before taking it back — some 50 wakeups per tick
		// and per daemon, a quarter of an idle 64-node mesh's CPU.
		asleep := time.Now()
		time.Sleep(target.Sub(asleep))
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		if storm := now.UnixNano() < m.stormUntil.Load(); storm != inStorm {
			inStorm = storm
			if m.cfg.OnStorm != nil {
				m.cfg.OnStorm(storm)
			}
		}
		// Lateness is past the intended wake: a verdict due while we were
		// busy (or frozen) is due at once, which is not late.
		late := now.Sub(target)
		if target.Before(asleep) {
			late = now.Sub(asleep)
		}
		if full {
			n++
			next = target
			if late > period {
				next = now // fell behind (stopped, starved): do not catch up in a burst
			}
		}
		// A tick this late means this process did not run (stopped, or
		// starved of CPU): what it heard meanwhile may still be queued
		// or dropped, so judge nobody on this tick.
		gap := now.Sub(last)
		judge := gap < m.cfg.DeadAfter
		last = now
		// While our own tick runs late the machine is saturated (a trust
		// storm on a shared host): peers are likely late for the same
		// reason, and ending their sessions would only add handshakes.
		// Judge with strainedDeadAfter until we ran on time for a while.
		// A long gap since the last tick counts too: a stall inside the
		// previous tick does not show as lateness of this one.
		// Half of DeadAfter: a peer's datagram interval leaves that much
		// slack, and a lower bar (a quarter) let the short burst of work
		// that one peer's death causes at every node put most of them in
		// strained mode, so they noticed that death only after 3 s.
		if late > m.cfg.DeadAfter/2 || gap > period+m.cfg.DeadAfter/2 {
			strainedUntil = now.Add(strainWindow)
		}
		deadAfter := m.cfg.DeadAfter
		if now.Before(strainedUntil) || now.UnixNano() < m.stormUntil.Load() {
			deadAfter = max(deadAfter, strainedDeadAfter)
		}
		t := m.tickSess.Load()
		if t == nil {
			t = &tickSessions{}
		}
		m.drainUDP(now, t.byTag)
		tDrain := time.Now()
		slow := full && n%perSecond == 0

		// System calls first (datagrams out), waking writers last: a woken
		// writer may take this process's last free P, and a system call
		// returning without one waits for ordinary threads to run —
		// behind every other process on a busy host.
		if full {
			storm := now.UnixNano() < m.stormUntil.Load()
			slowTicks := int(slowInterval / period)
			for _, s := range t.list {
				// Each session sends every other tick, half of them on
				// even ticks and half on odd ones, so the sends of a
				// large mesh are spread over the interval.
				// A late tick sends for every session: the others' last
				// datagrams are already a late tick old.
				// In a trust storm, a version 3 peer gets a flagged
				// datagram every slowInterval only (see liveSlowBit).
				k := s.live
				if k == nil || m.testMuteUDP.Load() || s.ended() {
					continue
				}
				k.sinceSend++
				slowly := storm && k.slowOK
				due := (n+k.phase)%2 == 0 || late > period/2
				if due && slowly && k.sentSlow && k.sinceSend < slowTicks && late <= period/2 {
					due = false
				}
				if due {
					out.add(s, slowly)
					k.sinceSend = 0
				}
			}
			out.flush(m)
		}
		tFlush := time.Now()
		verdictAt = time.Time{}
		nextTick := next.Add(period)
		for _, s := range t.list {
			if s.ended() {
				continue // the next published list drops it
			}
			heard := time.Unix(0, s.lastHeard.Load())
			deadAfter := deadAfter
			if s.live != nil && s.live.peerSlow {
				deadAfter = max(deadAfter, strainedDeadAfter)
			}
			if judge && now.Sub(heard) > deadAfter {
				// Bytes waiting in the kernel mean it spoke and our reader
				// is late (a busy process) — unless the count stands still
				// (a reader stuck for good must not keep a session alive).
				if n := unreadInput(s.conn.NetConn()); n == 0 || n == s.unreadSeen {
					s.close(silenceError{after: deadAfter}, false)
					continue
				} else {
					s.unreadSeen = n
				}
				s.lastHeard.Store(now.UnixNano())
				heard = now
			}
			// Just past the limit: the check above is "more than".
			if due := heard.Add(deadAfter + time.Millisecond); due.Before(nextTick) && (verdictAt.IsZero() || due.Before(verdictAt)) {
				verdictAt = due
			}
			if !full {
				continue
			}
			var w uint32
			if !s.udpOut.Load() && now.Sub(time.Unix(0, s.lastSent.Load())) >= m.cfg.Heartbeat/2 {
				w |= wantHeartbeat
			}
			if slow && now.Sub(time.Unix(0, s.lastView.Load())) >= viewRefresh+s.refreshJitter {
				w |= wantView
			}
			// A deferred view waits out minViewInterval: poking the writer
			// every tick for it would send one per tick while a large mesh
			// converges, each decoded by its receiver.
			pend := s.pending.Load()
			if pend&wantView != 0 && s.viewHeld(now) {
				pend &^= wantView
			}
			if w != 0 || pend != 0 {
				s.want(w)
			}
		}
		if took := time.Since(now); late > m.cfg.DeadAfter/4 || took > period {
			m.limiter.logf(m.logf, "slowtick", "peers: liveness tick %s late, took %s (reading %s, sending %s, judging %s) (this process was not scheduled in time: peers may find it silent)", fmtDur(late), fmtDur(took), fmtDur(tDrain.Sub(now)), fmtDur(tFlush.Sub(tDrain)), fmtDur(time.Since(tFlush)))
		}
	}
}

// outQueue is one tick's datagrams, sent per socket in one batch.
type outQueue struct {
	data  []byte // every datagram, back to back
	socks []*udpSock
	by    map[*udpSock]*outBatch
}

type outBatch struct {
	pkts [][]byte
	tos  []netip.AddrPort
	sess []*session
}

func (q *outQueue) add(s *session, slow bool) {
	if q.by == nil {
		q.by = map[*udpSock]*outBatch{}
	}
	b := q.by[s.udp]
	if b == nil {
		b = &outBatch{}
		q.by[s.udp] = b
	}
	if len(b.pkts) == 0 {
		q.socks = append(q.socks, s.udp)
	}
	if cap(q.data)-len(q.data) < livePktLen {
		// A new array: the datagrams queued so far keep the old one.
		q.data = make([]byte, 0, max(2*cap(q.data), 64*livePktLen))
	}
	start := len(q.data)
	q.data = s.live.appendDatagram(q.data, slow)
	b.pkts = append(b.pkts, q.data[start:len(q.data):len(q.data)])
	b.tos = append(b.tos, s.udpTo)
	b.sess = append(b.sess, s)
}

func (q *outQueue) flush(m *Manager) {
	for _, u := range q.socks {
		b := q.by[u]
		u.sendBatch(b.pkts, b.tos, func(i int, err error) {
			s := b.sess[i]
			m.limiter.logf(m.logf, "udp:"+s.p.spec.ID.String(), "peers: liveness datagram to %s at %s: %v", s.p.spec.ID, s.udpTo, err)
		})
		b.pkts, b.tos, b.sess = b.pkts[:0], b.tos[:0], b.sess[:0]
	}
	q.socks = q.socks[:0]
	q.data = q.data[:0]
}

// tickSessions is the attached sessions as the tick sees them. The tick
// runs at a raised priority; waiting for the manager's lock would tie it to
// whichever ordinary goroutine holds it on a saturated machine (priority
// inversion), so whoever attaches or ends a session publishes a new copy
// (publishSessionsLocked) and the tick only loads it.
type tickSessions struct {
	list  []*session
	byTag map[liveTag]*session
}

// publishSessionsLocked publishes the sessions for the tick; callers hold
// m.mu and just set or cleared a peer's session.
func (m *Manager) publishSessionsLocked() {
	t := &tickSessions{byTag: map[liveTag]*session{}}
	for _, p := range m.order {
		if s := p.sess; s != nil {
			t.list = append(t.list, s)
			if s.live != nil {
				t.byTag[s.live.tag] = s
			}
		}
	}
	m.tickSess.Store(t)
}

// tickPeriod is half the datagram interval: a silent peer is judged, and
// arrived datagrams are read, twice per interval, so the time to notice a
// death is DeadAfter plus at most one period, while each session sends
// only once per Heartbeat (at 64 nodes the datagrams are nearly all of the
// idle cost: bench/RESULTS.md).
func (m *Manager) tickPeriod() time.Duration { return max(m.cfg.Heartbeat/2, 5*time.Millisecond) }

// Under strain (our own tick late) a peer is declared dead only after
// strainedDeadAfter, until our tick ran on time for strainWindow.
const (
	strainedDeadAfter = 3 * time.Second
	strainWindow      = 5 * time.Second
	// slowInterval spaces a storm's liveness datagrams (flagged slow): a
	// third of strainedDeadAfter, BFD's detect multiplier. A 64-node
	// storm's datagrams were a tenth of its CPU at every 250 ms.
	slowInterval = time.Second
)

// While sessions with newly trusted peers are being set up (a trust
// command's storm: every node of the mesh sets up its sessions at once),
// silence is judged as under strain, until stormHold after the last such
// first session. On a shared host (a testbed) a peer's tick can be starved
// while ours runs on time: ended at DeadAfter, its sessions were a fifth of
// a 64-node trust storm's handshakes (bench/RESULTS.md, issue 16). Only
// trust changes count: a node that reconnects after its own stall, or a
// peer back after a stop, is no storm, and the next silent death is still
// seen at DeadAfter.
const (
	stormHold = 3 * time.Second
	stormSpan = 30 * time.Second // a first session later than this after the trust is no storm
)

// TrustStorm reports whether sessions with newly trusted peers are being
// set up (see stormHold).
func (m *Manager) TrustStorm() bool { return m.now().UnixNano() < m.stormUntil.Load() }

// stormMinPeers: a node with fewer peers has no trust storms. A trust
// there sets up at most 14 sessions per node, which no host needs relief
// from, and a peer stopped right after a trust must still be seen at
// DeadAfter, not after strainedDeadAfter (a 2x2 mesh, stopped 2 s after a
// trust, was seen after 3 s). 15 peers is a 4x4 mesh, the smallest the
// bench measures storms at.
const stormMinPeers = 15

// trustStormLocked extends the storm to now+stormHold, in a mesh large
// enough to have storms (stormMinPeers).
func (m *Manager) trustStormLocked(now time.Time) {
	if len(m.order) < m.stormMinPeers {
		return
	}
	if until := now.Add(stormHold).UnixNano(); until > m.stormUntil.Load() {
		m.stormUntil.Store(until)
	}
}

// viewRefresh repeats an unchanged view now and then: views are sent on
// every change, this only bounds how long a lost one could linger.
const viewRefresh = 30 * time.Second

// maxDrain bounds one socket's reads per tick (a flood must not stall the
// tick); a mesh's worth is 254 × a few.
const maxDrain = 4096

// drainUDP reads every queued liveness datagram: authentic, new ones are
// evidence of life for their session.
func (m *Manager) drainUDP(now time.Time, byTag map[liveTag]*session) {
	for _, u := range m.udpSnap.Load().socks() {
		err := u.recvBatch(maxDrain, func(b []byte, at int64) {
			d, err := parseDatagram(b)
			if err != nil {
				return
			}
			s := byTag[d.tag]
			if s == nil || !s.live.accept(d) {
				return
			}
			// The arrival time, if the kernel stamped it and it is sane
			// (not ahead of us, not older than what we already heard).
			heard := now.UnixNano()
			if at > 0 && at < heard {
				heard = at
			}
			if heard > s.lastHeard.Load() {
				s.lastHeard.Store(heard)
			}
			if !s.udpIn.Swap(true) {
				s.want(wantUDPOK)
			}
		})
		if err != nil {
			m.limiter.logf(m.logf, "udprecv", "peers: reading liveness datagrams on %s: %v", u.local, err)
		}
	}
}

// udpFor returns the liveness socket that serves local, or nil.
func (m *Manager) udpFor(local netip.Addr) *udpSock {
	m.mu.Lock()
	defer m.mu.Unlock()
	var any *udpSock
	for _, u := range m.udpSocks {
		switch a := u.local.Addr(); {
		case a == local:
			return u
		case a.IsUnspecified():
			any = u
		}
	}
	return any
}

// openUDP binds the liveness socket next to a sync listener (same address
// and port number); without one, sessions there keep TLS heartbeats.
func (m *Manager) openUDP(a netip.AddrPort) {
	u, err := listenUDP(a)
	if err != nil {
		m.logf("peers: %v; sessions on %s keep TLS heartbeats", err, a)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Copy on write: drainUDP reads a snapshot without the lock. Run
	// closes the sockets once the tick has stopped.
	m.udpSocks = append(append([]*udpSock(nil), m.udpSocks...), u)
	m.udpSnap.Store(&udpList{m.udpSocks})
}

// udpList is an immutable list of the liveness sockets.
type udpList struct{ l []*udpSock }

func (u *udpList) socks() []*udpSock {
	if u == nil {
		return nil
	}
	return u.l
}
