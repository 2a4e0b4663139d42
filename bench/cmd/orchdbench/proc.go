package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const (
	sigCONT = syscall.SIGCONT
	sigSTOP = syscall.SIGSTOP
	sigKILL = syscall.SIGKILL
)

func syscallKill(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }

// clkTck is USER_HZ, 100 on every Linux this runs on.
const clkTck = 100

// cpuTicks is utime+stime of pid in clock ticks.
func cpuTicks(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat of %d", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3; utime is field 14 (f[11]), stime field 15 (f[12]).
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat of %d", pid)
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat of %d", pid)
	}
	return u + s, nil
}

// sumCPU is the CPU seconds all pids used so far.
// cpuNanos is the CPU time pid's live threads have used, in ns, from
// /proc/PID/task/*/schedstat: finer than the 10 ms clock ticks of stat,
// which give an idle daemon's ~10 ms CPU/s in 1 ms/s steps over 10 s.
// Threads that exited are not counted (an idle daemon keeps its threads).
func cpuNanos(pid int) (uint64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no threads of %d", pid)
	}
	var t uint64
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited meanwhile
		}
		fs := strings.Fields(string(data))
		if len(fs) < 1 {
			return 0, fmt.Errorf("malformed %s", f)
		}
		v, err := strconv.ParseUint(fs[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed %s", f)
		}
		t += v
	}
	return t, nil
}

func sumCPU(pids map[string]int) float64 {
	var t uint64
	for _, p := range pids {
		if v, err := cpuTicks(p); err == nil {
			t += v
		}
	}
	return float64(t) / clkTck
}

// rssKB is VmRSS of pid in kB.
func rssKB(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				return strconv.Atoi(f[1])
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

// machineCPU is the busy and total jiffies of the whole machine.
func machineCPU() (busy, total uint64) {
	busy, total, _ = machineCPUSteal()
	return busy, total
}

// machineCPUSteal is machineCPU with the time the hypervisor gave to other
// guests (steal): on a shared VM it varies run to run, and a CPU-bound
// phase's wall time with it.
func machineCPUSteal() (busy, total, steal uint64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	line := strings.SplitN(string(data), "\n", 2)[0]
	f := strings.Fields(line)
	for i, x := range f[1:] {
		v, _ := strconv.ParseUint(x, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
		if i == 7 {
			steal = v
		}
	}
	return busy, total, steal
}
