package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	benchUser   = "orchdbench"
	benchGECOS  = "orchd-bench throwaway user"
	sshdBinary  = "/usr/sbin/sshd"
	privsepDir  = "/run/sshd"
	sshdDirBase = "sshd"
)

// throwawayUser creates the local user the private sshd logs in, with a
// fresh random password, and registers its removal (userdel -r).
func throwawayUser() (string, func() error, error) {
	if err := removeBenchUser(); err != nil {
		return "", nil, err
	}
	buf := make([]byte, 9)
	rand.Read(buf)
	pw := "Bch-" + hex.EncodeToString(buf)
	if out, err := exec.Command("useradd", "-m", "-c", benchGECOS, "-s", "/bin/sh", benchUser).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("useradd %s: %w: %s", benchUser, err, out)
	}
	del := atCleanup("user "+benchUser, removeBenchUser)
	c := exec.Command("chpasswd")
	c.Stdin = strings.NewReader(benchUser + ":" + pw + "\n")
	if out, err := c.CombinedOutput(); err != nil {
		return "", del, fmt.Errorf("chpasswd: %w: %s", err, out)
	}
	return pw, del, nil
}

// removeBenchUser deletes the throwaway user if it exists and is ours
// (its GECOS field says so); another user of that name is left alone.
func removeBenchUser() error {
	out, err := exec.Command("getent", "passwd", benchUser).Output()
	if err != nil {
		return nil // no such user
	}
	f := strings.Split(strings.TrimSpace(string(out)), ":")
	if len(f) < 5 || f[4] != benchGECOS {
		return fmt.Errorf("a user %q exists that this harness did not create (GECOS %q): not touching it", benchUser, f[4])
	}
	// Its sessions end with the private sshd; give them a moment.
	for i := 0; i < 50; i++ {
		if o, _ := exec.Command("pgrep", "-u", benchUser).Output(); len(bytes.TrimSpace(o)) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if o, err := exec.Command("userdel", "-r", benchUser).CombinedOutput(); err != nil {
		// userdel -r complains about a missing mail spool but succeeds.
		if _, gerr := exec.Command("getent", "passwd", benchUser).Output(); gerr == nil {
			return fmt.Errorf("userdel -r %s: %w: %s", benchUser, err, o)
		}
	}
	return nil
}

// sshd is a private OpenSSH server in one of our namespaces.
type sshd struct {
	addr string // host:port
	pid  int
	stop func() error
}

// startSSHD runs /usr/sbin/sshd with its own config and host key inside
// node id's namespace on its management address and port.
func startSSHD(ctx context.Context, b *bed, id string, port int, usePAM bool) (*sshd, error) {
	if _, err := os.Stat(sshdBinary); err != nil {
		return nil, fmt.Errorf("no %s: apt-get install openssh-server (scripts/bench.sh does)", sshdBinary)
	}
	n, err := b.Node(id)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(workDir, fmt.Sprintf("%s-%d", sshdDirBase, port))
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(privsepDir); os.IsNotExist(err) {
		if err := os.MkdirAll(privsepDir, 0o755); err != nil {
			return nil, err
		}
		atCleanup("privsep dir", func() error { return os.Remove(privsepDir) })
	}
	key := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ssh-keygen: %w: %s", err, out)
	}
	pam := "no"
	if usePAM {
		pam = "yes"
	}
	cfg := fmt.Sprintf(`# private sshd of the orchd benchmarks: compare password logins
Port %d
ListenAddress %s
HostKey %s
PidFile %s
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
AuthorizedKeysFile none
UsePAM %s
AllowUsers %s
PermitRootLogin no
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
StrictModes no
`, port, n.Mgmt.Addr(), key, filepath.Join(dir, "sshd.pid"), pam, benchUser)
	cfgFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.Command(sshdBinary, "-t", "-f", cfgFile).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sshd -t: %w: %s", err, out)
	}
	logFile, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	c := exec.Command("ip", "netns", "exec", n.Namespace, sshdBinary, "-D", "-e", "-f", cfgFile)
	c.Stdout, c.Stderr = logFile, logFile
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("starting sshd: %w", err)
	}
	exited := make(chan struct{})
	go func() { c.Wait(); close(exited) }()
	s := &sshd{addr: net.JoinHostPort(n.Mgmt.Addr().String(), strconv.Itoa(port)), pid: c.Process.Pid}
	s.stop = atCleanup(fmt.Sprintf("sshd :%d", port), func() error {
		select {
		case <-exited:
			return os.RemoveAll(dir)
		default:
		}
		syscall.Kill(s.pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(s.pid, syscall.SIGKILL)
			<-exited
		}
		return os.RemoveAll(dir)
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return s, nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			return nil, fmt.Errorf("sshd exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("sshd not listening on %s after 5 s", s.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sshpassArgs are the client options, the same for every server.
func sshpassArgs(addr, user, command string) []string {
	host, port, _ := net.SplitHostPort(addr)
	return []string{"-e", "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
		"-o", "ConnectTimeout=5", "-o", "ControlMaster=no", "-o", "ControlPath=none",
		"-p", port, user + "@" + host, command}
}

// sshLogin is one password login running one command, timed end to end.
type sshTarget struct {
	name, addr, user, pw, command, want string
}

func (t sshTarget) once(ctx context.Context) (time.Duration, error) {
	c := exec.CommandContext(ctx, "sshpass", sshpassArgs(t.addr, t.user, t.command)...)
	c.Env = append(os.Environ(), "SSHPASS="+t.pw)
	t0 := time.Now()
	out, err := c.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		return d, fmt.Errorf("%s: sshpass ssh %s: %w: %s", t.name, t.addr, err, out)
	}
	if !strings.Contains(string(out), t.want) {
		return d, fmt.Errorf("%s: output %q lacks %q", t.name, out, t.want)
	}
	return d, nil
}

// loadResult is what concurrent SSH sessions saw.
type loadResult struct {
	Sessions, Commands int
	Errors             int
	FirstErrors        []string
	Login, Command     Dist
	Wall               time.Duration
}

// sshLoad opens conns concurrent SSH connections (x/crypto/ssh, password
// auth), each running per commands one after another on its own exec
// channel.
func sshLoad(addr, user, pw string, commands []string, conns, per int) loadResult {
	var mu sync.Mutex
	var res loadResult
	var logins, cmds []float64
	fail := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		res.Errors++
		if len(res.FirstErrors) < 5 {
			res.FirstErrors = append(res.FirstErrors, fmt.Sprintf(format, a...))
		}
	}
	cfg := &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         30 * time.Second,
	}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-gate
			t0 := time.Now()
			cl, err := ssh.Dial("tcp", addr, cfg)
			if err != nil {
				// The session and its commands are lost.
				fail("connection %d: %v", i, err)
				mu.Lock()
				res.Errors += per - 1
				mu.Unlock()
				return
			}
			defer cl.Close()
			l := ms(time.Since(t0))
			var mine []float64
			for j := 0; j < per; j++ {
				t1 := time.Now()
				s, err := cl.NewSession()
				if err != nil {
					fail("connection %d command %d: new session: %v", i, j, err)
					continue
				}
				cmd := commands[(i+j)%len(commands)]
				out, err := s.CombinedOutput(cmd)
				s.Close()
				if err != nil {
					fail("connection %d: %q: %v: %s", i, cmd, err, out)
					continue
				}
				mine = append(mine, ms(time.Since(t1)))
			}
			mu.Lock()
			logins = append(logins, l)
			cmds = append(cmds, mine...)
			mu.Unlock()
		}(i)
	}
	t0 := time.Now()
	close(gate)
	wg.Wait()
	res.Wall = time.Since(t0)
	res.Sessions, res.Commands = conns, conns*per
	res.Login, res.Command = dist("ms", logins), dist("ms", cmds)
	return res
}
