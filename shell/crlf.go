package shell

import (
	"io"
	"sync"
)

// crlfWriter turns "\n" into "\r\n". A terminal session's far side is in
// raw mode and no pty sits in between to do it (readline emits bare "\n"),
// so without this every line would start where the last one ended. It also
// serializes writes: readline redraws from its own goroutine while commands
// print, and it can be muted so readline's goroutines, which outlive the
// session by a moment, cannot scribble on a stream being closed.
type crlfWriter struct {
	mu     sync.Mutex
	w      io.Writer
	lastCR bool
	muted  bool
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.muted {
		return len(p), nil
	}
	out := make([]byte, 0, len(p)+8)
	for _, b := range p {
		if b == '\n' && !c.lastCR {
			out = append(out, '\r')
		}
		out = append(out, b)
		c.lastCR = b == '\r'
	}
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *crlfWriter) mute() {
	c.mu.Lock()
	c.muted = true
	c.mu.Unlock()
}

// lockedWriter serializes writes for plain (non-terminal) sessions.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
