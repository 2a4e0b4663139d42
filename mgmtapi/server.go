// Package mgmtapi is the trusted manager's HTTPS API (DESIGN §10): one
// manager, pinned by the SHA-1 thumbprint of its client certificate, plus
// bearer tokens for scripts. Every refusal says exactly why, with the
// thumbprint presented, the one expected and the command that fixes it —
// never a bare "authentication required". Settings are read at each
// request, so a change takes effect at once, and ManagerChanged closes the
// connections of a manager that is no longer trusted.
package mgmtapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orchd/orchd/audit"
)

// Features the endpoints need (names as in aaa; kept as strings so this
// package does not depend on aaa).
const (
	featureState      = "maestro-auth"
	featureManagement = "management"
	featureAudit      = "audit"
)

// Lockout is the per-source-address lockout (DESIGN §8.3).
type Lockout interface {
	Check(addr netip.Addr) error
	Failure(addr netip.Addr, user string)
	Success(addr netip.Addr)
}

// Manager is the trusted manager's settings at one moment.
type Manager struct {
	Thumbprint Thumbprint
	Set        bool   // false: no manager trusted
	Role       string // the role its requests get
}

// Principal is who a request came from.
type Principal struct {
	Name string // "trusted-manager" or "token NAME"
	Role string
	Via  string // certificate | token
}

// Server serves the API. Every function field but Lockout and Logf is
// required.
type Server struct {
	// Cert returns the server certificate at each handshake, so a renewed
	// or re-issued identity certificate is served at once.
	Cert func() (*tls.Certificate, error)
	// Manager returns the current trusted-manager settings.
	Manager func() Manager
	// Token resolves a bearer token to its name and role, or says why not
	// (unknown, expired, the secret store is sealed).
	Token func(token string) (name, role string, err error)
	// Allowed says whether role grants feature (write: read-write).
	Allowed func(role, feature string, write bool) bool

	State         func() ([]byte, error)
	Health        func() ([]byte, error)
	Audit         func(last int) ([]byte, error)
	Monitoring    func() Monitoring
	SetMonitoring func(Monitoring) error

	Lockout Lockout
	Record  func(audit.Event)
	Logf    func(string, ...any)

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	srv   *http.Server
}

// TLSConfig is the server side: TLS 1.2 and 1.3, the identity key as the
// server certificate, and a client certificate requested but not verified
// by the TLS layer — the handler pins it, so a refusal can say why.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.Cert() },
		MinVersion:     tls.VersionTLS12,
		ClientAuth:     tls.RequestClientCert,
	}
}

// Serve accepts on l until Shutdown. Connections from a locked-out address
// are closed at accept, before the TLS handshake.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	s.conns = map[net.Conn]struct{}{}
	s.srv = &http.Server{
		Handler:           s,
		TLSConfig:         s.TLSConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          nil,
		ConnState:         s.connState,
	}
	srv := s.srv
	s.mu.Unlock()
	return srv.ServeTLS(&lockedOutListener{Listener: l, s: s}, "", "")
}

// Shutdown stops the server gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

func (s *Server) connState(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// ManagerChanged closes every open connection authenticated by a client
// certificate that is no longer the trusted manager's.
func (s *Server) ManagerChanged() int {
	m := s.Manager()
	s.mu.Lock()
	var drop []net.Conn
	for c := range s.conns {
		tc, ok := c.(*tls.Conn)
		if !ok {
			continue
		}
		st := tc.ConnectionState()
		if !st.HandshakeComplete || len(st.PeerCertificates) == 0 {
			continue
		}
		if !m.Set || !Of(st.PeerCertificates[0]).Equal(m.Thumbprint) {
			drop = append(drop, c)
		}
	}
	s.mu.Unlock()
	for _, c := range drop {
		c.Close()
	}
	return len(drop)
}

type lockedOutListener struct {
	net.Listener
	s *Server
}

func (l *lockedOutListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.s.Lockout != nil {
			if err := l.s.Lockout.Check(addrOf(c.RemoteAddr().String())); err != nil {
				c.Close()
				continue
			}
		}
		return c, nil
	}
}

func addrOf(hostport string) netip.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Refusal is the body of every 403 (and of 4xx answers generally): what
// was wrong, what was presented, what was expected, and how to fix it.
type Refusal struct {
	Error     string `json:"error"`
	Presented string `json:"presented,omitempty"`
	Expected  string `json:"expected,omitempty"`
	Fix       string `json:"fix,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeRaw(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// authenticate decides who r comes from, or why it is refused.
func (s *Server) authenticate(r *http.Request) (Principal, *Refusal) {
	m := s.Manager()
	expected := "none"
	if m.Set {
		expected = m.Thumbprint.String()
	}
	var certs = r.TLS.PeerCertificates
	if len(certs) > 0 {
		presented := Of(certs[0])
		if m.Set && presented.Equal(m.Thumbprint) {
			return Principal{Name: "trusted-manager", Role: m.Role, Via: "certificate"}, nil
		}
		why := "the client certificate is not the trusted manager's"
		if !m.Set {
			why = "no trusted manager is configured on this orchestrator"
		}
		return Principal{}, &Refusal{Error: why + " (subject " + certs[0].Subject.String() + ")", Presented: presented.String(), Expected: expected,
			Fix: "set management trusted-manager thumbprint " + presented.String()}
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		name, role, err := s.Token(strings.TrimSpace(tok))
		if err != nil {
			return Principal{}, &Refusal{Error: "bearer token refused: " + err.Error(), Presented: "none", Expected: expected,
				Fix: "use a current token (add management token NAME role ROLE shows a new one), or present the trusted manager's certificate"}
		}
		return Principal{Name: "token " + name, Role: role, Via: "token"}, nil
	}
	fix := "present the trusted manager's client certificate (curl --cert manager.crt --key manager.key ...), or send Authorization: Bearer TOKEN"
	if !m.Set {
		fix = "on the orchestrator: set management trusted-manager thumbprint <the manager certificate's SHA-1>, then present that certificate"
	}
	return Principal{}, &Refusal{Error: "no client certificate presented and no bearer token", Presented: "none", Expected: expected, Fix: fix}
}

type route struct {
	feature string
	write   bool
	serve   func(w http.ResponseWriter, r *http.Request) error
}

func (s *Server) route(r *http.Request) (route, int, string) {
	switch r.URL.Path {
	case "/api/v1/state":
		if r.Method == http.MethodGet {
			return route{featureState, false, s.getState}, 0, ""
		}
		return route{}, http.StatusMethodNotAllowed, "GET"
	case "/api/v1/health":
		if r.Method == http.MethodGet {
			return route{featureState, false, s.getHealth}, 0, ""
		}
		return route{}, http.StatusMethodNotAllowed, "GET"
	case "/api/v1/monitoring":
		switch r.Method {
		case http.MethodGet:
			return route{featureManagement, false, s.getMonitoring}, 0, ""
		case http.MethodPut:
			return route{featureManagement, true, s.putMonitoring}, 0, ""
		}
		return route{}, http.StatusMethodNotAllowed, "GET, PUT"
	case "/api/v1/audit":
		if r.Method == http.MethodGet {
			return route{featureAudit, false, s.getAudit}, 0, ""
		}
		return route{}, http.StatusMethodNotAllowed, "GET"
	}
	return route{}, http.StatusNotFound, ""
}

// ServeHTTP authenticates, authorizes, serves and audits one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	addr := addrOf(r.RemoteAddr)
	ev := audit.Event{Type: "api", Source: r.RemoteAddr, Command: r.Method + " " + r.URL.Path}
	done := func(result, reason string) {
		ev.Result, ev.Reason = result, reason
		if s.Record != nil {
			s.Record(ev)
		}
	}
	if s.Lockout != nil {
		if err := s.Lockout.Check(addr); err != nil {
			writeJSON(w, http.StatusForbidden, Refusal{Error: err.Error(), Fix: "wait for the lock to expire, or on the orchestrator: delete aaa lockout " + addr.String()})
			done("refused", err.Error())
			return
		}
	}
	p, ref := s.authenticate(r)
	if ref != nil {
		if s.Lockout != nil {
			s.Lockout.Failure(addr, "manager")
		}
		writeJSON(w, http.StatusForbidden, ref)
		done("refused", ref.Error+"; presented "+ref.Presented)
		return
	}
	if s.Lockout != nil {
		s.Lockout.Success(addr)
	}
	ev.User = p.Name
	rt, code, allow := s.route(r)
	switch code {
	case http.StatusNotFound:
		writeJSON(w, code, Refusal{Error: fmt.Sprintf("no endpoint %s", r.URL.Path), Fix: "endpoints: GET /api/v1/state, GET /api/v1/health, GET|PUT /api/v1/monitoring, GET /api/v1/audit?last=N"})
		done("failed", "no such endpoint")
		return
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", allow)
		writeJSON(w, code, Refusal{Error: fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path), Expected: allow})
		done("failed", "method not allowed")
		return
	}
	if !s.Allowed(p.Role, rt.feature, rt.write) {
		need := rt.feature + " read-only"
		if rt.write {
			need = rt.feature + " read-write"
		}
		fix := "set management trusted-manager role adminRole (or a role with " + need + ")"
		if p.Via == "token" {
			fix = "add a token with a role that has " + need + ": add management token NAME role ROLE"
		}
		ref := Refusal{Error: fmt.Sprintf("%s has role %s, which lacks %s", p.Name, p.Role, need), Fix: fix}
		writeJSON(w, http.StatusForbidden, ref)
		done("refused", ref.Error)
		return
	}
	if err := rt.serve(w, r); err != nil {
		done("failed", err.Error())
		return
	}
	done("ok", "")
}

// httpError is an error with the status it answers with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func fail(w http.ResponseWriter, err error) error {
	code := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		code = he.code
	}
	writeJSON(w, code, Refusal{Error: err.Error()})
	return err
}

func (s *Server) getState(w http.ResponseWriter, _ *http.Request) error {
	b, err := s.State()
	if err != nil {
		return fail(w, err)
	}
	writeRaw(w, b)
	return nil
}

func (s *Server) getHealth(w http.ResponseWriter, _ *http.Request) error {
	b, err := s.Health()
	if err != nil {
		return fail(w, err)
	}
	writeRaw(w, b)
	return nil
}

func (s *Server) getMonitoring(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, s.Monitoring())
	return nil
}

func (s *Server) putMonitoring(w http.ResponseWriter, r *http.Request) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return fail(w, &httpError{http.StatusBadRequest, "reading body: " + err.Error()})
	}
	if len(b) > MaxBody {
		return fail(w, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes: expected a monitoring document of at most %d bytes; nothing changed", MaxBody, MaxBody)})
	}
	m, err := DecodeMonitoring(b)
	if err != nil {
		return fail(w, &httpError{http.StatusBadRequest, err.Error() + "; nothing changed"})
	}
	if err := s.SetMonitoring(m); err != nil {
		return fail(w, err)
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) error {
	n := 20
	if v := r.URL.Query().Get("last"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 1000 {
			return fail(w, &httpError{http.StatusBadRequest, fmt.Sprintf("last=%q: expected an integer 1-1000", clip(v))})
		}
	}
	b, err := s.Audit(n)
	if err != nil {
		return fail(w, err)
	}
	writeRaw(w, b)
	return nil
}
