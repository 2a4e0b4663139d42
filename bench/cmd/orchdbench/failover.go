package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/orchd/orchd/state"
)

// watchPeers polls the observers' state files (one goroutine, every 2 ms)
// until each one's view of peer has status, and returns per observer when
// the bench saw that and when the daemon wrote that version (its
// modification time). The write time is the node's own; the observation
// adds the bench's polling and decoding, which at 64 nodes competes for the
// CPU with the very burst being measured (63 files change at once). File
// modification times come from the kernel's coarse clock: they can read up
// to one tick (≤ 4 ms) early.
func watchPeers(ctx context.Context, b *bed, observers []string, peer, status string, timeout time.Duration) (map[string]watched, error) {
	deadline := time.Now().Add(timeout)
	last := map[string]time.Time{}
	out := map[string]watched{}
	left := len(observers)
	for {
		for _, o := range observers {
			if out[o].done {
				continue
			}
			fi, err := os.Stat(b.stateFile(o))
			if err != nil || fi.ModTime().Equal(last[o]) {
				continue
			}
			ps, mtime, err := b.readPeers(o)
			if err != nil {
				continue
			}
			last[o] = mtime
			for _, p := range ps {
				if p.ID != peer {
					continue
				}
				w := watched{p: p}
				if p.Status == status {
					w.seenAt, w.writtenAt, w.done = time.Now(), mtime, true
					left--
				}
				out[o] = w
			}
		}
		if left == 0 {
			return out, nil
		}
		if time.Now().After(deadline) {
			for _, o := range observers {
				if w := out[o]; !w.done {
					return out, fmt.Errorf("%s did not see %s %s within %v (last: %s, %q)", o, peer, status, timeout, w.p.Status, w.p.Reason)
				}
			}
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// watched is what watchPeers saw at one observer: its last view of the
// peer, and once done, when it had the awaited status.
type watched struct {
	seenAt, writtenAt time.Time
	p                 state.Peer
	done              bool
}

// watchPeer is watchPeers for one observer.
func watchPeer(ctx context.Context, b *bed, observer, peer, status string, timeout time.Duration) (seenAt, writtenAt time.Time, _ state.Peer, _ error) {
	out, err := watchPeers(ctx, b, []string{observer}, peer, status, timeout)
	w := out[observer]
	return w.seenAt, w.writtenAt, w.p, err
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
		tu, _, p, err := watchPeer(ctx, b, a, c, state.Unreachable, 10*time.Second)
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
	// First and All: until the first and every other node wrote the
	// victim Unreachable in its state file; AllSeen: until the bench had
	// read that from every one.
	First, All, AllSeen time.Duration
	Reason              string
	Recovery            time.Duration
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
		seen, werr := watchPeers(ctx, b, observers, victim, state.Unreachable, 15*time.Second)
		var tr deathTrial
		var first, last, lastSeen time.Time
		for _, o := range observers {
			r := seen[o]
			if !r.done {
				continue
			}
			if first.IsZero() || r.writtenAt.Before(first) {
				first, tr.Reason = r.writtenAt, r.p.Reason
			}
			if r.writtenAt.After(last) {
				last = r.writtenAt
			}
			if r.seenAt.After(lastSeen) {
				lastSeen = r.seenAt
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
		if werr != nil {
			return out, werr
		}
		tr.First, tr.All, tr.AllSeen = first.Sub(t0), last.Sub(t0), lastSeen.Sub(t0)
		if err := b.meshAuthenticated(ctx, 30*time.Second); err != nil {
			return out, fmt.Errorf("after death trial %d: %w", i+1, err)
		}
		tr.Recovery = time.Since(t1)
		out = append(out, tr)
	}
	return out, nil
}
