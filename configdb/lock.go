package configdb

import (
	"fmt"
	"sync"
	"time"
)

// Owner identifies a shell session that holds or asks for the
// configuration lock.
type Owner struct {
	SessionID string // unique per session; the lock compares only this
	User      string
	From      string    // client address, or "console" for a local session
	Since     time.Time // set by the Lock when the owner took it
}

// String describes the owner for messages: `admin (session 7) from
// 198.18.0.1 since 2026-01-02 15:04:05 UTC`.
func (o Owner) String() string {
	s := fmt.Sprintf("%s (session %s)", o.User, o.SessionID)
	if o.From != "" {
		s += " from " + o.From
	}
	if !o.Since.IsZero() {
		s += " since " + o.Since.UTC().Format(timeFormat)
	}
	return s
}

// Lock is the configuration lock: one read-write session at a time, the
// first that asks; the others are read-only until it is released or
// overridden (`lock database override`). The zero Lock is free and ready.
type Lock struct {
	mu     sync.Mutex
	holder Owner
	held   bool
	now    func() time.Time // tests
}

// Acquire takes the lock for o if it is free or already o's. Otherwise it
// returns false and the holder, for a message like LockedMessage's.
func (l *Lock) Acquire(o Owner) (ok bool, holder Owner) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held && l.holder.SessionID != o.SessionID {
		return false, l.holder
	}
	if !l.held {
		l.take(o)
	}
	return true, l.holder
}

// Release frees the lock if o holds it (a session calls it when it ends)
// and reports whether it did.
func (l *Lock) Release(o Owner) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held || l.holder.SessionID != o.SessionID {
		return false
	}
	l.held, l.holder = false, Owner{}
	return true
}

// Override takes the lock for o whoever holds it, and returns the previous
// holder (ok false when the lock was free or already o's).
func (l *Lock) Override(o Owner) (previous Owner, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held && l.holder.SessionID == o.SessionID {
		return Owner{}, false
	}
	previous, ok = l.holder, l.held
	l.take(o)
	return previous, ok
}

// Holder returns the session holding the lock, if any.
func (l *Lock) Holder() (Owner, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder, l.held
}

func (l *Lock) take(o Owner) {
	now := time.Now
	if l.now != nil {
		now = l.now
	}
	o.Since = now()
	l.holder, l.held = o, true
}

// LockedMessage is what a session that could not take the lock tells its
// user.
func LockedMessage(holder Owner) string {
	return fmt.Sprintf("configuration lock held by %s: this session is read-only; use \"lock database override\" to take the lock", holder)
}
