// Package lockout owns the per-source-address login lockout (DESIGN §8.3):
// after failed-attempts-allowed failed logins from one address, that address
// is refused for failed-lock-duration, whoever it claims to be, and an alarm
// is raised when it reaches failed-alarm-threshold failures.
//
// Every consumer (the SSH server at accept, the Authenticator before any
// password hash, expert mode, the trust subsystem, the management API)
// shares one *Table. Entries are keyed by address (IPv4 as is, IPv6 by its
// /64), timed on the monotonic clock, and the table is bounded.
package lockout

import (
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// Settings are the password-controls values the lockout follows; they are
// read again at every event, so a change applies at once.
type Settings struct {
	Allowed        int           // failed-attempts-allowed: failures that lock (1-100)
	Duration       time.Duration // failed-lock-duration
	AlarmThreshold int           // failed-alarm-threshold: 0 is off
}

// Defaults of DESIGN §8.2: 4 failures, 5 minutes, alarm at 10.
func Defaults() Settings {
	return Settings{Allowed: 4, Duration: 5 * time.Minute, AlarmThreshold: 10}
}

// DefaultMaxEntries bounds the table: far more sources than an appliance's
// administrators ever use, small enough (about 100 bytes each) to ignore.
const DefaultMaxEntries = 4096

// Event kinds passed to Options.Notify.
const (
	KindLockout = "lockout" // an address was locked
	KindAlarm   = "alarm"   // an address reached the alarm threshold
)

// Event is a lockout or an alarm, for the log and the audit trail.
type Event struct {
	Kind     string
	Addr     string // the key: "198.19.128.1" or "2001:db8::/64"
	Failures int
	User     string // the last user name tried (already vetted by the caller)
	Until    time.Time
}

// Options configure a Table; every field may be zero.
type Options struct {
	// Settings returns the current settings; nil means Defaults.
	Settings func() Settings
	// Now is the clock (tests inject one); nil means time.Now, whose
	// monotonic reading makes durations immune to wall-clock steps.
	Now func() time.Time
	// MaxEntries bounds the table; zero means DefaultMaxEntries.
	MaxEntries int
	// Notify receives lockouts and alarms, outside the table's lock.
	Notify func(Event)
}

// Table counts failed logins per source address. Safe for concurrent use.
type Table struct {
	o  Options
	mu sync.Mutex
	m  map[netip.Prefix]*entry
}

type entry struct {
	failures    int
	last        time.Time // last failure (or refused attempt)
	lockedUntil time.Time // zero: not locked
	lastUser    string
	alarmed     bool
}

// New returns an empty table.
func New(o Options) *Table {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	return &Table{o: o, m: map[netip.Prefix]*entry{}}
}

// Key is the table key of addr: IPv4 (or IPv4-mapped IPv6) as a /32, other
// IPv6 as its /64, since one host commonly holds a whole /64. It is invalid
// for an invalid addr (the console has no address and is never locked).
func Key(addr netip.Addr) netip.Prefix {
	if !addr.IsValid() {
		return netip.Prefix{}
	}
	addr = addr.Unmap().WithZone("")
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// KeyString is how Key(addr) is shown: an IPv4 address bare, an IPv6
// prefix with its length.
func KeyString(k netip.Prefix) string {
	if k.Addr().Is4() {
		return k.Addr().String()
	}
	return k.String()
}

// ParseKey reads an address as `delete aaa lockout` takes it: an IPv4
// address, an IPv6 address or an IPv6 /64.
func ParseKey(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Is4() && p.Bits() == 32 || p.Addr().Is6() && p.Bits() == 64 {
			return Key(p.Addr()), nil
		}
		return netip.Prefix{}, fmt.Errorf("invalid lockout address %q: expected an IPv4 address, an IPv6 address or an IPv6 /64", s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid lockout address %q: expected an IPv4 address, an IPv6 address or an IPv6 /64", s)
	}
	return Key(a), nil
}

// LockedError refuses an attempt from a locked address. Its text is for
// logs; UserMessage is what the client is told.
type LockedError struct {
	Addr     string
	Failures int
	Until    time.Time // wall clock, for messages
	Left     time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("source address %s is locked out after %d failed logins (%s left)", e.Addr, e.Failures, roundUp(e.Left))
}

// UserMessage tells the client why it is refused, without naming users.
func (e *LockedError) UserMessage() string {
	return fmt.Sprintf("Too many failed logins from %s: try again in %s.\n", e.Addr, roundUp(e.Left))
}

func roundUp(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return ((d + time.Second - 1) / time.Second) * time.Second
}

func (t *Table) settings() Settings {
	s := Defaults()
	if t.o.Settings != nil {
		s = t.o.Settings()
	}
	if s.Allowed < 1 {
		s.Allowed = 1
	}
	if s.Duration <= 0 {
		s.Duration = time.Minute
	}
	return s
}

// stale reports whether e has expired: not locked, and no failure within
// the lock duration (the seed's "no login attempts within the lockout
// duration" resets the counter).
func (e *entry) stale(now time.Time, s Settings) bool {
	return !e.locked(now) && now.Sub(e.last) >= s.Duration
}

func (e *entry) locked(now time.Time) bool {
	return !e.lockedUntil.IsZero() && now.Before(e.lockedUntil)
}

// Check returns a *LockedError while addr is locked, nil otherwise. A
// refused attempt counts toward the alarm (someone keeps trying) but does
// not extend the lock. It never computes anything costly: callers call it
// before any password hash.
func (t *Table) Check(addr netip.Addr) error {
	k := Key(addr)
	if !k.IsValid() {
		return nil
	}
	now := t.o.Now()
	s := t.settings()
	t.mu.Lock()
	e := t.m[k]
	if e == nil || !e.locked(now) {
		t.mu.Unlock()
		return nil
	}
	e.failures++
	e.last = now
	err := &LockedError{Addr: KeyString(k), Failures: e.failures, Left: e.lockedUntil.Sub(now)}
	err.Until = wall(now).Add(err.Left)
	ev := t.alarmLocked(k, e, s)
	t.mu.Unlock()
	t.notify(ev)
	return err
}

// Failure counts a failed login from addr (user is the name tried, vetted
// by the caller: never a name that is not a user). It locks the address at
// the allowed count and raises the alarm at the threshold.
func (t *Table) Failure(addr netip.Addr, user string) {
	k := Key(addr)
	if !k.IsValid() {
		return
	}
	now := t.o.Now()
	s := t.settings()
	var evs []*Event
	t.mu.Lock()
	e := t.m[k]
	if e != nil && e.stale(now, s) {
		*e = entry{}
	}
	if e == nil {
		t.makeRoomLocked(now, s)
		e = &entry{}
		t.m[k] = e
	}
	e.failures++
	e.last = now
	if user != "" {
		e.lastUser = user
	}
	if e.failures >= s.Allowed && !e.locked(now) {
		e.lockedUntil = now.Add(s.Duration)
		evs = append(evs, &Event{Kind: KindLockout, Addr: KeyString(k), Failures: e.failures, User: e.lastUser, Until: wall(now).Add(s.Duration)})
	}
	evs = append(evs, t.alarmLocked(k, e, s))
	t.mu.Unlock()
	for _, ev := range evs {
		t.notify(ev)
	}
}

func (t *Table) alarmLocked(k netip.Prefix, e *entry, s Settings) *Event {
	if s.AlarmThreshold <= 0 || e.alarmed || e.failures < s.AlarmThreshold {
		return nil
	}
	e.alarmed = true
	return &Event{Kind: KindAlarm, Addr: KeyString(k), Failures: e.failures, User: e.lastUser}
}

func (t *Table) notify(ev *Event) {
	if ev != nil && t.o.Notify != nil {
		t.o.Notify(*ev)
	}
}

// Success resets addr's count, as a successful login before the limit
// does. A locked address never gets here: Check refused it first.
func (t *Table) Success(addr netip.Addr) {
	k := Key(addr)
	if !k.IsValid() {
		return
	}
	now := t.o.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.m[k]; e != nil && !e.locked(now) {
		delete(t.m, k)
	}
}

// Unlock forgets k's failures and lock (`delete aaa lockout`), reporting
// whether there was anything to forget.
func (t *Table) Unlock(k netip.Prefix) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.m[k]
	delete(t.m, k)
	return ok
}

// makeRoomLocked keeps the table within MaxEntries: expired entries go
// first, then the unlocked entry idle longest, then (every entry locked)
// the lock that ends soonest. The table never grows without bound, and a
// flood of new sources cannot free an address that is locked while
// unlocked entries remain.
func (t *Table) makeRoomLocked(now time.Time, s Settings) {
	if len(t.m) < t.o.MaxEntries {
		return
	}
	for k, e := range t.m {
		if e.stale(now, s) {
			delete(t.m, k)
		}
	}
	if len(t.m) < t.o.MaxEntries {
		return
	}
	var victim netip.Prefix
	var best *entry
	for k, e := range t.m {
		switch {
		case best == nil:
		case !e.locked(now) && best.locked(now):
		case e.locked(now) == best.locked(now) && !e.locked(now) && e.last.Before(best.last):
		case e.locked(now) && best.locked(now) && e.lockedUntil.Before(best.lockedUntil):
		default:
			continue
		}
		victim, best = k, e
	}
	delete(t.m, victim)
}

// Entry is one address as `show aaa lockouts` and the state file show it.
type Entry struct {
	Addr        string
	Failures    int
	LockedUntil time.Time // zero when not locked; wall clock
	LastUser    string
	Alarm       bool // the alarm threshold was reached
}

// List returns the live entries (expired ones are dropped), locked first,
// then by address.
func (t *Table) List() []Entry {
	now := t.o.Now()
	s := t.settings()
	t.mu.Lock()
	var out []Entry
	for k, e := range t.m {
		if e.stale(now, s) {
			delete(t.m, k)
			continue
		}
		en := Entry{Addr: KeyString(k), Failures: e.failures, LastUser: e.lastUser, Alarm: e.alarmed}
		if e.locked(now) {
			en.LockedUntil = wall(now).Add(e.lockedUntil.Sub(now))
		}
		out = append(out, en)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if li, lj := !out[i].LockedUntil.IsZero(), !out[j].LockedUntil.IsZero(); li != lj {
			return li
		}
		return out[i].Addr < out[j].Addr
	})
	return out
}

// Len is the number of entries held (expired ones included until swept).
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// wall strips the monotonic reading: for display only.
func wall(t time.Time) time.Time { return t.Round(0) }
