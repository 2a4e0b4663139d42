package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/orchd/orchd/state"
)

// trustRun is one timed full-mesh trust.
type trustRun struct {
	Cmd, Mesh time.Duration
	// CPU is the CPU seconds every clishd together used from the command's
	// start to the last node's Authenticated; MachineBusy the share of the
	// machine (all cores) busy meanwhile.
	CPU         float64
	MachineBusy float64
	// Steal is the share of the machine the hypervisor gave to other
	// guests meanwhile (counted in MachineBusy).
	Steal float64
	// Slowest is the node that saw its whole mesh last.
	Slowest string
	Output  string `json:"-"`
	// Failed summarises the per-ID errors of a failed command; Retry is
	// the wall time of the second attempt (0 when the first succeeded).
	Failed      string        `json:",omitempty"`
	Retry       time.Duration `json:",omitempty"`
	RetryFailed string        `json:",omitempty"`
	// Fsyncs counts fsync+fdatasync calls machine-wide during the commands.
	Fsyncs int `json:",omitempty"`
}

// prepareTrust waits for a fresh testbed to be ready for the trust
// command: sync ports up everywhere and the peers' first verdicts in.
func prepareTrust(ctx context.Context, b *bed) (map[string]string, error) {
	if err := b.waitAll(ctx, 30*time.Second, b.ids, func(_ string, s snap) bool { return s.portsUp() }); err != nil {
		return nil, fmt.Errorf("sync ports: %w", err)
	}
	// Let the untrusted probing settle: no peer still Unknown (at most 5 s).
	_ = b.waitAll(ctx, 5*time.Second, b.ids, func(_ string, s snap) bool {
		for _, p := range s.f.Peers {
			if p.Status == state.Unknown || p.Status == state.Authenticated {
				return false
			}
		}
		return true
	})
	return b.fingerprints(ctx)
}

// timeTrust runs the trust command on the first node and polls every
// node's state file until each lists every peer Authenticated. A node's
// completion time is the modification time of the first state file version
// seen complete (the daemon rewrites it at once on every change), so the
// figure does not depend on the polling interval. Should the command fail,
// it is run once more (the admin's obvious next step) and the mesh time
// counts from the first attempt.
func timeTrust(ctx context.Context, b *bed, fps map[string]string, countFsyncs bool) (trustRun, error) {
	var r trustRun
	pids := b.pids()
	done := map[string]time.Time{}
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		last := map[string]time.Time{}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			for _, id := range b.ids {
				mu.Lock()
				_, ok := done[id]
				mu.Unlock()
				if ok {
					continue
				}
				fi, err := os.Stat(b.stateFile(id))
				if err != nil || fi.ModTime().Equal(last[id]) {
					continue
				}
				// Only the peers list is decoded: the whole 144 kB file
				// costs ~2 ms, and the daemons rewrite or touch it several
				// times a second each, so full decodes took a tenth of
				// the two cores from the storm being timed.
				ps, mtime, err := b.readPeers(id)
				if err != nil {
					continue
				}
				last[id] = mtime
				if s := (snap{f: &state.File{Peers: ps}, mtime: mtime}); len(ps) == len(b.ids)-1 && s.allPeers(state.Authenticated) {
					mu.Lock()
					done[id] = mtime
					mu.Unlock()
				}
			}
			mu.Lock()
			n := len(done)
			mu.Unlock()
			if n == len(b.ids) {
				return
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	var fc *perfRun
	if countFsyncs {
		fc, _ = startFsyncCount()
	}
	runCmd := func() (time.Duration, string, error) {
		cmd := b.trustCommand(fps)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t0 := time.Now()
		err := cmd.Run()
		return time.Since(t0), strings.TrimSpace(out.String()), err
	}
	cpu0 := sumCPU(pids)
	busy0, total0, steal0 := machineCPUSteal()
	t0 := time.Now()
	var err error
	r.Cmd, r.Output, err = runCmd()
	if err != nil {
		r.Failed = summarizeTrustOutput(r.Output)
		logf("trust command failed after %.1f s: %s; running it once more", r.Cmd.Seconds(), r.Failed)
		var out2 string
		r.Retry, out2, err = runCmd()
		if err != nil {
			r.RetryFailed = summarizeTrustOutput(out2)
		}
	}
	if fc != nil {
		r.Fsyncs = fc.fsyncs()
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(done)
		mu.Unlock()
		if n == len(b.ids) {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			var missing []string
			for _, id := range b.ids {
				mu.Lock()
				_, ok := done[id]
				mu.Unlock()
				if !ok {
					s, _ := b.read(id)
					var bad []string
					if s.f != nil {
						for _, p := range s.f.Peers {
							if p.Status != state.Authenticated {
								bad = append(bad, p.ID+"="+p.Status+" ("+p.Reason+")")
							}
						}
					}
					l := id + ": " + strings.Join(bad, "; ")
					if len(l) > 300 {
						l = l[:300] + "..."
					}
					missing = append(missing, l)
					if len(missing) >= 2 {
						break
					}
				}
			}
			r.CPU = sumCPU(pids) - cpu0
			r.machine(busy0, total0, steal0)
			return r, fmt.Errorf("mesh not Authenticated within 60 s after the trust command; e.g. %s", strings.Join(missing, " | "))
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.CPU = sumCPU(pids) - cpu0
	r.machine(busy0, total0, steal0)
	var maxT time.Time
	for id, t := range done {
		if t.After(maxT) {
			maxT, r.Slowest = t, id
		}
	}
	r.Mesh = maxT.Sub(t0)
	if r.Mesh < 0 {
		r.Mesh = 0
	}
	return r, nil
}

// machine sets MachineBusy and Steal from the counters at the start.
func (r *trustRun) machine(busy0, total0, steal0 uint64) {
	busy1, total1, steal1 := machineCPUSteal()
	if total1 > total0 {
		r.MachineBusy = float64(busy1-busy0) / float64(total1-total0)
		r.Steal = float64(steal1-steal0) / float64(total1-total0)
	}
}

// summarizeTrustOutput counts the per-ID failure reasons of the trust
// command ("1_2: reading trust answer: EOF").
func summarizeTrustOutput(out string) string {
	reasons := map[string]int{}
	total := 0
	for _, l := range strings.Split(out, "\n") {
		i := strings.Index(l, ": ")
		if i < 0 || i > 6 {
			continue
		}
		msg := l[i+2:]
		total++
		if msg == "trusted" || strings.HasPrefix(msg, "already") {
			continue
		}
		// Addresses differ per target: keep the message's shape.
		if j := strings.Index(msg, " ("); j > 0 && strings.Contains(msg, "sync (") {
			msg = msg[:j] + " (...)" + msg[strings.Index(msg, "):")+1:]
		}
		reasons[msg]++
	}
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range reasons {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
	var parts []string
	for i, x := range l {
		if i == 3 {
			break
		}
		parts = append(parts, fmt.Sprintf("%d of %d targets %q", x.v, total, x.k))
	}
	if len(parts) == 0 {
		return firstLine(out)
	}
	return strings.Join(parts, ", ")
}
