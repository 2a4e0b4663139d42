package configdb

import (
	"net/netip"
	"testing"
	"time"
)

var netipZero netip.Addr

func TestLock(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	l := &Lock{now: func() time.Time { return t0 }}
	a := Owner{SessionID: "1", User: "admin", From: "198.18.0.1"}
	b := Owner{SessionID: "2", User: "alice", From: "console"}

	if _, held := l.Holder(); held {
		t.Fatal("new lock held")
	}
	if ok, h := l.Acquire(a); !ok || h.SessionID != "1" || !h.Since.Equal(t0) {
		t.Fatalf("first Acquire = %v, %+v", ok, h)
	}
	if ok, h := l.Acquire(a); !ok || h.SessionID != "1" {
		t.Errorf("holder re-Acquire = %v, %+v", ok, h)
	}
	ok, h := l.Acquire(b)
	if ok || h.SessionID != "1" {
		t.Fatalf("second session Acquire = %v, %+v", ok, h)
	}
	want := `configuration lock held by admin (session 1) from 198.18.0.1 since 2026-01-02 15:04:05 UTC: this session is read-only; use "lock database override" to take the lock`
	if got := LockedMessage(h); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if l.Release(b) {
		t.Error("non-holder released the lock")
	}
	if prev, had := l.Override(b); !had || prev.SessionID != "1" {
		t.Errorf("Override = %+v, %v", prev, had)
	}
	if h, _ := l.Holder(); h.SessionID != "2" {
		t.Errorf("holder after override %+v", h)
	}
	if ok, _ := l.Acquire(a); ok {
		t.Error("overridden session got the lock back by Acquire")
	}
	if _, had := l.Override(b); had {
		t.Error("Override by the holder reported a previous holder")
	}
	if !l.Release(b) {
		t.Error("holder could not release")
	}
	if ok, _ := l.Acquire(a); !ok {
		t.Error("free lock refused")
	}
	var zero Lock
	if ok, _ := zero.Acquire(b); !ok {
		t.Error("zero Lock refused")
	}
}
