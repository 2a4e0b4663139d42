// Package tacacstest runs a TACACS+ server for tests and benchmarks:
// tacquito's server package (a real, independent implementation of RFC
// 8907) with a handler that knows a few users, their passwords and the
// authorization arguments service=shell returns for them. Never used by
// the daemon.
package tacacstest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	tq "github.com/facebookincubator/tacquito"
)

// User is one account on the test server.
type User struct {
	Password string
	// Args are returned by authorization for service=shell; nil makes
	// authorization FAIL.
	Args []string
}

// Server is a running test server.
type Server struct {
	Addr   string
	cancel context.CancelFunc
	l      net.Listener
	done   chan struct{}

	mu    sync.Mutex
	users map[string]User
	delay time.Duration
}

// Start listens on addr ("127.0.0.1:0") with secret and serves users.
func Start(addr string, secret []byte, users map[string]User) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Addr: l.Addr().String(), cancel: cancel, l: l, done: make(chan struct{}), users: users}
	srv := tq.NewServer(quiet{}, secretProvider{secret: secret, s: s})
	go func() {
		defer close(s.done)
		srv.Serve(ctx, l.(*net.TCPListener))
	}()
	return s, nil
}

// Close stops the server. Closing the listener ends tacquito's accept
// loop at once (it otherwise wakes every 10 s to see the context).
func (s *Server) Close() {
	s.cancel()
	s.l.Close()
	<-s.done
}

// SetDelay delays every reply by d (timeouts in tests).
func (s *Server) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// SetUser adds or replaces a user.
func (s *Server) SetUser(name string, u User) { s.mu.Lock(); s.users[name] = u; s.mu.Unlock() }

type secretProvider struct {
	secret []byte
	s      *Server
}

func (p secretProvider) Get(ctx context.Context, remote net.Addr) ([]byte, tq.Handler, error) {
	return p.secret, tq.HandlerFunc(p.s.handle), nil
}

func (s *Server) handle(resp tq.Response, req tq.Request) {
	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	time.Sleep(delay)
	switch req.Header.Type {
	case tq.Authenticate:
		var start tq.AuthenStart
		if err := tq.Unmarshal(req.Body, &start); err != nil {
			resp.Reply(tq.NewAuthenReply(tq.SetAuthenReplyStatus(tq.AuthenStatusError), tq.SetAuthenReplyServerMsg("bad start")))
			return
		}
		s.mu.Lock()
		u, ok := s.users[string(start.User)]
		s.mu.Unlock()
		if !ok || start.Type != tq.AuthenTypePAP || string(start.Data) != u.Password {
			resp.Reply(tq.NewAuthenReply(tq.SetAuthenReplyStatus(tq.AuthenStatusFail), tq.SetAuthenReplyServerMsg("login incorrect")))
			return
		}
		resp.Reply(tq.NewAuthenReply(tq.SetAuthenReplyStatus(tq.AuthenStatusPass)))
	case tq.Authorize:
		var ar tq.AuthorRequest
		if err := tq.Unmarshal(req.Body, &ar); err != nil {
			resp.Reply(tq.NewAuthorReply(tq.SetAuthorReplyStatus(tq.AuthorStatusError), tq.SetAuthorReplyServerMsg("bad request")))
			return
		}
		s.mu.Lock()
		u, ok := s.users[string(ar.User)]
		s.mu.Unlock()
		service := ""
		for _, a := range ar.Args {
			if string(a) == "service=shell" {
				service = "shell"
			}
		}
		if !ok || u.Args == nil || service != "shell" {
			resp.Reply(tq.NewAuthorReply(tq.SetAuthorReplyStatus(tq.AuthorStatusFail), tq.SetAuthorReplyServerMsg(fmt.Sprintf("no shell for %s", ar.User))))
			return
		}
		resp.Reply(tq.NewAuthorReply(tq.SetAuthorReplyStatus(tq.AuthorStatusPassAdd), tq.SetAuthorReplyArgs(u.Args...)))
	default:
		resp.Reply(tq.NewAuthenReply(tq.SetAuthenReplyStatus(tq.AuthenStatusError)))
	}
}

type quiet struct{}

func (quiet) Infof(context.Context, string, ...any)                {}
func (quiet) Errorf(context.Context, string, ...any)               {}
func (quiet) Debugf(context.Context, string, ...any)               {}
func (quiet) Record(context.Context, map[string]string, ...string) {}
