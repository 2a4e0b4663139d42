package sshserver

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

type ptyMsg struct {
	Term                 string
	Cols, Rows, Wpx, Hpx uint32
	Modes                string
}

type sizeMsg struct{ Cols, Rows, Wpx, Hpx uint32 }

type envMsg struct{ Name, Value string }

type strMsg struct{ S string }

func TestParsePtyRequest(t *testing.T) {
	good := ssh.Marshal(ptyMsg{"xterm-256color", 132, 50, 0, 0, "\x35\x00\x00\x00\x01\x00"})
	got, err := parsePtyRequest(good)
	if want := (ptyRequest{"xterm-256color", 132, 50, "\x35\x00\x00\x00\x01\x00"}); err != nil || got != want {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	bad := map[string][]byte{
		"empty":       nil,
		"truncated":   good[:len(good)-1],
		"trailing":    append(bytes.Clone(good), 0),
		"long term":   ssh.Marshal(ptyMsg{Term: strings.Repeat("x", maxTermLen+1)}),
		"huge width":  ssh.Marshal(ptyMsg{"xterm", 1 << 16, 24, 0, 0, ""}),
		"huge length": {0xff, 0xff, 0xff, 0xff},
	}
	for name, p := range bad {
		if got, err := parsePtyRequest(p); err == nil {
			t.Errorf("%s: got %+v, want an error", name, got)
		}
	}
}

func TestParseWindowChange(t *testing.T) {
	got, err := parseWindowChange(ssh.Marshal(sizeMsg{120, 40, 800, 600}))
	if want := (WindowSize{120, 40}); err != nil || got != want {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	for _, p := range [][]byte{nil, make([]byte, 15), make([]byte, 17), ssh.Marshal(sizeMsg{80, 1 << 20, 0, 0})} {
		if _, err := parseWindowChange(p); err == nil {
			t.Errorf("parseWindowChange(%x) succeeded, want an error", p)
		}
	}
}

func TestParseEnv(t *testing.T) {
	name, value, err := parseEnv(ssh.Marshal(envMsg{"LC_ALL", "C.UTF-8"}))
	if err != nil || name != "LC_ALL" || value != "C.UTF-8" {
		t.Errorf("got %q=%q, %v; want LC_ALL=C.UTF-8", name, value, err)
	}
	for _, m := range []envMsg{{"", "x"}, {"1A", "x"}, {"A-B", "x"}, {"A=B", "x"}, {"A", "x\x00y"},
		{strings.Repeat("A", maxEnvNameLen+1), ""}, {"A", strings.Repeat("v", maxEnvValueLen+1)}} {
		if _, _, err := parseEnv(ssh.Marshal(m)); err == nil {
			t.Errorf("parseEnv(%q=%q) succeeded, want an error", m.Name, m.Value)
		}
	}
}

func TestParseExecAndSubsystem(t *testing.T) {
	if cmd, err := parseExec(ssh.Marshal(strMsg{"show maestro authentication"})); err != nil || cmd != "show maestro authentication" {
		t.Errorf("got %q, %v", cmd, err)
	}
	if _, err := parseExec(append(ssh.Marshal(strMsg{"x"}), 'y')); err == nil {
		t.Error("trailing bytes accepted")
	}
	if _, err := parseExec(ssh.Marshal(strMsg{strings.Repeat("x", maxCommandLen+1)})); err == nil {
		t.Error("oversized command accepted")
	}
	if name, err := parseSubsystem(ssh.Marshal(strMsg{"orchd-trust"})); err != nil || name != "orchd-trust" {
		t.Errorf("got %q, %v", name, err)
	}
}

func TestSessionEnvLimitAndResize(t *testing.T) {
	s := &Session{winch: make(chan WindowSize, 1)}
	for i := range maxEnvVars {
		if !s.setenv(fmt.Sprintf("V%d", i), "x") {
			t.Fatalf("variable %d refused, want %d accepted", i, maxEnvVars)
		}
	}
	if s.setenv("ONE_MORE", "x") {
		t.Error("variable beyond the limit accepted")
	}
	if !s.setenv("V0", "y") || s.Environ()[0] != "V0=y" {
		t.Errorf("replacing V0: got %q", s.Environ()[0])
	}
	s.resize(WindowSize{80, 24})
	s.resize(WindowSize{100, 30}) // must not block; replaces the unread size
	if got := <-s.WindowChanges(); got != (WindowSize{100, 30}) {
		t.Errorf("got %+v, want the latest size 100x30", got)
	}
}

func FuzzParsePtyRequest(f *testing.F) {
	f.Add(ssh.Marshal(ptyMsg{"xterm", 80, 24, 0, 0, "\x00"}))
	f.Add(ssh.Marshal(ptyMsg{"", 0, 0, 0, 0, ""}))
	f.Add([]byte{0, 0, 0, 5, 'x'})
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := parsePtyRequest(p)
		if err != nil {
			return
		}
		back := ssh.Marshal(ptyMsg{r.Term, uint32(r.Width), uint32(r.Height), 0, 0, r.Modes})
		if len(back) != len(p) || r.Width > maxDimension || r.Height > maxDimension || len(r.Term) > maxTermLen {
			t.Fatalf("parsed %x as %+v, which does not round-trip within the limits", p, r)
		}
	})
}

func FuzzParseWindowChange(f *testing.F) {
	f.Add(ssh.Marshal(sizeMsg{80, 24, 640, 480}))
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, p []byte) {
		w, err := parseWindowChange(p)
		if err == nil && (len(p) != 16 || w.Width > maxDimension || w.Height > maxDimension) {
			t.Fatalf("accepted %x as %+v", p, w)
		}
	})
}

func FuzzParseEnv(f *testing.F) {
	f.Add(ssh.Marshal(envMsg{"LANG", "C.UTF-8"}))
	f.Add(ssh.Marshal(envMsg{"A=B", ""}))
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, p []byte) {
		name, value, err := parseEnv(p)
		if err != nil {
			return
		}
		if !bytes.Equal(ssh.Marshal(envMsg{name, value}), p) || !validEnvName(name) || strings.ContainsRune(value, 0) {
			t.Fatalf("accepted %x as %q=%q", p, name, value)
		}
	})
}

func FuzzParseExec(f *testing.F) {
	f.Add(ssh.Marshal(strMsg{"show maestro authentication"}))
	f.Add(ssh.Marshal(strMsg{""}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 'x'})
	f.Fuzz(func(t *testing.T, p []byte) {
		cmd, err := parseExec(p)
		if err == nil && !bytes.Equal(ssh.Marshal(strMsg{cmd}), p) {
			t.Fatalf("accepted %x as %q, which does not round-trip", p, cmd)
		}
		name, err := parseSubsystem(p)
		if err == nil && (len(name) > maxSubsysLen || !bytes.Equal(ssh.Marshal(strMsg{name}), p)) {
			t.Fatalf("accepted %x as subsystem %q", p, name)
		}
	})
}
