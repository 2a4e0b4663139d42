package integration

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/testbed"
)

func needSSH(t *testing.T) {
	t.Helper()
	for _, b := range []string{"ssh", "sshpass"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("needs %s (apt-get install openssh-client sshpass; make test installs them as root)", b)
		}
	}
}

func sshArgs(addr, user string, extra ...string) []string {
	a := []string{"-e", "ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "PubkeyAuthentication=no", "-o", "ConnectTimeout=5"}
	a = append(a, extra...)
	return append(a, user+"@"+addr)
}

// sshRun runs one command over the real OpenSSH client, the password in
// the environment (never argv).
func sshRun(t *testing.T, addr, user, password, command string) (string, int) {
	t.Helper()
	cmd := exec.Command("sshpass", append(sshArgs(addr, user), command)...)
	cmd.Env = append(os.Environ(), "SSHPASS="+password)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	return string(out), code
}

func TestShellOverSSH(t *testing.T) {
	needRoot(t)
	needSSH(t)
	const adminPW = "Adm1n-pass"
	tb := upTestbedPW(t, tbSpec{prefix: "its-", mgmt: "198.19.192.0/20"}, 1, 2, adminPW)
	mg, _ := tb.Addr("1_1", "mgmt")
	addr := mg.Addr().String()

	out, code := sshRun(t, addr, "admin", adminPW, "show config-state")
	if code != 0 || !strings.Contains(out, "saved") {
		t.Fatalf("ssh exec show config-state: exit %d\n%s", code, out)
	}
	out, code = sshRun(t, addr, "admin", "wrong-password", "show users")
	// sshpass exits 5 when the password prompt comes back (refused); ssh
	// itself 255 with "Permission denied".
	if (code != 5 && code != 255) || strings.Contains(out, "ROLE") {
		t.Fatalf("wrong password: exit %d\n%s", code, out)
	}
	if _, code = sshRun(t, addr, "admin", adminPW, "show maestro bogus"); code != 2 {
		t.Fatalf("bad command over ssh: exit %d, want 2", code)
	}

	// A monitorRole user is refused any change.
	mustClish(t, tb, "1_1", "", "add user mon role monitorRole")
	mustClish(t, tb, "1_1", `{"password": "Mon-pass-1"}`, "set user mon password")
	out, code = sshRun(t, addr, "mon", "Mon-pass-1", "add user x role monitorRole")
	if code == 0 || !strings.Contains(out, "read-only") {
		t.Fatalf("monitorRole change: exit %d\n%s", code, out)
	}
	if out, code = sshRun(t, addr, "mon", "Mon-pass-1", "show users"); code != 0 || !strings.Contains(out, "mon") {
		t.Fatalf("monitorRole show: exit %d\n%s", code, out)
	}

	// save config survives a restart; an unsaved change does not.
	mustClish(t, tb, "1_1", "", "save config")
	mustClish(t, tb, "1_1", "", "add user loseme role monitorRole")
	if out, _ := sshRun(t, addr, "admin", adminPW, "show config-state"); !strings.Contains(out, "unsaved") {
		t.Fatalf("config-state after a change: %s", out)
	}
	if err := tb.Stop("1_1"); err != nil {
		t.Fatal(err)
	}
	if err := tb.Start("1_1"); err != nil {
		t.Fatal(err)
	}
	users := mustClish(t, tb, "1_1", "", "show users")
	if !strings.Contains(users, "mon ") || strings.Contains(users, "loseme") {
		t.Fatalf("after restart:\n%s", users)
	}

	// Expert mode gives uid 0 on a PTY, through the real ssh -tt.
	mustClish(t, tb, "1_1", `{"password": "Exp3rt-pass"}`, "set expert-password")
	tty := startPTY(t, exec.Command("sshpass", sshArgs(addr, "admin", "-tt")...), "SSHPASS="+adminPW)
	tty.expect("orch-1_1> ")
	tty.send("expert\r")
	tty.expect("Password: ")
	tty.send("Exp3rt-pass\r")
	tty.expect("[Expert@orch-1_1:0]# ")
	tty.send("id -u\r")
	tty.expect("id -u\r\n")
	tty.expect("\r0\r\n")
	tty.send("exit\r")
	tty.expect("orch-1_1> ")
	tty.send("exit\r")
	tty.wait()
	// The configuration lock: one read-write session at a time.
	a := startPTY(t, exec.Command("sshpass", sshArgs(addr, "admin", "-tt")...), "SSHPASS="+adminPW)
	a.expect("orch-1_1> ")
	out, code = sshRun(t, addr, "admin", adminPW, "add user z role monitorRole")
	if code == 0 || !strings.Contains(out, "configuration lock held by admin") {
		t.Fatalf("change while another session holds the lock: exit %d\n%s", code, out)
	}
	// The local console, interactive on a terminal, takes the lock over.
	cmd, err := tb.Command("1_1", "clish")
	if err != nil {
		t.Fatal(err)
	}
	b := startPTY(t, cmd)
	b.expect("configuration lock held by admin")
	b.expect("orch-1_1> ")
	b.send("lock database override\r")
	b.expect("configuration lock taken from admin")
	b.send("add user viaconsole role monitorRole\r")
	b.expect("user viaconsole added")
	a.send("add user viassh role monitorRole\r")
	a.expect("read-only")
	b.send("exit\r")
	b.wait()
	a.send("add user viassh role monitorRole\r")
	a.expect("user viassh added")
	a.send("exit\r")
	a.wait()

	// Interactive trust: the presented fingerprint is shown and confirmed,
	// the administrator password asked once, without echo.
	fp12 := readState(t, tb, "1_2").Orchestrator.Fingerprint
	it := startPTY(t, exec.Command("sshpass", sshArgs(addr, "admin", "-tt")...), "SSHPASS="+adminPW)
	it.expect("orch-1_1> ")
	it.send("set maestro authentication trust orchestrators 1_2\r")
	it.expect("1_2 presents fingerprint " + fp12)
	it.expect("[y/n] ")
	it.send("y\r")
	it.expect("Administrator password on the other orchestrators: ")
	it.send(adminPW + "\r")
	it.expect("1_2: trusted")
	it.expect("orch-1_1> ")
	it.send("exit\r")
	it.wait()
	if strings.Contains(it.buf.String(), adminPW) {
		t.Error("the administrator password was echoed")
	}
	if err := testbed.WaitFor(context.Background(), 5*time.Second, func() (bool, error) {
		for _, p := range readState(t, tb, "1_1").Peers {
			if p.ID == "1_2" {
				return p.Status == state.Authenticated, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatalf("1_2 not Authenticated after the interactive trust: %+v", readState(t, tb, "1_1").Peers)
	}

	log := tb.Nodes[0].Root + "/var/log/clishd/clishd.log"
	if b, _ := os.ReadFile(log); !strings.Contains(string(b), "expert mode entered") {
		t.Errorf("expert entry not logged in %s", log)
	}

	// Roles per command and password controls, on 1_2 (rba_test.go).
	t.Run("RBA", func(t *testing.T) { rbaOverSSH(t, tb, adminPW) })
}

func mustClish(t *testing.T, tb interface {
	Command(string, ...string) (*exec.Cmd, error)
}, id, inputJSON, line string) string {
	t.Helper()
	args := []string{"clish", "-c", line}
	if inputJSON != "" {
		args = []string{"clish", "--input-json", "-c", line}
	}
	cmd, err := tb.Command(id, args...)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = strings.NewReader(inputJSON)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("clish -c %q on %s: %v\n%s", line, id, err, out)
	}
	return string(out)
}

// ptyProc is a program on a pseudo-terminal, driven like expect(1).
type ptyProc struct {
	t   *testing.T
	cmd *exec.Cmd
	f   *os.File
	mu  sync.Mutex
	buf bytes.Buffer
	pos int
}

func startPTY(t *testing.T, cmd *exec.Cmd, env ...string) *ptyProc {
	t.Helper()
	cmd.Env = append(os.Environ(), env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyProc{t: t, cmd: cmd, f: f}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			p.mu.Lock()
			p.buf.Write(b[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); f.Close() })
	return p
}

func (p *ptyProc) expect(s string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		all := p.buf.String()
		p.mu.Unlock()
		if i := strings.Index(all[p.pos:], s); i >= 0 {
			p.pos += i + len(s)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.t.Fatalf("did not see %q; terminal so far:\n%q", s, p.buf.String()[p.pos:])
}

func (p *ptyProc) send(s string) { io.WriteString(p.f, s) }

func (p *ptyProc) wait() {
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			p.t.Fatalf("session ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		p.t.Fatal("session did not end after exit")
	}
}
