package sshserver

import (
	"context"
	"io"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Handler serves session channels. Each call runs in its own goroutine;
// after it returns, the server sends its result as the exit status (values
// outside 0-255 become 255) and closes the channel.
type Handler interface {
	// Shell serves a "shell" request, usually after a pty request.
	Shell(s *Session) int
	// Exec runs one command and returns its exit status.
	Exec(s *Session, command string) int
	// Subsystem serves a subsystem named in Server.Subsystems; requests
	// for other names are refused without calling it.
	Subsystem(s *Session, name string) int
}

// WindowSize is a terminal size in characters.
type WindowSize struct{ Width, Height int }

// Session is one session channel of an authenticated connection. Read and
// Write are shorthands for Stdin and Stdout, so a Session is a stream.
type Session struct {
	ctx   context.Context
	info  *connInfo
	ch    ssh.Channel
	winch chan WindowSize

	cut    atomic.Bool // Disconnect was called
	mu     sync.Mutex
	hasPty bool
	term   string
	size   WindowSize
	env    []string // NAME=value
}

// Context is cancelled when the channel or the connection closes, or when
// the server is closed.
func (s *Session) Context() context.Context { return s.ctx }

// User is the name the client logged in with.
func (s *Session) User() string { return s.info.user }

// Principal is what the Authenticator returned for this login.
func (s *Session) Principal() Principal { return s.info.principal }

// RemoteAddr is the client's address (zero for non-IP transports).
func (s *Session) RemoteAddr() netip.AddrPort { return s.info.remote }

// Disconnect closes the whole connection, not just this channel, once the
// Handler has returned: for a client that broke the rules (a shell line
// over the limit), which must not keep its login to open another channel.
// The channel's last output and exit status are sent first and the
// connection closed disconnectGrace later, so the client can read them (a
// socket closed with unread input sends a reset, and the client would
// discard what it had not read yet).
func (s *Session) Disconnect() { s.cut.Store(true) }

const disconnectGrace = time.Second

// LocalAddr is the server address the client reached.
func (s *Session) LocalAddr() netip.AddrPort { return s.info.local }

// Stdin reads what the client sends; it returns io.EOF once the client has
// closed its side.
func (s *Session) Stdin() io.Reader { return s.ch }

// Stdout writes to the client's standard output. Nothing is translated,
// even with a pty (see the package documentation).
func (s *Session) Stdout() io.Writer { return s.ch }

// Stderr writes to the client's standard error.
func (s *Session) Stderr() io.Writer { return s.ch.Stderr() }

// Read reads from Stdin.
func (s *Session) Read(p []byte) (int, error) { return s.ch.Read(p) }

// Write writes to Stdout.
func (s *Session) Write(p []byte) (int, error) { return s.ch.Write(p) }

// PTY reports whether the client asked for a pseudo-terminal, with its
// terminal type and latest size.
func (s *Session) PTY() (term string, width, height int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term, s.size.Width, s.size.Height, s.hasPty
}

// WindowChanges delivers the client's window-change requests. Only the
// latest unread size is kept, so a slow reader never blocks the session. The
// channel is closed when the session's channel closes.
func (s *Session) WindowChanges() <-chan WindowSize { return s.winch }

// Environ returns the variables the client sent, as NAME=value. They are
// client-supplied and untrusted; names are limited to letters, digits and
// underscores, and at most 64 are kept.
func (s *Session) Environ() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.env)
}

func (s *Session) setPty(p ptyRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hasPty, s.term, s.size = true, p.Term, WindowSize{Width: p.Width, Height: p.Height}
}

func (s *Session) resize(w WindowSize) {
	s.mu.Lock()
	s.size = w
	s.mu.Unlock()
	select {
	case s.winch <- w:
		return
	default:
	}
	// Full: replace the unread size. Only the request loop sends, so the
	// second send cannot block.
	select {
	case <-s.winch:
	default:
	}
	select {
	case s.winch <- w:
	default:
	}
}

// setenv records one variable, reporting false when the limit is reached.
func (s *Session) setenv(name, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := name + "="
	for i, kv := range s.env {
		if len(kv) >= len(prefix) && kv[:len(prefix)] == prefix {
			s.env[i] = prefix + value
			return true
		}
	}
	if len(s.env) >= maxEnvVars {
		return false
	}
	s.env = append(s.env, prefix+value)
	return true
}
