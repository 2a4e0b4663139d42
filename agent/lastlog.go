package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/orchd/orchd/atomicfile"
)

// lastEntry is one user's last login in the lastlog file. Last logins live
// there, not in the configuration: a login must not make the running
// configuration differ from the saved one.
type lastEntry struct {
	At   time.Time `json:"at"`
	From string    `json:"from"`
}

func (a *Agent) readLastLog() map[string]lastEntry {
	m := map[string]lastEntry{}
	if b, err := os.ReadFile(a.opts.Layout.LastLog()); err == nil {
		json.Unmarshal(b, &m)
	}
	return m
}

// lastLogins returns each user's last login time (for show users and the
// inactive-user sweep).
func (a *Agent) lastLogins() map[string]time.Time {
	a.lastMu.Lock()
	defer a.lastMu.Unlock()
	out := map[string]time.Time{}
	for u, e := range a.readLastLog() {
		out[u] = e.At
	}
	return out
}

// recordLogin records this login of s's user, printing the previous one
// first when show is set (interactive sessions).
func (a *Agent) recordLogin(s *adminSession, show bool) {
	a.lastMu.Lock()
	defer a.lastMu.Unlock()
	m := a.readLastLog()
	now := time.Now().UTC()
	if e, ok := m[s.user]; ok && !show && now.Sub(e.At) < time.Minute {
		// Execs in a burst (scripts, monitoring) need not each cost a
		// synchronous write: a minute is precise enough for last logins.
		return
	}
	if e, ok := m[s.user]; ok && show {
		from := e.From
		if from == "" {
			from = "the console"
		}
		fmt.Fprintf(s.out, "Last login: %s from %s%s", e.At.UTC().Format("Mon Jan _2 15:04:05 2006"), from, nl(s.term))
	}
	m[s.user] = lastEntry{At: now, From: s.remote}
	if b, err := json.Marshal(m); err == nil {
		if err := atomicfile.WriteFile(a.opts.Layout.LastLog(), b, 0o600); err != nil {
			a.log.WithError(err).Warn("recording last login")
		}
	}
}

// forgetLogin drops a deleted user's last login.
func (a *Agent) forgetLogin(user string) {
	a.lastMu.Lock()
	defer a.lastMu.Unlock()
	m := a.readLastLog()
	if _, ok := m[user]; !ok {
		return
	}
	delete(m, user)
	if b, err := json.Marshal(m); err == nil {
		atomicfile.WriteFile(a.opts.Layout.LastLog(), b, 0o600)
	}
}
