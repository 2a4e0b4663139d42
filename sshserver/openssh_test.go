package sshserver

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// needOpenSSH skips the test unless the OpenSSH client tools are installed.
func needOpenSSH(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range append([]string{"ssh", "sshpass"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not installed (apt-get install openssh-client sshpass)", tool)
		}
	}
}

// sshCommand builds "sshpass -e ssh ... admin@127.0.0.1 args..."; the
// password travels in SSHPASS, never in argv.
func (ts *testServer) sshCommand(ctx context.Context, password string, args ...string) *exec.Cmd {
	argv := []string{"-e", "ssh", "-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "PubkeyAuthentication=no", "-o", "ConnectTimeout=10", "-p", ts.port}
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "LogLevel=") }) {
		// The first value of an option wins: let a test choose its own.
		argv = append(argv, "-o", "LogLevel=ERROR")
	}
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, "sshpass", argv...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_AUTH_SOCK=") && !strings.HasPrefix(kv, "SSHPASS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SSHPASS="+password)
	return cmd
}

// runSSH runs an OpenSSH command and returns its output and exit status.
func (ts *testServer) runSSH(t *testing.T, password, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := ts.sshCommand(ctx, password, args...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running ssh: %v", err)
	}
	return out.String(), errOut.String(), code
}

func TestOpenSSHExec(t *testing.T) {
	needOpenSSH(t)
	ts := newTestServer(t, ListenOptions{})
	out, errOut, code := ts.runSSH(t, testPassword, "", "admin@127.0.0.1", "exit 3")
	if code != 3 {
		t.Errorf("got exit status %d, want 3 (stderr %q)", code, errOut)
	}
	if want := `ran "exit 3" as admin/adminRole/aaa-details from 127.0.0.1`; !strings.Contains(out, want) {
		t.Errorf("got stdout %q, want it to contain %q", out, want)
	}
	if want := `stderr of "exit 3"`; !strings.Contains(errOut, want) {
		t.Errorf("got stderr %q, want it to contain %q", errOut, want)
	}
	if out, _, code := ts.runSSH(t, testPassword, "", "admin@127.0.0.1", "show x"); code != 0 || out != "ran \"show x\"\n" {
		t.Errorf("got %q, status %d; want \"ran \\\"show x\\\"\\n\", status 0", out, code)
	}
}

func TestOpenSSHWrongPassword(t *testing.T) {
	needOpenSSH(t)
	ts := newTestServer(t, ListenOptions{})
	_, errOut, code := ts.runSSH(t, "wrong-password", "",
		"-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1", "admin@127.0.0.1", "show x")
	if code != 255 || !strings.Contains(errOut, "Permission denied") {
		t.Errorf("got status %d, stderr %q; want 255 and Permission denied", code, errOut)
	}
	if ts.log.contains("wrong-password") {
		t.Errorf("the password appears in the server log")
	}
}

func TestOpenSSHKeyboardInteractive(t *testing.T) {
	needOpenSSH(t)
	ts := newTestServer(t, ListenOptions{})
	out, errOut, code := ts.runSSH(t, testPassword, "",
		"-o", "PreferredAuthentications=keyboard-interactive", "admin@127.0.0.1", "exit 0")
	if code != 0 || !strings.Contains(out, `ran "exit 0" as admin`) {
		t.Errorf("got status %d, stdout %q, stderr %q; want 0 and the command's output", code, out, errOut)
	}
	if !ts.log.contains("accepted keyboard-interactive login") {
		t.Errorf("server did not log a keyboard-interactive login")
	}
}

func TestOpenSSHBanner(t *testing.T) {
	needOpenSSH(t)
	ts := newTestServer(t, ListenOptions{}, func(s *Server) { s.Banner = "Authorized use only.\n" })
	_, errOut, code := ts.runSSH(t, testPassword, "", "-o", "LogLevel=INFO", "admin@127.0.0.1", "show x")
	if code != 0 || !strings.Contains(errOut, "Authorized use only.") {
		t.Errorf("got status %d, stderr %q; want 0 and the banner", code, errOut)
	}
}

func TestOpenSSHPtyAndWindowChange(t *testing.T) {
	needOpenSSH(t)
	ts := newTestServer(t, ListenOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := ts.sshCommand(ctx, testPassword, "-tt", "admin@127.0.0.1")
	cmd.Env = append(cmd.Env, "TERM=orchd-test-term")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatalf("starting ssh on a pty: %v", err)
	}
	defer ptmx.Close()
	var out syncBuffer
	go func() { _, _ = ioCopy(&out, ptmx) }()

	waitFor(t, &out, "term=orchd-test-term size=100x30 pty=true")
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &out, "resize 120x40")
	if _, err := ptmx.Write([]byte("hello\r")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &out, "echo hello")
	if _, err := ptmx.Write([]byte("quit\r")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("ssh -tt exited with %v, want status 0; output %q", err, out.String())
	}
}

func TestOpenSSHSubsystemsOnly(t *testing.T) {
	needOpenSSH(t)
	ts := newTestServer(t, ListenOptions{SubsystemsOnly: true})
	out, errOut, code := ts.runSSH(t, testPassword, "", "admin@127.0.0.1", "show x")
	if code != SubsystemsOnlyStatus || out != "" || !strings.Contains(errOut, DefaultSubsystemsOnlyMessage) {
		t.Errorf("exec: got status %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, SubsystemsOnlyStatus, DefaultSubsystemsOnlyMessage)
	}
	if ts.handler.calls.Load() != 0 {
		t.Errorf("the handler ran %d times on a subsystems-only listener, want 0", ts.handler.calls.Load())
	}
	out, errOut, code = ts.runSSH(t, testPassword, "ping\n", "-s", "admin@127.0.0.1", trustSubsystem)
	if want := "subsystem " + trustSubsystem + "\nping\n"; code != 0 || out != want {
		t.Errorf("subsystem: got status %d, stdout %q, stderr %q; want 0 and %q", code, out, errOut, want)
	}
}

func TestOpenSSHKeyscanFingerprint(t *testing.T) {
	needOpenSSH(t, "ssh-keyscan", "ssh-keygen")
	ts := newTestServer(t, ListenOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	scan, err := exec.CommandContext(ctx, "ssh-keyscan", "-p", ts.port, "127.0.0.1").Output()
	if err != nil {
		t.Fatalf("ssh-keyscan: %v", err)
	}
	keygen := exec.CommandContext(ctx, "ssh-keygen", "-lf", "-")
	keygen.Stdin = bytes.NewReader(scan)
	out, err := keygen.Output()
	if err != nil {
		t.Fatalf("ssh-keygen -lf - on %q: %v", scan, err)
	}
	if !strings.Contains(string(out), ts.fp) || !strings.Contains(string(out), "(ED25519)") {
		t.Errorf("got %q, want the ED25519 fingerprint %s", out, ts.fp)
	}
	if got := HostKeyFingerprint(ts.srv.HostKey); got != ts.fp {
		t.Errorf("HostKeyFingerprint = %s, want %s", got, ts.fp)
	}
}
