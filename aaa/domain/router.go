package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orchd/orchd/aaa"
)

// DeadTime is how long a provider that could not be asked is tried last
// (DESIGN §8.5; FreeRADIUS's "zombie" period is the model).
const DeadTime = 60 * time.Second

// Provider is one configured external server.
type Provider interface {
	Authenticate(ctx context.Context, user, password string) (aaa.ProviderResult, error)
}

// Member is a provider of a domain, at its priority (lower first).
type Member struct {
	Name     string
	Priority int
	Provider Provider
}

// Attempt is one provider asked during a login.
type Attempt struct {
	Provider string
	Elapsed  time.Duration
	Err      error // nil: accepted
	WasDead  bool  // it was in its dead time, so it was tried last
}

// Outcome is how a login through a domain went.
type Outcome struct {
	// Provider answered (accepted or rejected); "" when none could be asked.
	Provider string
	Result   aaa.ProviderResult
	Elapsed  time.Duration // of the answering provider
	Attempts []Attempt
}

// Router asks a domain's providers in order and remembers which could not
// be asked. It is safe for concurrent use.
type Router struct {
	Now      func() time.Time // time.Now when nil
	DeadTime time.Duration    // DeadTime when 0

	mu   sync.Mutex
	dead map[string]time.Time // provider name -> dead until
}

func (r *Router) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Dead reports whether provider name is in its dead time, and until when.
func (r *Router) Dead(name string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	until, ok := r.dead[name]
	if ok && !r.now().Before(until) {
		delete(r.dead, name)
		return time.Time{}, false
	}
	return until, ok
}

func (r *Router) markDead(name string) {
	d := r.DeadTime
	if d == 0 {
		d = DeadTime
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead == nil {
		r.dead = map[string]time.Time{}
	}
	r.dead[name] = r.now().Add(d)
}

func (r *Router) markAlive(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.dead, name)
}

// Order returns members by priority, those in their dead time last.
func (r *Router) Order(members []Member) []Member {
	ms := slices.Clone(members)
	slices.SortStableFunc(ms, func(a, b Member) int { return a.Priority - b.Priority })
	var alive, dead []Member
	for _, m := range ms {
		if _, ok := r.Dead(m.Name); ok {
			dead = append(dead, m)
		} else {
			alive = append(alive, m)
		}
	}
	return append(alive, dead...)
}

// ErrNoProvider is matched by the error when no provider could be asked.
var ErrNoProvider = errors.New("no provider could be asked")

// Authenticate asks members in Order. The first answer is final: an
// acceptance returns its result, a rejection (aaa.ErrRejected) returns
// at once without asking the others. A provider that cannot be asked is
// marked dead for DeadTime and the next one is tried.
func (r *Router) Authenticate(ctx context.Context, members []Member, user, password string) (Outcome, error) {
	var out Outcome
	if len(members) == 0 {
		return out, fmt.Errorf("%w: the domain has no provider", ErrNoProvider)
	}
	var why []string
	for _, m := range r.Order(members) {
		_, wasDead := r.Dead(m.Name)
		start := time.Now()
		res, err := m.Provider.Authenticate(ctx, user, password)
		el := time.Since(start)
		out.Attempts = append(out.Attempts, Attempt{Provider: m.Name, Elapsed: el, Err: err, WasDead: wasDead})
		if err == nil || errors.Is(err, aaa.ErrRejected) {
			r.markAlive(m.Name)
			out.Provider, out.Result, out.Elapsed = m.Name, res, el
			return out, err
		}
		if ctx.Err() != nil {
			// The login gave up (client gone, grace time): not the server's fault.
			return out, fmt.Errorf("asking %s: %w", m.Name, ctx.Err())
		}
		r.markDead(m.Name)
		why = append(why, fmt.Sprintf("%s: %v", m.Name, err))
	}
	return out, fmt.Errorf("%w (%s)", ErrNoProvider, strings.Join(why, "; "))
}
