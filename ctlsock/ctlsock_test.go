package ctlsock

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSessionRoundTrip(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "c.sock")
	l, err := Listen(sock, "no-such-group-orchd")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v, %v; want 0660", fi.Mode().Perm(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, l, func(s *Session) int {
			in, _ := io.ReadAll(s.Stdin)
			fmt.Fprintf(s.Stdout, "mode=%s cmd=%s uid=%d pw=%d in=%s", s.Hello.Mode, s.Hello.Command, s.Cred.UID, len(s.Hello.Answers["password"]), in)
			fmt.Fprint(s.Stderr, "warn")
			return 7
		}, t.Logf)
	}()
	c, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code, err := c.Run(&Hello{Mode: ModeExec, Command: "show x", Answers: map[string]string{"password": "secret"}}, strings.NewReader("typed"), &out, &errb)
	c.Close()
	if err != nil || code != 7 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	want := fmt.Sprintf("mode=exec cmd=show x uid=%d pw=6 in=typed", os.Getuid())
	if out.String() != want || errb.String() != "warn" {
		t.Fatalf("stdout %q stderr %q; want %q, warn", out.String(), errb.String(), want)
	}
	// A bad hello gets an error and exit status 2, not a hang.
	c, _ = Dial(sock)
	code, err = c.Run(&Hello{Mode: "bogus"}, nil, &out, &errb)
	c.Close()
	if err != nil || code != 2 || !strings.Contains(errb.String(), `unknown session mode "bogus"`) {
		t.Fatalf("bad hello: %d %v %q", code, err, errb.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

func FuzzReadFrame(f *testing.F) {
	var b bytes.Buffer
	WriteFrame(&b, FrameHello, []byte(`{"mode":"exec","command":"show x"}`))
	f.Add(b.Bytes())
	f.Add([]byte{'x', 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		for {
			typ, p, err := ReadFrame(r)
			if err != nil {
				return
			}
			switch typ {
			case FrameHello:
				DecodeHello(p)
			case FrameWindow:
				DecodeWindow(p)
			}
		}
	})
}

func TestListenRefusesALiveSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "c.sock")
	l, err := Listen(sock, "no-such-group-orchd")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := Listen(sock, "no-such-group-orchd"); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Listen on a live socket: %v", err)
	}
	l.Close()
	// A stale socket file (daemon gone) is replaced.
	l2, err := Listen(sock, "no-such-group-orchd")
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()
}
