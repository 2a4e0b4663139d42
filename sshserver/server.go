package sshserver

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/orchd/orchd/acceptloop"
)

// Defaults for zero Server fields.
const (
	DefaultMaxAuthTries   = 3
	DefaultLoginGraceTime = 30 * time.Second
)

// A shell or exec request on a listener that serves only subsystems is
// answered with DefaultSubsystemsOnlyMessage (or ListenOptions.RefuseMessage)
// on stderr and exit status SubsystemsOnlyStatus; the Handler is not called.
const (
	DefaultSubsystemsOnlyMessage = "this address serves only the orchd trust subsystem; log in on the management address"
	SubsystemsOnlyStatus         = 1
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close.
var ErrServerClosed = errors.New("sshserver: server closed")

// Server is an SSH server. Its fields must not change once serving starts.
type Server struct {
	// HostKey is the persisted identity key (an ed25519.PrivateKey in
	// orchd). It is required: the server never generates one.
	HostKey crypto.Signer
	// Auth checks passwords. If nil, every login is refused (and logged).
	Auth Authenticator
	// Handler serves the session channels. Required.
	Handler Handler
	// Banner, if not empty, is sent to clients before authentication.
	Banner string
	// Subsystems names the subsystems clients may request; any other name
	// is refused without calling the Handler.
	Subsystems []string
	// MaxAuthTries is the number of failed login attempts allowed per
	// connection before it is closed; zero or negative means
	// DefaultMaxAuthTries.
	MaxAuthTries int
	// LoginGraceTime bounds the handshake and authentication of a new
	// connection; zero means DefaultLoginGraceTime.
	LoginGraceTime time.Duration
	// Logf receives the server's log lines (never secrets); nil means
	// log.Printf.
	Logf func(format string, args ...any)
	// AllowConn, if set, is asked right after accept, before any crypto,
	// whether the client's address may connect (per-address lockout); an
	// error closes the connection with "not allowed at this time".
	AllowConn func(remote netip.Addr) error
	// MaxUnauthPerSource and MaxUnauth cap the connections that have not
	// finished authenticating, per source address and in all; zero means
	// DefaultMaxUnauthPerSource and DefaultMaxUnauth. Connections over a
	// cap are closed before the handshake.
	MaxUnauthPerSource, MaxUnauth int

	unauth     unauthTable
	refusedLog logLimiter

	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*trackedConn]struct{}
	inShutdown bool
	baseCtx    context.Context
	cancelBase context.CancelFunc
}

// ListenOptions vary the service offered on one listener.
type ListenOptions struct {
	// SubsystemsOnly refuses shell and exec requests, serving only the
	// Server's Subsystems (for the sync addresses, DESIGN §5.2).
	SubsystemsOnly bool
	// RefuseMessage is written to stderr when a shell or exec request is
	// refused under SubsystemsOnly; empty means DefaultSubsystemsOnlyMessage.
	RefuseMessage string
}

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *Server) ListenAndServe(addr string) error {
	return s.ListenAndServeOptions(addr, ListenOptions{})
}

// ListenAndServeOptions listens on the TCP address addr and calls
// ServeOptions.
func (s *Server) ListenAndServeOptions(addr string, opts ListenOptions) error {
	if s.shuttingDown() {
		return ErrServerClosed
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sshserver: listening on %s: %w", addr, err)
	}
	return s.ServeOptions(l, opts)
}

// Serve accepts connections on l and serves each in its own goroutine. It
// always returns a non-nil error and closes l; after Shutdown or Close the
// error is ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	return s.ServeOptions(l, ListenOptions{})
}

// ServeOptions is Serve with per-listener options.
func (s *Server) ServeOptions(l net.Listener, opts ListenOptions) error {
	defer l.Close()
	cfg, err := s.newConfigFactory()
	if err != nil {
		return err
	}
	if !s.trackListener(&l, true) {
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)

	// Transient accept errors (EMFILE, ECONNABORTED, ...) are retried with
	// backoff; only closing the listener ends the loop.
	err = acceptloop.Run(context.Background(), l, func(f string, args ...any) { s.logf("sshserver: "+f, args...) }, func(nc net.Conn) {
		tc := &trackedConn{nc: nc}
		if !s.trackConn(tc, true) {
			nc.Close()
			l.Close()
			return
		}
		go s.serveConn(tc, cfg, opts)
	})
	if s.shuttingDown() {
		return ErrServerClosed
	}
	if err == nil {
		err = net.ErrClosed
	}
	return fmt.Errorf("sshserver: accepting: %w", err)
}

// Shutdown stops the server gracefully: it closes the listeners, closes
// connections with no open session, refuses new sessions, and waits for the
// open ones to end. If ctx expires first, it closes every connection
// (cancelling the sessions' contexts) and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.inShutdown = true
	s.mu.Unlock()
	err := s.closeListeners()

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdleConns() {
			return err
		}
		select {
		case <-ctx.Done():
			s.closeAll()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close stops the server at once: listeners and connections are closed and
// the sessions' contexts cancelled.
func (s *Server) Close() error {
	s.mu.Lock()
	s.inShutdown = true
	s.mu.Unlock()
	err := s.closeListeners()
	s.closeAll()
	return err
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inShutdown
}

func (s *Server) base() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	return s.baseCtx
}

func (s *Server) initLocked() {
	if s.baseCtx == nil {
		s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	}
	if s.listeners == nil {
		s.listeners = map[*net.Listener]struct{}{}
		s.conns = map[*trackedConn]struct{}{}
	}
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if add {
		if s.inShutdown {
			return false
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

func (s *Server) trackConn(c *trackedConn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if add {
		if s.inShutdown {
			return false
		}
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	return true
}

func (s *Server) closeListeners() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for l := range s.listeners {
		if err := (*l).Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("closing listener %s: %w", (*l).Addr(), err))
		}
	}
	return errors.Join(errs...)
}

// closeIdleConns closes connections without open sessions and reports
// whether none is left.
func (s *Server) closeIdleConns() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.idle() {
			c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
	if s.cancelBase != nil {
		s.cancelBase()
	}
}

// trackedConn is an accepted connection and its count of open sessions.
type trackedConn struct {
	nc       net.Conn
	mu       sync.Mutex
	sessions int
}

func (c *trackedConn) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions == 0
}

// addSession counts a new session unless the server is shutting down.
func (c *trackedConn) addSession(s *Server) bool {
	if s.shuttingDown() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions++
	return true
}

func (c *trackedConn) doneSession() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions--
}
