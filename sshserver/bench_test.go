package sshserver

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkOpenSSHPasswordExec measures an OpenSSH password login plus one
// exec, end to end (DESIGN §7 compares it with OpenSSH's own ~0.37 s).
func BenchmarkOpenSSHPasswordExec(b *testing.B) {
	for _, tool := range []string{"ssh", "sshpass"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("skipping: %s not installed", tool)
		}
	}
	ts := newTestServer(b, ListenOptions{})
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := ts.sshCommand(ctx, testPassword, "-o", "PreferredAuthentications=password", "admin@127.0.0.1", "show x")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ssh: %v: %s", err, out)
		}
		cancel()
	}
}

// BenchmarkGoClientLogin measures a Go client login plus one exec.
func BenchmarkGoClientLogin(b *testing.B) {
	ts := newTestServer(b, ListenOptions{})
	for b.Loop() {
		c, err := ts.dial("admin", testPassword)
		if err != nil {
			b.Fatal(err)
		}
		s, err := c.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Output("show x"); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
