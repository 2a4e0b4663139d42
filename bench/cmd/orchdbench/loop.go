package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// loopSpec asks `orchdbench loop`, already inside a node's namespace, to
// run each command N times, interleaved (A B C A B C ...), after one
// warm-up run each, and to report every wall time. Timing from inside the
// namespace keeps `ip netns exec`'s own cost out of the figures.
type loopSpec struct {
	N    int        `json:"n"`
	Env  []string   `json:"env"`
	Cmds [][]string `json:"cmds"`
}

type loopResult struct {
	Samples [][]float64 `json:"samples"` // ms, per command
	Bytes   []int       `json:"bytes"`   // output size of each command
	// Failed counts the runs of each command that exited non-zero (a
	// starved daemon's stale state makes orch_stat exit 1): they are
	// timed all the same, and the row says so instead of the run ending.
	Failed    []int    `json:"failed"`
	FirstFail []string `json:"first_fail"`
}

func loopMain(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: orchdbench loop SPEC-JSON")
		return 2
	}
	var sp loopSpec
	if err := json.Unmarshal([]byte(args[0]), &sp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	res := loopResult{Samples: make([][]float64, len(sp.Cmds)), Bytes: make([]int, len(sp.Cmds)),
		Failed: make([]int, len(sp.Cmds)), FirstFail: make([]string, len(sp.Cmds))}
	env := append(os.Environ(), sp.Env...)
	runOne := func(argv []string) (time.Duration, int, error) {
		c := exec.Command(argv[0], argv[1:]...)
		c.Env = env
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		t0 := time.Now()
		err := c.Run()
		d := time.Since(t0)
		if err != nil {
			return d, out.Len(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, firstLine(strings.TrimSpace(out.String())))
		}
		return d, out.Len(), nil
	}
	for i := -1; i < sp.N; i++ {
		for j, argv := range sp.Cmds {
			d, n, err := runOne(argv)
			if err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					fmt.Fprintln(os.Stderr, err) // could not run it at all
					return 1
				}
				if i >= 0 {
					res.Failed[j]++
					if res.FirstFail[j] == "" {
						res.FirstFail[j] = err.Error()
					}
				}
			}
			if i >= 0 {
				res.Samples[j] = append(res.Samples[j], ms(d))
				res.Bytes[j] = n
			}
		}
	}
	json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

// timeInNode runs the loop inside node id and returns per-command samples.
func timeInNode(ctx context.Context, b *bed, id string, n int, cmds [][]string) (loopResult, error) {
	node, err := b.Node(id)
	if err != nil {
		return loopResult{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return loopResult{}, err
	}
	sp := loopSpec{N: n, Env: []string{"CLISHD_ROOT=" + node.Root, "PATH=" + b.Opts.BinDir + ":" + os.Getenv("PATH")}, Cmds: cmds}
	spec, _ := json.Marshal(sp)
	c := exec.CommandContext(ctx, "ip", "netns", "exec", node.Namespace, self, "loop", string(spec))
	var o, e bytes.Buffer
	c.Stdout, c.Stderr = &o, &e
	if err := c.Run(); err != nil {
		return loopResult{}, fmt.Errorf("timing loop in %s: %w: %s", id, err, e.String())
	}
	var r loopResult
	if err := json.Unmarshal(o.Bytes(), &r); err != nil {
		return r, fmt.Errorf("timing loop output: %w", err)
	}
	return r, nil
}
