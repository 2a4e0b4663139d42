package agent

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/shell"
)

// expertDelay is how long a user waits after a wrong expert password
// before the next one is checked, whatever session it comes from: with
// the three tries of a prompt, guessing runs at most one password every
// two seconds per user.
var expertDelay = 2 * time.Second

// expertThrottle remembers, per user, when the next expert password may
// be checked.
type expertThrottle struct {
	mu   sync.Mutex
	next map[string]time.Time
}

var expertGate expertThrottle

// wait blocks until user may try again (or ctx ends).
func (t *expertThrottle) wait(c *shell.Ctx, user string) error {
	t.mu.Lock()
	d := time.Until(t.next[user])
	t.mu.Unlock()
	if d <= 0 {
		return nil
	}
	select {
	case <-time.After(d):
		return nil
	case <-c.Context.Done():
		return c.Context.Err()
	}
}

func (t *expertThrottle) failed(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.next == nil {
		t.next = map[string]time.Time{}
	}
	t.next[user] = time.Now().Add(expertDelay)
}

// checkExpertPassword checks one expert password for session s (why says
// what for: "expert mode", "set expert-password"). The source address's
// lockout refuses before the hash; a wrong password is logged, audited,
// counted for the lockout like a failed login, and delays the user's next
// try.
func (a *Agent) checkExpertPassword(c *shell.Ctx, s *adminSession, hash, pw, why string) (bool, error) {
	remote, _ := netip.ParseAddr(s.remote)
	if remote.IsValid() {
		if err := a.lockout.Check(remote); err != nil {
			a.log.WithField("user", s.user).WithField("from", s.from).WithError(err).Warn(why + " refused: source address locked out")
			return false, fmt.Errorf("%s refused: %w", why, err)
		}
	}
	if err := expertGate.wait(c, s.user); err != nil {
		return false, err
	}
	if aaa.Verify(hash, pw) {
		return true, nil
	}
	expertGate.failed(s.user)
	a.log.WithField("user", s.user).WithField("from", s.from).Warn(why + ": wrong expert password")
	a.record(audit.Event{Type: "expert", User: s.user, Source: s.from, Result: "failed", Reason: why + ": wrong expert password"})
	if remote.IsValid() {
		a.lockout.Failure(remote, s.user)
	}
	return false, nil
}

// askCurrentExpertPassword makes `set expert-password` prove the current
// one first, when one is set (answer key "currentPassword").
func (a *Agent) askCurrentExpertPassword(c *shell.Ctx, s *adminSession) error {
	hash := a.db.Running().ExpertPasswordHash
	if hash == "" {
		return nil
	}
	pw, err := c.Prompt("currentPassword", "Current expert password: ", true)
	if err != nil {
		return err
	}
	ok, err := a.checkExpertPassword(c, s, hash, pw, "set expert-password")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("wrong current expert password: nothing changed")
	}
	return nil
}
