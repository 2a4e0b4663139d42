package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// lockoutAttempts is DESIGN §7's count of wrong passwords from one address.
const lockoutAttempts = 1000

// lockoutPhase measures DESIGN §7's lockout bar on a 1x2 testbed: 1,000
// wrong passwords from the host (one address) cost 1_1's clishd < 1
// CPU-second, because after failed-attempts-allowed (4) failures the
// address is refused before any password hash (new connections closed at
// accept); meanwhile node 1_2 (a second address) logs in at normal speed.
func lockoutPhase(ctx context.Context, o runOpts, res *Results) error {
	b, err := upBed(ctx, o.binDir, 1, 2)
	if err != nil {
		failItem(res, firstLine(err.Error()), "lockout-cpu", "lockout-second")
		return err
	}
	defer b.down()
	mg, err := b.Addr("1_1", "mgmt")
	if err != nil {
		return err
	}
	target := mg.Addr().String()
	pid := b.pids()["1_1"]

	// A login from 1_2's namespace: a real OpenSSH client, as an admin would.
	login := func() (float64, error) {
		cmd, err := b.Command("1_2", "sshpass", "-e", "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "PubkeyAuthentication=no",
			"-o", "PreferredAuthentications=password", "admin@"+target, "show config-state")
		if err != nil {
			return 0, err
		}
		c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
		c.Env = append(append([]string{}, cmd.Env...), "SSHPASS="+adminPW)
		if cmd.Env == nil {
			c.Env = append(os.Environ(), "SSHPASS="+adminPW)
		}
		t0 := time.Now()
		out, err := c.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "saved") {
			return 0, fmt.Errorf("login from 1_2: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return ms(time.Since(t0)), nil
	}
	logins := func(n int) ([]float64, error) {
		var xs []float64
		for range n {
			v, err := login()
			if err != nil {
				return xs, err
			}
			xs = append(xs, v)
		}
		return xs, nil
	}
	n := o.trials(20, 8)
	if _, err := logins(2); err != nil { // warm-up
		return err
	}
	base, err := logins(n)
	if err != nil {
		return err
	}

	// 1. The attack alone: daemon CPU over 1,000 wrong passwords.
	before, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	st := attack(ctx, net.JoinHostPort(target, "22"), lockoutAttempts)
	wall := time.Since(t0)
	after, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	cpu := float64(after-before) / clkTck
	logf("lockout: %d wrong passwords in %.1f s: %d refused at accept, %d after a password check, %d other; daemon CPU %.2f s",
		lockoutAttempts, wall.Seconds(), st.closed.Load(), st.authFailed.Load(), st.other.Load(), cpu)
	lockouts, _, _ := b.exec(ctx, "1_1", "", "clish", "-c", "show aaa lockouts")
	res.add(&Item{Key: "lockout-cpu", Name: "1,000 wrong SSH passwords from one source address: clishd CPU",
		Ours: fmt.Sprintf("%.2f CPU-s", cpu), Comparison: fmt.Sprintf("%d attempts × ~20 ms argon2id ≈ %.0f CPU-s without the lockout", lockoutAttempts, float64(lockoutAttempts)*0.02),
		Target: "< 1 CPU-s", Verdict: verdict(cpu < 1),
		Finding: fmt.Sprintf("%d connections closed at accept, %d refused after a password check (the first failed-attempts-allowed), %d other, in %.1f s", st.closed.Load(), st.authFailed.Load(), st.other.Load(), wall.Seconds()),
		Data:    map[string]any{"cpu_seconds": cpu, "wall_seconds": wall.Seconds(), "closed_at_accept": st.closed.Load(), "auth_failed": st.authFailed.Load(), "other": st.other.Load(), "lockouts": lockouts}})

	// 2. The attack goes on (the address still locked) for as long as 1_2
	// logs in.
	var during []float64
	var loginErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		during, loginErr = logins(n)
	}()
	rounds := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			attack(ctx, net.JoinHostPort(target, "22"), 100)
			rounds++
		}
	}
	if loginErr != nil {
		failItem(res, firstLine(loginErr.Error()), "lockout-second")
		return loginErr
	}
	bd, dd := dist("ms", base), dist("ms", during)
	res.add(&Item{Key: "lockout-second", Name: "SSH login from a second address during the attack (sshpass ssh from 1_2)",
		Ours: "median " + fmtMs(dd.Median), Comparison: "median " + fmtMs(bd.Median) + " without the attack", Ratio: ratio(dd.Median, bd.Median),
		Target: "normal speed (≤ 1.5 ×)", Verdict: verdict(dd.Median <= 1.5*bd.Median),
		Finding: fmt.Sprintf("%d wrong passwords from the host went on during the %d logins", rounds*100, n),
		Data:    map[string]any{"during": dd, "baseline": bd, "attack_attempts": rounds * 100}})
	return nil
}

type attackStats struct{ closed, authFailed, other atomic.Int64 }

// attack tries n wrong passwords against addr, 8 connections at a time,
// one password per connection, with the Go SSH client.
func attack(ctx context.Context, addr string, n int) *attackStats {
	st := &attackStats{}
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				cfg := &ssh.ClientConfig{User: "admin", Auth: []ssh.AuthMethod{ssh.Password(fmt.Sprintf("Wrong-%d", i))},
					HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
				c, err := ssh.Dial("tcp", addr, cfg)
				switch {
				case err == nil:
					c.Close()
					st.other.Add(1)
				case strings.Contains(err.Error(), "unable to authenticate"):
					st.authFailed.Add(1)
				case errors.Is(err, net.ErrClosed), strings.Contains(err.Error(), "handshake failed"), strings.Contains(err.Error(), "EOF"), strings.Contains(err.Error(), "reset"):
					st.closed.Add(1)
				default:
					st.other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return st
}
