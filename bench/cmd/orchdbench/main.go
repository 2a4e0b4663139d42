// Command orchdbench measures the quality bars of DESIGN §7 side by side
// with their comparison figures and writes bench/RESULTS.md and
// bench/results.json. It is run by scripts/bench.sh as root; it is a main
// package, so `go test ./...` only compiles it.
//
//	orchdbench run --bin DIR --floor FILE --out DIR [--quick]
//	orchdbench cleanup              remove what a crashed run left behind
//	orchdbench loop SPEC-JSON       (internal) time commands inside a node
//
// Testbeds use the prefix "bch-" and the management network
// 198.19.240.0/20 under /var/tmp/orchd-bench; everything started is
// stopped again on return, on error and on SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

const (
	tbPrefix  = "bch-"
	tbMgmtNet = "198.19.240.0/20"
	workDir   = "/var/tmp/orchd-bench"
	adminPW   = "Bench-Adm1n-pass"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "loop":
		os.Exit(loopMain(os.Args[2:]))
	case "cleanup":
		// Not while another run holds the lock: its testbed is live.
		if lock, err := os.OpenFile(workDir+"/run.lock", os.O_CREATE|os.O_RDWR, 0o644); err == nil {
			defer lock.Close()
			if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
				logf("another orchdbench run is in progress: leaving its testbed alone")
				return
			}
		}
		staleCleanup(logf)
		return
	case "run":
	default:
		usage()
	}
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var o runOpts
	fs.StringVar(&o.binDir, "bin", "", "directory holding clishd, clish, orch_stat (make build)")
	fs.StringVar(&o.floor, "floor", "", "the statefloor binary")
	fs.StringVar(&o.outDir, "out", "bench", "where RESULTS.md and results.json go")
	fs.BoolVar(&o.quick, "quick", false, "fewer trials (for trying the harness out)")
	fs.StringVar(&o.only, "only", "", "comma-separated phases to run (small,extauth,mid,api,secrets,lockout,large; trust64 = the 8x8 trust alone); default all but trust64")
	fs.Parse(os.Args[2:])
	if o.binDir == "" || o.floor == "" {
		usage()
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "orchdbench: needs root (network namespaces, a private sshd, a throwaway user)")
		os.Exit(1)
	}

	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		logf("got %v: stopping and cleaning up (again to force)", s)
		cancel()
		select {
		case <-sigs:
		case <-time.After(90 * time.Second):
		}
		logf("forcing cleanup")
		runCleanups()
		os.Exit(130)
	}()

	code := 0
	func() {
		defer func() {
			if r := recover(); r != nil {
				logf("panic: %v", r)
				code = 2
			}
			runCleanups()
		}()
		if err := run(ctx, o); err != nil {
			logf("error: %v", err)
			code = 1
		}
	}()
	if ctx.Err() != nil {
		code = 130
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: orchdbench run --bin DIR --floor FILE [--out DIR] [--quick] | orchdbench cleanup")
	os.Exit(2)
}

var logMu sync.Mutex
var start = time.Now()

func logf(format string, args ...any) {
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

// cleanups run last-in first-out, each once, from the main path or from
// the signal handler (whichever comes first; they are idempotent anyway).
var cleanups struct {
	sync.Mutex
	fns []*cleanup
}

type cleanup struct {
	name string
	once sync.Once
	fn   func() error
}

// atCleanup registers fn and returns a function that runs it now (and
// unregisters it).
func atCleanup(name string, fn func() error) func() error {
	c := &cleanup{name: name, fn: fn}
	cleanups.Lock()
	cleanups.fns = append(cleanups.fns, c)
	cleanups.Unlock()
	return func() error {
		var err error
		c.once.Do(func() { err = c.fn() })
		cleanups.Lock()
		for i, x := range cleanups.fns {
			if x == c {
				cleanups.fns = append(cleanups.fns[:i], cleanups.fns[i+1:]...)
				break
			}
		}
		cleanups.Unlock()
		return err
	}
}

func runCleanups() {
	cleanups.Lock()
	fns := append([]*cleanup(nil), cleanups.fns...)
	cleanups.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		c := fns[i]
		c.once.Do(func() {
			if err := c.fn(); err != nil {
				logf("cleanup %s: %v", c.name, err)
			}
		})
	}
}
