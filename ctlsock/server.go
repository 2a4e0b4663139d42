package ctlsock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"github.com/orchd/orchd/acceptloop"
	"golang.org/x/sys/unix"
)

// Cred is the kernel-reported identity of the process at the other end.
type Cred struct {
	PID, UID, GID int
}

// Session is one client session as the handler sees it.
type Session struct {
	Hello  *Hello
	Cred   Cred
	Stdin  io.Reader // stdin bytes; EOF when the client closes its input
	Stdout io.Writer
	Stderr io.Writer
	// Windows delivers window-size changes; closed when the session ends.
	Windows <-chan WindowSize
	Ctx     context.Context
}

// Handler runs a session and returns its exit status.
type Handler func(s *Session) int

// Listen creates the control socket at path with mode 0660 and, when a group
// named group exists, that group, so its members may use clish.
func Listen(path, group string) (*net.UnixListener, error) {
	// A socket that answers belongs to a running clishd: removing it would
	// silently cut that daemon off from its console.
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s answers: another clishd is already running with this root", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing stale socket %s: %w", path, err)
	}
	// Create with a restrictive umask so there is no window where the
	// socket is world-accessible.
	old := unix.Umask(0o177)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	gid := -1
	if g, err := user.LookupGroup(group); err == nil {
		gid, _ = strconv.Atoi(g.Gid)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("setting group of %s: %w", path, err)
		}
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("setting mode of %s: %w", path, err)
	}
	return l, nil
}

// Serve accepts sessions until ctx is done. Transient accept errors (out
// of file descriptors, say) are retried with backoff (acceptloop): the
// console never goes away while the daemon runs.
func Serve(ctx context.Context, l *net.UnixListener, h Handler, logf func(string, ...any)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	return acceptloop.Run(ctx, l, func(f string, args ...any) { logf("control socket: "+f, args...) }, func(nc net.Conn) {
		c, ok := nc.(*net.UnixConn)
		if !ok {
			nc.Close()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serveConn(ctx, c, h); err != nil {
				logf("control session: %v", err)
			}
		}()
	})
}

func peerCred(c *net.UnixConn) (Cred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Cred{}, err
	}
	var uc *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		uc, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Cred{}, err
	}
	if serr != nil {
		return Cred{}, fmt.Errorf("reading peer credentials: %w", serr)
	}
	return Cred{PID: int(uc.Pid), UID: int(uc.Uid), GID: int(uc.Gid)}, nil
}

// frameWriter turns writes into frames of one type; safe for concurrent use
// with its siblings through the shared mutex.
type frameWriter struct {
	mu  *sync.Mutex
	w   io.Writer
	typ byte
}

func (f frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for off := 0; off < len(p); off += MaxFrame {
		end := min(off+MaxFrame, len(p))
		if err := WriteFrame(f.w, f.typ, p[off:end]); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

func serveConn(ctx context.Context, c *net.UnixConn, h Handler) error {
	defer c.Close()
	cred, err := peerCred(c)
	if err != nil {
		return err
	}
	typ, p, err := ReadFrame(c)
	if err != nil {
		return fmt.Errorf("reading hello from pid %d: %w", cred.PID, err)
	}
	if typ != FrameHello {
		return fmt.Errorf("first frame from pid %d is %q, expected hello", cred.PID, typ)
	}
	mu := &sync.Mutex{}
	stderr := frameWriter{mu, c, FrameStderr}
	hello, err := DecodeHello(p)
	if err != nil {
		fmt.Fprintf(stderr, "clishd: %v\n", err)
		writeExit(mu, c, 2)
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inR, inW := io.Pipe()
	wins := make(chan WindowSize, 4)
	go func() {
		// Reader side of the connection: stdin and window changes. When the
		// client goes away, the session's context ends.
		defer cancel()
		defer close(wins)
		for {
			typ, p, err := ReadFrame(c)
			if err != nil {
				inW.CloseWithError(io.EOF)
				return
			}
			switch typ {
			case FrameStdin:
				if _, err := inW.Write(p); err != nil {
					// Nobody reads stdin any more; keep draining frames.
					continue
				}
			case FrameEOF:
				inW.Close()
			case FrameWindow:
				if ws, err := DecodeWindow(p); err == nil {
					select {
					case wins <- ws:
					default:
					}
				}
			}
		}
	}()
	code := h(&Session{Hello: hello, Cred: cred, Stdin: inR, Stdout: frameWriter{mu, c, FrameStdout}, Stderr: stderr, Windows: wins, Ctx: sctx})
	inR.Close()
	return writeExit(mu, c, code)
}

func writeExit(mu *sync.Mutex, w io.Writer, code int) error {
	mu.Lock()
	defer mu.Unlock()
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(int32(code)))
	return WriteFrame(w, FrameExit, b[:])
}
