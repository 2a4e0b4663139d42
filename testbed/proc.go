package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStat returns the state letter and start time (clock ticks after
// boot) of pid from /proc/PID/stat.
func procStat(pid int) (state byte, start uint64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStat(data)
}

// parseStat parses /proc/PID/stat; the command name in parentheses may
// itself hold spaces and parentheses, so fields are counted after the last ')'.
func parseStat(data []byte) (state byte, start uint64, err error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed stat %q", data)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); field 22 (starttime) is f[19].
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("malformed stat %q", data)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("malformed start time in stat: %w", err)
	}
	return f[0][0], start, nil
}

func procCmdline(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00"), nil
}

// alive reports whether pid runs (a zombie does not) and, when start is
// not 0, is still the process that started at start.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	state, st, err := procStat(pid)
	if err != nil || state == 'Z' || state == 'X' {
		return false
	}
	return start == 0 || st == start
}

// reaped reports whether pid (started at start, when known) is gone for
// good: collected by its parent, or a zombie none of whose threads is
// still exiting (so its files are closed).
func reaped(pid int, start uint64) bool {
	if pid <= 0 {
		return true
	}
	state, st, err := procStat(pid)
	if err != nil || (start != 0 && st != start) {
		return true
	}
	if state != 'Z' && state != 'X' {
		return false
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return err != nil || len(tasks) <= 1
}

// isOurs reports whether pid is alive, started at start (when known) and
// has root among its arguments: our `clishd run --root ROOT`, or the
// `ip netns exec` that is about to become it.
func isOurs(pid int, start uint64, root string) bool {
	if !alive(pid, start) {
		return false
	}
	args, err := procCmdline(pid)
	return err == nil && slices.Contains(args, root)
}

// victim is a process that Down or Stop ends.
type victim struct {
	pid   int
	start uint64
	what  string // for messages: "node 1_1 (pid 123)"
}

// terminate sends SIGTERM to every victim, waits up to grace for them to
// exit, then sends SIGKILL to the rest and waits up to 2 s more; kill skips
// the SIGTERM. forced lists the victims that needed SIGKILL after SIGTERM.
func terminate(vs []victim, grace time.Duration, kill bool) (forced []string, err error) {
	var errs []error
	signal := func(sig syscall.Signal) {
		for _, v := range vs {
			if !alive(v.pid, v.start) {
				continue
			}
			if err := syscall.Kill(v.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("sending %v to %s: %w", sig, v.what, err))
			}
		}
	}
	// Gone means reaped, not merely a zombie: the leader of a Go process
	// shows Z while its other threads are still exiting and its files
	// (the control socket) are still open, and a daemon restarted in that
	// window finds its socket answering and refuses to start.
	gone := func() bool {
		for _, v := range vs {
			if !reaped(v.pid, v.start) {
				return false
			}
		}
		return true
	}
	if !kill {
		signal(syscall.SIGTERM)
		if pollUntil(grace, gone) {
			return nil, errors.Join(errs...)
		}
		for _, v := range vs {
			if alive(v.pid, v.start) {
				forced = append(forced, v.what)
			}
		}
	}
	signal(syscall.SIGKILL)
	if !pollUntil(2*time.Second, gone) {
		for _, v := range vs {
			if alive(v.pid, v.start) {
				errs = append(errs, fmt.Errorf("%s still running after SIGKILL", v.what))
			}
		}
	}
	return forced, errors.Join(errs...)
}

// pollUntil polls cond every 20 ms for up to d.
func pollUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
