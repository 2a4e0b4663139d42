package lockout

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTable(s Settings, max int) (*Table, *clock, *[]Event) {
	c := &clock{t: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)}
	var evs []Event
	var mu sync.Mutex
	t := New(Options{Settings: func() Settings { return s }, Now: c.now, MaxEntries: max,
		Notify: func(e Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() }})
	return t, c, &evs
}

var (
	a1 = netip.MustParseAddr("198.19.128.1")
	a2 = netip.MustParseAddr("198.19.128.2")
)

func TestLockAfterAllowedFailures(t *testing.T) {
	s := Settings{Allowed: 4, Duration: 5 * time.Minute, AlarmThreshold: 0}
	tests := []struct {
		name     string
		steps    func(tb *Table, c *clock)
		locked1  bool
		locked2  bool
		failures int // of a1, as List shows it (0: no entry)
	}{
		{"three failures do not lock", func(tb *Table, c *clock) {
			for range 3 {
				tb.Failure(a1, "admin")
			}
		}, false, false, 3},
		{"four failures lock", func(tb *Table, c *clock) {
			for range 4 {
				tb.Failure(a1, "admin")
			}
		}, true, false, 4},
		{"a success before the limit resets the count", func(tb *Table, c *clock) {
			for range 3 {
				tb.Failure(a1, "admin")
			}
			tb.Success(a1)
			for range 3 {
				tb.Failure(a1, "admin")
			}
		}, false, false, 3},
		{"the lock expires after the duration", func(tb *Table, c *clock) {
			for range 4 {
				tb.Failure(a1, "admin")
			}
			c.add(5 * time.Minute)
		}, false, false, 0},
		{"still locked a second before the end", func(tb *Table, c *clock) {
			for range 4 {
				tb.Failure(a1, "admin")
			}
			c.add(5*time.Minute - time.Second)
		}, true, false, 4},
		{"failures spread wider than the duration never lock", func(tb *Table, c *clock) {
			for range 10 {
				tb.Failure(a1, "admin")
				tb.Failure(a1, "admin")
				c.add(5 * time.Minute)
			}
		}, false, false, 0},
		{"another address is not affected", func(tb *Table, c *clock) {
			for range 10 {
				tb.Failure(a1, "admin")
			}
			tb.Failure(a2, "admin")
		}, true, false, 10},
		{"a success while locked does not unlock", func(tb *Table, c *clock) {
			for range 4 {
				tb.Failure(a1, "admin")
			}
			tb.Success(a1)
		}, true, false, 4},
		{"unlock forgets the address", func(tb *Table, c *clock) {
			for range 4 {
				tb.Failure(a1, "admin")
			}
			tb.Unlock(Key(a1))
		}, false, false, 0},
		{"refused attempts count but do not extend the lock", func(tb *Table, c *clock) {
			for range 4 {
				tb.Failure(a1, "admin")
			}
			c.add(4 * time.Minute)
			tb.Check(a1)
			tb.Check(a1)
		}, true, false, 6},
		{"after expiry a hammering address locks again at once", func(tb *Table, c *clock) {
			for range 4 {
				tb.Failure(a1, "admin")
			}
			c.add(4 * time.Minute)
			tb.Check(a1)
			c.add(time.Minute)
			tb.Failure(a1, "admin")
		}, true, false, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, c, _ := newTable(s, 0)
			tc.steps(tb, c)
			check := func(a netip.Addr, want bool) {
				err := tb.Check(a)
				var le *LockedError
				if got := errors.As(err, &le); got != want {
					t.Errorf("Check(%v) = %v, want locked=%v", a, err, want)
				}
			}
			got := 0
			for _, e := range tb.List() {
				if e.Addr == a1.String() {
					got = e.Failures
				}
			}
			if got != tc.failures {
				t.Errorf("failures of %v = %d, want %d", a1, got, tc.failures)
			}
			check(a1, tc.locked1)
			check(a2, tc.locked2)
		})
	}
}

func TestEventsAndAlarm(t *testing.T) {
	tb, c, evs := newTable(Settings{Allowed: 3, Duration: time.Minute, AlarmThreshold: 5}, 0)
	for range 3 {
		tb.Failure(a1, "admin")
	}
	if len(*evs) != 1 || (*evs)[0].Kind != KindLockout || (*evs)[0].Failures != 3 || (*evs)[0].User != "admin" || (*evs)[0].Addr != "198.19.128.1" {
		t.Fatalf("events after lock = %+v, want one lockout of 198.19.128.1 at 3 by admin", *evs)
	}
	if !(*evs)[0].Until.Equal(c.now().Add(time.Minute)) {
		t.Errorf("lockout until %v, want %v", (*evs)[0].Until, c.now().Add(time.Minute))
	}
	tb.Check(a1) // 4
	tb.Check(a1) // 5: alarm
	tb.Check(a1)
	if len(*evs) != 2 || (*evs)[1].Kind != KindAlarm || (*evs)[1].Failures != 5 {
		t.Fatalf("events = %+v, want a lockout then one alarm at 5", *evs)
	}
	l := tb.List()
	if len(l) != 1 || !l[0].Alarm || l[0].LockedUntil.IsZero() {
		t.Errorf("List = %+v, want one locked, alarmed entry", l)
	}
	// Quiet for a whole duration: the entry, and with it the alarm, go.
	c.add(2 * time.Minute)
	if l := tb.List(); len(l) != 0 {
		t.Errorf("List after a quiet duration = %+v, want empty", l)
	}
}

func TestAlarmOff(t *testing.T) {
	tb, _, evs := newTable(Settings{Allowed: 100, Duration: time.Minute, AlarmThreshold: 0}, 0)
	for range 50 {
		tb.Failure(a1, "x")
	}
	if len(*evs) != 0 {
		t.Errorf("events with alarm off and no lock: %+v", *evs)
	}
}

func TestSettingsReadAtEachEvent(t *testing.T) {
	s := Settings{Allowed: 4, Duration: time.Minute}
	var mu sync.Mutex
	tb := New(Options{Settings: func() Settings { mu.Lock(); defer mu.Unlock(); return s }})
	tb.Failure(a1, "")
	mu.Lock()
	s.Allowed = 2
	mu.Unlock()
	tb.Failure(a1, "")
	if tb.Check(a1) == nil {
		t.Error("lowering failed-attempts-allowed did not apply to the next failure")
	}
}

func TestKeys(t *testing.T) {
	tests := []struct{ in, want string }{
		{"198.19.128.1", "198.19.128.1"},
		{"::ffff:198.19.128.1", "198.19.128.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
	}
	for _, tc := range tests {
		if got := KeyString(Key(netip.MustParseAddr(tc.in))); got != tc.want {
			t.Errorf("Key(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	// Two hosts of one /64 share an entry.
	tb, _, _ := newTable(Settings{Allowed: 2, Duration: time.Minute}, 0)
	tb.Failure(netip.MustParseAddr("2001:db8::1"), "")
	tb.Failure(netip.MustParseAddr("2001:db8::2"), "")
	if tb.Check(netip.MustParseAddr("2001:db8::ffff")) == nil {
		t.Error("an IPv6 /64 is not one lockout key")
	}
	if tb.Check(netip.Addr{}) != nil {
		t.Error("the console (no address) was locked")
	}
	tb.Failure(netip.Addr{}, "admin")
	if tb.Len() != 1 {
		t.Errorf("table holds %d entries, want 1 (no entry for the console)", tb.Len())
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"198.19.128.1", "198.19.128.1", true},
		{"198.19.128.1/32", "198.19.128.1", true},
		{"2001:db8::5", "2001:db8::/64", true},
		{"2001:db8::/64", "2001:db8::/64", true},
		{"2001:db8::/48", "", false},
		{"198.19.128.0/24", "", false},
		{"host", "", false},
		{"", "", false},
		{"fe80::1%eth0", "", false},
	}
	for _, tc := range tests {
		k, err := ParseKey(tc.in)
		if (err == nil) != tc.ok || tc.ok && KeyString(k) != tc.want {
			t.Errorf("ParseKey(%q) = %v, %v; want %q ok=%v", tc.in, k, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) {
			t.Errorf("ParseKey(%q) error %q does not name the input", tc.in, err)
		}
	}
}

func TestTableBound(t *testing.T) {
	tb, c, _ := newTable(Settings{Allowed: 2, Duration: time.Minute}, 8)
	locked := netip.MustParseAddr("198.18.0.1")
	tb.Failure(locked, "")
	tb.Failure(locked, "")
	// A flood of new sources, one failure each.
	for i := range 1000 {
		c.add(time.Millisecond)
		tb.Failure(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), "")
		if tb.Len() > 8 {
			t.Fatalf("table grew to %d entries, bound 8", tb.Len())
		}
	}
	if tb.Check(locked) == nil {
		t.Error("a flood of new sources evicted a locked address")
	}
	// Every entry locked: the one ending soonest makes room.
	tb2, c2, _ := newTable(Settings{Allowed: 1, Duration: time.Minute}, 4)
	for i := range 5 {
		c2.add(time.Second)
		tb2.Failure(netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}), "")
	}
	if tb2.Len() != 4 || tb2.Check(netip.MustParseAddr("198.18.0.1")) != nil || tb2.Check(netip.MustParseAddr("198.18.0.5")) == nil {
		t.Errorf("full of locks: len %d; the oldest lock should have made room for the newest", tb2.Len())
	}
}

func TestLockedErrorMessages(t *testing.T) {
	tb, _, _ := newTable(Settings{Allowed: 1, Duration: 90 * time.Second}, 0)
	tb.Failure(a1, "admin")
	err := tb.Check(a1)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Check = %v", err)
	}
	if got, want := le.UserMessage(), "Too many failed logins from 198.19.128.1: try again in 1m30s.\n"; got != want {
		t.Errorf("UserMessage = %q, want %q", got, want)
	}
	if got := err.Error(); !strings.Contains(got, "198.19.128.1") || !strings.Contains(got, "2 failed logins") {
		t.Errorf("Error = %q", got)
	}
}

func TestConcurrent(t *testing.T) {
	tb := New(Options{Settings: func() Settings { return Settings{Allowed: 1000, Duration: time.Minute} }})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				a := netip.AddrFrom4([4]byte{198, 18, byte(g), byte(i % 10)})
				tb.Failure(a, "u")
				tb.Check(a)
				if i%7 == 0 {
					tb.Success(a)
				}
				tb.List()
			}
		}()
	}
	wg.Wait()
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"198.19.128.1", "2001:db8::/64", "::ffff:1.2.3.4", "1.2.3.4/32", "x", "fe80::1%lo", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		again, err := ParseKey(KeyString(k))
		if err != nil || again != k {
			t.Fatalf("ParseKey(%q) = %v, but its string %q parses to %v, %v", s, k, KeyString(k), again, err)
		}
	})
}
