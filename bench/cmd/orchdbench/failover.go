package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/orchd/orchd/state"
)

// watchPeer polls observer's state file (every 2 ms) until its view of peer
// has status, and returns when it saw that. (File modification times are
// no finer than the kernel's coarse clock, a few ms, and can read earlier
// than the event itself; the observation time is an upper bound.)
func watchPeer(ctx context.Context, b *bed, observer, peer, status string, timeout time.Duration) (time.Time, state.Peer, error) {
	deadline := time.Now().Add(timeout)
	var last time.Time
	var seen state.Peer
	for {
		if fi, err := os.Stat(b.stateFile(observer)); err == nil && !fi.ModTime().Equal(last) {
			if s, err := b.read(observer); err == nil {
				now := time.Now()
				last = s.mtime
				seen = s.peer(peer)
				if seen.Status == status {
					return now, seen, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, seen, fmt.Errorf("%s did not see %s %s within %v (last: %s, %q)", observer, peer, status, timeout, seen.Status, seen.Reason)
		}
		if ctx.Err() != nil {
			return time.Time{}, seen, ctx.Err()
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// pairAuthenticated waits until a and c see each other Authenticated.
func pairAuthenticated(ctx context.Context, b *bed, a, c string, timeout time.Duration) error {
	return b.waitAll(ctx, timeout, []string{a, c}, func(id string, s snap) bool {
		other := c
		if id == c {
			other = a
		}
		return s.peer(other).Status == state.Authenticated
	})
}

type linkTrial struct {
	Unreachable, PortDown, Recovery time.Duration
	Reason                          string
}

// linkDownTrials pulls node a's internal sync cable (the switch end of its
// veth) and times until a's state file shows its same-site peer c
// Unreachable; then plugs it back and waits for the session to return.
func linkDownTrials(ctx context.Context, b *bed, a, c string, n int) ([]linkTrial, error) {
	var out []linkTrial
	for i := 0; i < n; i++ {
		if err := pairAuthenticated(ctx, b, a, c, 20*time.Second); err != nil {
			return out, fmt.Errorf("before link trial %d: %w", i+1, err)
		}
		time.Sleep(300 * time.Millisecond)
		t0 := time.Now()
		if err := b.Link(a, "internal", false); err != nil {
			return out, err
		}
		var tr linkTrial
		tu, p, err := watchPeer(ctx, b, a, c, state.Unreachable, 10*time.Second)
		if err != nil {
			_ = b.Link(a, "internal", true)
			return out, err
		}
		tr.Unreachable, tr.Reason = tu.Sub(t0), p.Reason
		if s, err := b.read(a); err == nil {
			for _, sp := range s.f.SyncPorts {
				if sp.Role == "internal" && sp.State == state.PortDown {
					tr.PortDown = sp.Since.Sub(t0)
				}
			}
		}
		t1 := time.Now()
		if err := b.Link(a, "internal", true); err != nil {
			return out, err
		}
		if err := pairAuthenticated(ctx, b, a, c, 20*time.Second); err != nil {
			return out, fmt.Errorf("after link trial %d: %w", i+1, err)
		}
		tr.Recovery = time.Since(t1)
		out = append(out, tr)
	}
	return out, nil
}

type deathTrial struct {
	// First and All: until the first and every other node saw the victim
	// Unreachable.
	First, All time.Duration
	Reason     string
	Recovery   time.Duration
}

// deathTrials makes victim die silently — SIGKILL, or SIGSTOP (then SIGCONT)
// — and times until the other nodes see it Unreachable.
func deathTrials(ctx context.Context, b *bed, victim string, stop bool, n int) ([]deathTrial, error) {
	var observers []string
	for _, id := range b.ids {
		if id != victim {
			observers = append(observers, id)
		}
	}
	var out []deathTrial
	for i := 0; i < n; i++ {
		if err := b.meshAuthenticated(ctx, 30*time.Second); err != nil {
			return out, fmt.Errorf("before death trial %d: %w", i+1, err)
		}
		time.Sleep(300 * time.Millisecond)
		node, _ := b.Node(victim)
		pid := node.PID
		t0 := time.Now()
		if stop {
			if err := syscallKill(pid, sigSTOP); err != nil {
				return out, err
			}
		} else if err := syscallKill(pid, sigKILL); err != nil {
			return out, err
		}
		type res struct {
			t   time.Time
			p   state.Peer
			err error
		}
		ch := make(chan res, len(observers))
		for _, o := range observers {
			go func(o string) {
				t, p, err := watchPeer(ctx, b, o, victim, state.Unreachable, 15*time.Second)
				ch <- res{t, p, err}
			}(o)
		}
		var tr deathTrial
		var first, last time.Time
		var ferr error
		for range observers {
			r := <-ch
			if r.err != nil {
				ferr = r.err
				continue
			}
			if first.IsZero() || r.t.Before(first) {
				first, tr.Reason = r.t, r.p.Reason
			}
			if r.t.After(last) {
				last = r.t
			}
		}
		t1 := time.Now()
		if stop {
			_ = syscallKill(pid, sigCONT)
		} else {
			// The testbed reaps it; Kill records it as gone.
			_ = b.Kill(victim)
			if err := b.Start(victim); err != nil {
				return out, fmt.Errorf("restarting %s: %w", victim, err)
			}
		}
		if ferr != nil {
			return out, ferr
		}
		tr.First, tr.All = first.Sub(t0), last.Sub(t0)
		if err := b.meshAuthenticated(ctx, 30*time.Second); err != nil {
			return out, fmt.Errorf("after death trial %d: %w", i+1, err)
		}
		tr.Recovery = time.Since(t1)
		out = append(out, tr)
	}
	return out, nil
}
