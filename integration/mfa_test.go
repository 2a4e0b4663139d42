package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa/totp"
	"github.com/orchd/orchd/testbed"
)

// mfaSpec is the two-factor test's testbed (aaa-login workstream).
var mfaSpec = tbSpec{prefix: "itaab-", mgmt: "198.19.184.0/21"}

// startSMTP runs a real aiosmtpd (Debian's python3-aiosmtpd) inside node's
// namespace on 127.0.0.1:port, delivering into a Maildir; it is stopped by
// its PID when the test ends.
func startSMTP(t *testing.T, tb *testbed.Testbed, node string, port string) (maildir string) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import aiosmtpd").Run(); err != nil {
		t.Skip("needs python3-aiosmtpd (apt-get install python3-aiosmtpd; make test installs it as root)")
	}
	maildir = filepath.Join(t.TempDir(), "maildir")
	cmd, err := tb.Command(node, "/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:"+port, "-c", "aiosmtpd.handlers.Mailbox", maildir)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting aiosmtpd: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		probe, _ := tb.Command(node, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/"+port)
		if probe.Run() == nil {
			return maildir
		}
		if time.Now().After(deadline) {
			t.Fatal("aiosmtpd did not listen within 15 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var mailCode = regexp.MustCompile(`verification code for .* is (\d{6})\.`)

// nextMailCode waits for the n-th message (1-based) in maildir and returns
// the code it carries.
func nextMailCode(t *testing.T, maildir string, n int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		es, _ := os.ReadDir(filepath.Join(maildir, "new"))
		if len(es) >= n {
			var newest os.DirEntry
			var at time.Time
			for _, e := range es {
				if i, err := e.Info(); err == nil && !i.ModTime().Before(at) {
					newest, at = e, i.ModTime()
				}
			}
			b, err := os.ReadFile(filepath.Join(maildir, "new", newest.Name()))
			if err != nil {
				t.Fatal(err)
			}
			m := mailCode.FindStringSubmatch(string(b))
			if m == nil {
				t.Fatalf("no code in the message:\n%s", b)
			}
			return m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("message %d did not arrive in %s", n, maildir)
	return ""
}

// sshCodeLogin logs in with the real OpenSSH client on a terminal,
// answering the password and then the verification code that code()
// returns, and runs one command. It returns the terminal text and whether
// the command ran.
func sshCodeLogin(t *testing.T, addr, password string, code func() string) (string, bool) {
	t.Helper()
	args := sshArgs(addr, "admin", "-o", "NumberOfPasswordPrompts=1", "-o", "KbdInteractiveAuthentication=yes")[2:]
	p := startPTY(t, exec.Command("ssh", append(args, "show config-state")...))
	p.expect("assword: ")
	p.send(password + "\r")
	p.expect("Verification code: ")
	p.send(code() + "\r")
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		out, after := p.buf.String(), p.buf.String()[p.pos:]
		p.mu.Unlock()
		select {
		case err := <-done:
			// The pty may still hold the command's output.
			for i := 0; i < 50 && !strings.Contains(out, "saved"); i++ {
				time.Sleep(20 * time.Millisecond)
				p.mu.Lock()
				out = p.buf.String()
				p.mu.Unlock()
			}
			return out, err == nil && strings.Contains(out, "saved")
		case <-deadline:
			t.Fatal("ssh neither ran the command nor asked again")
		case <-time.After(20 * time.Millisecond):
		}
		// Refused: OpenSSH starts over with the password.
		if strings.Contains(after, "assword: ") {
			p.cmd.Process.Kill()
			<-done
			return out, false
		}
	}
}

func TestTwoFactor(t *testing.T) {
	needRoot(t)
	needSSH(t)
	tb := upTestbedPW(t, mfaSpec, 1, 1, loginAdminPW)
	maildir := startSMTP(t, tb, "1_1", "2525")
	mg, _ := tb.Addr("1_1", "mgmt")
	addr := mg.Addr().String()

	mustClish(t, tb, "1_1", "", "set mail-server host 127.0.0.1 port 2525 from orchd@example.com starttls off")
	if out := mustClish(t, tb, "1_1", "", "show mail-server"); !strings.Contains(out, "127.0.0.1") || !strings.Contains(out, "STARTTLS:  off") {
		t.Fatalf("show mail-server:\n%s", out)
	}
	// Enrolment: the code goes by mail, the console asks for it.
	cmd, _ := tb.Command("1_1", "clish")
	con := startPTY(t, cmd)
	con.expect("orch-1_1> ")
	con.send("set user admin two-factor email admin@example.com\r")
	con.expect("Code sent to admin@example.com: ")
	con.send(nextMailCode(t, maildir, 1) + "\r")
	con.expect("two-factor (email to admin@example.com) is on for admin")
	con.send("exit\r")

	// Login: password, then the mailed code.
	var used string
	out, ok := sshCodeLogin(t, addr, loginAdminPW, func() string { used = nextMailCode(t, maildir, 2); return used })
	if !ok {
		t.Fatalf("login with the mailed code failed:\n%s", out)
	}
	// The same code again: refused (a code is used once), and counted.
	if out, ok := sshCodeLogin(t, addr, loginAdminPW, func() string { nextMailCode(t, maildir, 3); return used }); ok {
		t.Fatalf("a used email code logged in again:\n%s", out)
	}
	if out := mustClish(t, tb, "1_1", "", "show aaa lockouts"); !strings.Contains(out, "198.19.184.1") {
		t.Errorf("a wrong code was not counted for the lockout:\n%s", out)
	}
	// A password-only login no longer works; turning it off restores it.
	if _, code := sshTry(t, tb, "", addr, "admin", loginAdminPW, "show config-state"); code == 0 {
		t.Fatal("password alone logged in with two-factor on")
	}
	mustClish(t, tb, "1_1", "", "set user admin two-factor off")
	mustClish(t, tb, "1_1", "", "delete aaa lockout 198.19.184.1")
	if out, code := sshTry(t, tb, "", addr, "admin", loginAdminPW, "show config-state"); code != 0 {
		t.Fatalf("password login after two-factor off: exit %d\n%s", code, out)
	}

	// TOTP: the seed goes to the sealed store, so it needs one.
	mustClish(t, tb, "1_1", `{"clusterPassphrase": "Cluster-pass-1"}`, "security init")
	cmd, _ = tb.Command("1_1", "clish")
	con = startPTY(t, cmd)
	con.expect("orch-1_1> ")
	con.send("set user admin two-factor totp\r")
	con.expect("otpauth://totp/")
	con.expect("\r\n")
	con.mu.Lock()
	text := con.buf.String()
	con.mu.Unlock()
	uri := "otpauth://totp/" + strings.SplitN(text[strings.LastIndex(text, "otpauth://totp/")+len("otpauth://totp/"):], "\r", 2)[0]
	secret, err := totp.SecretFromURI(uri)
	if err != nil {
		t.Fatalf("enrolment URI %q: %v", uri, err)
	}
	con.expect("Code shown by the app: ")
	c0, _ := totp.Code(secret, time.Now())
	con.send(c0 + "\r")
	con.expect("two-factor (totp) is on for admin")
	con.send("exit\r")
	if out := mustClish(t, tb, "1_1", "", "show users"); !strings.Contains(out, "totp") {
		t.Errorf("show users lacks the TWO-FACTOR totp:\n%s", out)
	}
	// The next step's code logs in (the enrolment code's step is used);
	// the same code again is refused.
	code, _ := totp.Code(secret, time.Now().Add(totp.Period))
	if out, ok := sshCodeLogin(t, addr, loginAdminPW, func() string { return code }); !ok {
		t.Fatalf("login with a TOTP code failed:\n%s", out)
	}
	if out, ok := sshCodeLogin(t, addr, loginAdminPW, func() string { return code }); ok {
		t.Fatalf("a replayed TOTP code logged in:\n%s", out)
	}
	// Sealed: the TOTP user is refused, saying why.
	mustClish(t, tb, "1_1", "", "security seal")
	mustClish(t, tb, "1_1", "", "delete aaa lockout 198.19.184.1")
	if out, code := sshTry(t, tb, "", addr, "admin", loginAdminPW, "show config-state"); code == 0 {
		t.Fatalf("a TOTP user logged in while the store is sealed:\n%s", out)
	}
}
