package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// perfAvailable reports whether perf can sample and trace system-wide.
func perfAvailable() bool {
	if _, err := exec.LookPath("perf"); err != nil {
		return false
	}
	return exec.Command("perf", "stat", "-e", "syscalls:sys_enter_fsync", "-a", "--", "true").Run() == nil
}

// perfRun is a perf process running in the background until stopped.
type perfRun struct {
	cmd  *exec.Cmd
	out  string
	done chan struct{}
	stop func() error
}

// startPerf runs `perf ARGS... -a` until stop (SIGINT) is called.
func startPerf(args ...string) (*perfRun, error) {
	c := exec.Command("perf", args...)
	var errb bytes.Buffer
	c.Stderr = &errb
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		return nil, err
	}
	p := &perfRun{cmd: c, done: make(chan struct{})}
	go func() { c.Wait(); close(p.done) }()
	p.stop = atCleanup("perf", func() error {
		c.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			c.Process.Kill()
			<-p.done
		}
		return nil
	})
	time.Sleep(150 * time.Millisecond) // let it attach
	return p, nil
}

// fsyncCounter counts fsync and fdatasync system calls machine-wide.
func startFsyncCount() (*perfRun, error) {
	f := filepath.Join(workDir, "perf-fsync.csv")
	p, err := startPerf("stat", "-x", ",", "-o", f, "-e", "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync", "-a")
	if p != nil {
		p.out = f
	}
	return p, err
}

// fsyncs stops the counter and returns the count.
func (p *perfRun) fsyncs() int {
	p.stop()
	b, err := os.ReadFile(p.out)
	os.Remove(p.out)
	if err != nil {
		return -1
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ",")
		if len(f) > 2 && strings.Contains(l, "sys_enter_f") {
			v, _ := strconv.Atoi(f[0])
			n += v
		}
	}
	return n
}

// startProfile samples every CPU with call graphs.
func startProfile() (*perfRun, error) {
	f := filepath.Join(workDir, "perf.data")
	p, err := startPerf("record", "-q", "-F", "499", "-g", "-a", "-o", f)
	if p != nil {
		p.out = f
	}
	return p, err
}

// summary stops the profile and says where the CPU went: the share of
// samples per command, then clishd's samples by Go package (kernel apart).
func (p *perfRun) summary() string {
	p.stop()
	defer os.Remove(p.out)
	out, err := exec.Command("perf", "report", "-i", p.out, "--stdio", "--no-children", "-g", "none",
		"--sort", "comm", "--percent-limit", "2").Output()
	if err != nil {
		return "perf report failed: " + err.Error()
	}
	comms := topLines(string(out), 4)
	out, err = exec.Command("perf", "report", "-i", p.out, "--stdio", "--no-children", "-g", "none",
		"--comm", "clishd", "--sort", "sym", "--percent-limit", "0.05").Output()
	if err != nil {
		return "perf report failed: " + err.Error()
	}
	pkgs := map[string]float64{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(strings.TrimSpace(l))
		if len(f) < 3 || !strings.HasSuffix(f[0], "%") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		sym := strings.Join(f[2:], " ")
		key := "kernel"
		if f[1] != "[k]" {
			key = goPackage(sym)
		}
		pkgs[key] += v
	}
	type kv struct {
		k string
		v float64
	}
	var l []kv
	for k, v := range pkgs {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
	var parts []string
	for i, x := range l {
		if i == 7 || x.v < 0.5 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%", x.k, x.v))
	}
	return fmt.Sprintf("perf on all CPUs, by command: %s; clishd by package (share of all samples): %s",
		strings.Join(comms, ", "), strings.Join(parts, ", "))
}

// goPackage is the package of a Go symbol: "golang.org/x/crypto/argon2" of
// "golang.org/x/crypto/argon2.mixBlocksSSE2.abi0".
func goPackage(sym string) string {
	slash := strings.LastIndex(sym, "/")
	dot := strings.Index(sym[slash+1:], ".")
	if dot < 0 {
		return sym
	}
	return sym[:slash+1+dot]
}

// profileFor samples all CPUs for d.
func profileFor(ctx context.Context, d time.Duration) (string, error) {
	p, err := startProfile()
	if err != nil {
		return "", err
	}
	if err := sleepCtx(ctx, d); err != nil {
		p.stop()
		return "", err
	}
	return p.summary(), nil
}

// topLines extracts "NN.NN%  name" rows of a perf report.
func topLines(report string, n int) []string {
	type row struct {
		pct  float64
		name string
	}
	var rows []row
	for _, l := range strings.Split(report, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasSuffix(f[0], "%") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		name := f[len(f)-1]
		if len(f) >= 3 && f[1] == "[k]" || len(f) >= 3 && f[1] == "[.]" {
			name = strings.Join(f[2:], " ")
		}
		rows = append(rows, row{v, name})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].pct > rows[j].pct })
	var s []string
	for i, r := range rows {
		if i >= n {
			break
		}
		s = append(s, fmt.Sprintf("%s %.0f%%", r.name, r.pct))
	}
	return s
}

// fsyncLatency times one atomic durable write of 1 KB in the testbed's
// directory, as the trust store does it (atomicfile: temp file, write,
// fsync, rename, directory fsync).
func fsyncLatency() (Dist, error) {
	dir := filepath.Join(workDir, "fsync-probe")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Dist{}, err
	}
	defer os.RemoveAll(dir)
	buf := make([]byte, 1024)
	var xs []float64
	for i := 0; i < 20; i++ {
		t0 := time.Now()
		f, err := os.CreateTemp(dir, ".tmp-")
		if err != nil {
			return Dist{}, err
		}
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return Dist{}, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return Dist{}, err
		}
		f.Close()
		if err := os.Rename(f.Name(), filepath.Join(dir, "store.json")); err != nil {
			return Dist{}, err
		}
		d, err := os.Open(dir)
		if err != nil {
			return Dist{}, err
		}
		d.Sync()
		d.Close()
		xs = append(xs, ms(time.Since(t0)))
	}
	return dist("ms", xs), nil
}
