package testbed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/paths"
)

const (
	readyTimeout = 10 * time.Second // Up and Start wait this long for state files
	stopTimeout  = 10 * time.Second // Stop waits this long after SIGTERM
	downGrace    = 3 * time.Second  // Down waits this long after SIGTERM
)

// LogFile is where node n's daemon writes stdout and stderr.
func (n *Node) LogFile() string {
	return filepath.Join(paths.Layout{Root: n.Root}.LogDir(), "clishd.log")
}

// Running reports whether the daemon the testbed started for n still runs.
func (n *Node) Running() bool { return isOurs(n.PID, n.startTime, n.Root) }

// initNode runs `clishd init` for n and reads back the sync addresses its
// config gives it. The topology is every node of the testbed, or only n
// when alone (a node added to a running mesh learns it from trust).
func (tb *Testbed) initNode(ctx context.Context, n *Node, alone bool) error {
	o := tb.Opts
	var all []string
	for _, m := range tb.Nodes {
		if !alone || m == n {
			all = append(all, m.ID.String())
		}
	}
	args := []string{"init", "--root", n.Root, "--id", n.ID.String(),
		"--orchestrators", strings.Join(all, ","), "--mgmt-address", n.Mgmt.Addr().String()}
	cmd := exec.CommandContext(ctx, filepath.Join(o.BinDir, "clishd"))
	if o.AdminPassword != "" {
		args = append(args, "--admin-password-stdin")
		cmd.Stdin = strings.NewReader(o.AdminPassword + "\n")
	}
	cmd.Args = append(append(cmd.Args, args...), o.InitArgs...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("clishd %s: %w: %s", strings.Join(cmd.Args[1:], " "), err, bytes.TrimSpace(out))
	}
	file := paths.Layout{Root: n.Root}.ConfigFile()
	doc, err := os.ReadFile(file)
	if err == nil {
		var cfg *config.Config
		if cfg, err = config.Parse(doc); err == nil {
			if n.Internal, err = cfg.PortAddress(cfg.Internal); err == nil {
				n.External, err = cfg.PortAddress(cfg.External)
			}
		}
	}
	if err != nil {
		o.Logf("node %s: reading sync addresses from %s: %v; assuming clishd's defaults", n.ID, file, err)
		return nil
	}
	return tb.save()
}

// startDaemon starts `clishd run` in n's namespace in its own session,
// output appended to n's log, and records its PID. Callers hold tb.mu.
//
// The PID can only be recorded after the start; a crash in between leaves
// a daemon that Down still finds, as a process in one of our namespaces
// with the node's root in its arguments.
func (tb *Testbed) startDaemon(n *Node) error {
	if err := os.MkdirAll(filepath.Dir(n.LogFile()), 0o755); err != nil {
		return fmt.Errorf("creating log directory: %w", err)
	}
	f, err := os.OpenFile(n.LogFile(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening daemon log: %w", err)
	}
	defer f.Close()
	bin := tb.Opts.BinDir
	cmd := exec.Command("ip", "netns", "exec", n.Namespace, filepath.Join(bin, "clishd"), "run", "--root", n.Root)
	cmd.Env = daemonEnv(bin, procsPerNode(runtime.NumCPU(), len(tb.Nodes)))
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting clishd: %w", err)
	}
	// Until reaped below, the child is at worst a zombie: its stat is there.
	_, start, err := procStat(cmd.Process.Pid)
	go cmd.Wait() // reap it when it exits, so that a stopped daemon is gone
	if err != nil {
		return fmt.Errorf("reading start time of clishd (pid %d): %w", cmd.Process.Pid, err)
	}
	n.PID, n.startTime = cmd.Process.Pid, start
	tb.Opts.Logf("node %s: clishd running, pid %d", n.ID, n.PID)
	return tb.save()
}

// waitReady waits until every node in ns has a state file whose
// modification time differs from prev[node] (zero: absent before).
func (tb *Testbed) waitReady(ctx context.Context, ns []*Node, prev map[*Node]time.Time) error {
	pending := map[*Node]bool{}
	for _, n := range ns {
		pending[n] = true
	}
	var exited error
	err := WaitFor(ctx, readyTimeout, func() (bool, error) {
		for n := range pending {
			fi, err := os.Stat(paths.Layout{Root: n.Root}.StateFile())
			if err == nil && !fi.ModTime().Equal(prev[n]) {
				delete(pending, n)
				continue
			}
			if !alive(n.PID, n.startTime) {
				exited = fmt.Errorf("node %s: clishd (pid %d) exited before writing its state file; %s", n.ID, n.PID, logTail(n))
				return false, exited
			}
		}
		return len(pending) == 0, nil
	})
	if err == nil || exited != nil || ctx.Err() != nil {
		return err
	}
	var msgs []string
	for _, n := range ns {
		if pending[n] {
			msgs = append(msgs, fmt.Sprintf("node %s: no state file %s after %v; %s",
				n.ID, paths.Layout{Root: n.Root}.StateFile(), readyTimeout, logTail(n)))
		}
	}
	return fmt.Errorf("%s", strings.Join(msgs, "\n"))
}

// logTail quotes the end of n's daemon log for error messages.
func logTail(n *Node) string {
	data, err := os.ReadFile(n.LogFile())
	if err != nil {
		return "no log: " + err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return fmt.Sprintf("end of %s:\n\t%s", n.LogFile(), strings.Join(lines, "\n\t"))
}

func (tb *Testbed) victim(n *Node) victim {
	return victim{pid: n.PID, start: n.startTime, what: fmt.Sprintf("node %s clishd (pid %d)", n.ID, n.PID)}
}

// Stop sends SIGTERM to node id's daemon and waits for it to exit. A daemon
// still running after 10 s is killed and reported as an error.
func (tb *Testbed) Stop(id string) error { return tb.end(id, false) }

// Kill sends SIGKILL to node id's daemon and waits for it to be gone.
func (tb *Testbed) Kill(id string) error { return tb.end(id, true) }

func (tb *Testbed) end(id string, kill bool) error {
	n, err := tb.Node(id)
	if err != nil {
		return err
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if !n.Running() {
		if n.PID != 0 {
			n.PID, n.startTime = 0, 0
			if err := tb.save(); err != nil {
				return err
			}
		}
		return fmt.Errorf("node %s: clishd is not running", id)
	}
	forced, err := terminate([]victim{tb.victim(n)}, stopTimeout, kill)
	if err != nil {
		return fmt.Errorf("node %s: %w", id, err)
	}
	n.PID, n.startTime = 0, 0
	if err := tb.save(); err != nil {
		return err
	}
	if len(forced) > 0 {
		return fmt.Errorf("node %s: clishd did not exit within %v of SIGTERM; killed it", id, stopTimeout)
	}
	return nil
}

// Start starts node id's daemon again and waits (up to 10 s) until it has
// rewritten its state file.
func (tb *Testbed) Start(id string) error {
	n, err := tb.Node(id)
	if err != nil {
		return err
	}
	tb.mu.Lock()
	if n.Running() {
		tb.mu.Unlock()
		return fmt.Errorf("node %s: clishd is already running (pid %d)", id, n.PID)
	}
	var prev time.Time
	if fi, err := os.Stat(paths.Layout{Root: n.Root}.StateFile()); err == nil {
		prev = fi.ModTime()
	}
	err = tb.startDaemon(n)
	tb.mu.Unlock()
	if err != nil {
		return fmt.Errorf("node %s: %w", id, err)
	}
	return tb.waitReady(context.Background(), []*Node{n}, map[*Node]time.Time{n: prev})
}

// daemonEnv is the environment of every daemon: ours with bin first on
// PATH and without CLISHD_* variables, so that the caller's shell does not
// change the nodes' configuration (use Options.InitArgs for that). procs,
// when above zero, is the daemon's GOMAXPROCS unless ours names one.
func daemonEnv(bin string, procs int) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CLISHD_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); !set && procs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(procs))
	}
	return append(env, "PATH="+bin+":"+os.Getenv("PATH"))
}

// procsPerNode is each daemon's GOMAXPROCS when the testbed packs nodes
// appliances on a host of cores: with more nodes than cores, one, as Go
// picks by itself under a container's CPU limit of a core or less. 0
// (clishd's own choice, cores + 2) when every node has a core to itself.
//
// Why: each Go runtime takes its idle Ps for idle-priority GC workers and
// spinning threads, assuming idle Ps mean idle cores. 64 daemons on two
// cores each with four Ps turned that assumption into CPU taken from the
// others: a 64-node trust storm used ~10 % more CPU, and took ~10 % longer,
// than with one P per daemon (bench/RESULTS.md, issue 16, eleventh pass).
// A real appliance runs one daemon on its own cores and keeps clishd's
// choice.
func procsPerNode(cores, nodes int) int {
	if nodes <= cores || cores < 1 {
		return 0
	}
	return 1
}
