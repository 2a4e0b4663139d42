package sshserver

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
)

// codeAuth wants testPassword, then the code "123456".
type codeAuth struct{ verified atomic.Int32 }

type needCode struct{ a *codeAuth }

func (needCode) Error() string  { return "verification code needed" }
func (needCode) Prompt() string { return "Verification code: " }
func (n needCode) Verify(_ context.Context, code string) (Principal, error) {
	n.a.verified.Add(1)
	if code != "123456" {
		return Principal{}, errors.New("wrong verification code")
	}
	return Principal{User: "admin", Role: "adminRole"}, nil
}

func (a *codeAuth) Authenticate(_ context.Context, user, password string, _ netip.Addr) (Principal, error) {
	if user == "admin" && password == testPassword {
		return Principal{}, needCode{a}
	}
	return Principal{}, errors.New("wrong user name or password")
}

func TestSecondStep(t *testing.T) {
	auth := &codeAuth{}
	ts := newTestServer(t, ListenOptions{}, func(s *Server) { s.Auth = auth })
	tests := []struct {
		name    string
		methods func(code string) []ssh.AuthMethod
		code    string
		ok      bool
	}{
		{"password then code", passwordThenCode, "123456", true},
		{"password then wrong code", passwordThenCode, "000000", false},
		{"keyboard-interactive password then code", kiOnly, "123456", true},
		{"keyboard-interactive wrong code", kiOnly, "654321", false},
		{"password alone", func(string) []ssh.AuthMethod { return []ssh.AuthMethod{ssh.Password(testPassword)} }, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &ssh.ClientConfig{User: "admin", HostKeyCallback: ssh.FixedHostKey(ts.hostKey), Auth: tc.methods(tc.code)}
			c, err := ssh.Dial("tcp", ts.addr, cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("dial: err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				return
			}
			defer c.Close()
			s, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			out, err := s.Output("exit 0")
			if err != nil || !strings.Contains(string(out), "as admin/adminRole") {
				t.Errorf("exec after the second step: %q, %v", out, err)
			}
		})
	}
}

func passwordThenCode(code string) []ssh.AuthMethod {
	return []ssh.AuthMethod{ssh.Password(testPassword), ssh.KeyboardInteractive(answer(map[string]string{"Verification code: ": code}))}
}

func kiOnly(code string) []ssh.AuthMethod {
	return []ssh.AuthMethod{ssh.RetryableAuthMethod(ssh.KeyboardInteractive(answer(map[string]string{"Password: ": testPassword, "Verification code: ": code})), 2)}
}

func answer(m map[string]string) ssh.KeyboardInteractiveChallenge {
	return func(_, _ string, qs []string, _ []bool) ([]string, error) {
		out := make([]string, len(qs))
		for i, q := range qs {
			v, ok := m[q]
			if !ok {
				return nil, errors.New("unexpected question " + q)
			}
			out[i] = v
		}
		return out, nil
	}
}
