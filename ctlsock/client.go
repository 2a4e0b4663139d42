package ctlsock

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
)

// Client runs one session against clishd's control socket.
type Client struct {
	conn net.Conn
	mu   sync.Mutex
}

// Dial connects to the control socket at path.
func Dial(path string) (*Client, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("cannot reach clishd at %s: %w (is clishd running?)", path, err)
	}
	return &Client{conn: c}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) send(typ byte, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return WriteFrame(c.conn, typ, p)
}

// Resize tells the server the terminal changed size.
func (c *Client) Resize(w, h int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return WriteJSON(c.conn, FrameWindow, WindowSize{Width: w, Height: h})
}

// Run sends hello, copies stdin (if not nil) to the server and the server's
// output to stdout/stderr, and returns the session's exit status.
func (c *Client) Run(h *Hello, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	c.mu.Lock()
	err := WriteJSON(c.conn, FrameHello, h)
	c.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("sending hello: %w", err)
	}
	if stdin != nil {
		go func() {
			buf := make([]byte, 32*1024)
			for {
				n, err := stdin.Read(buf)
				if n > 0 {
					if c.send(FrameStdin, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					c.send(FrameEOF, nil)
					return
				}
			}
		}()
	} else {
		c.send(FrameEOF, nil)
	}
	for {
		typ, p, err := ReadFrame(c.conn)
		if err != nil {
			return 0, fmt.Errorf("clishd closed the session without an exit status: %w", err)
		}
		switch typ {
		case FrameStdout:
			stdout.Write(p)
		case FrameStderr:
			stderr.Write(p)
		case FrameExit:
			if len(p) != 4 {
				return 0, fmt.Errorf("malformed exit status frame")
			}
			return int(int32(binary.BigEndian.Uint32(p))), nil
		}
	}
}
