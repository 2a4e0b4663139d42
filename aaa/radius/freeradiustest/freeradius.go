// Package freeradiustest runs a real FreeRADIUS server for tests and
// benchmarks: its own configuration directory (PAP, CHAP, a users file
// with Cisco-AVPair replies, Message-Authenticator required), one
// listener, stopped or paused by its PID. Never used by the daemon.
package freeradiustest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Binary is the Debian server binary.
const Binary = "/usr/sbin/freeradius"

// User is one users-file entry.
type User struct {
	Name, Password string
	AVPairs        []string // Cisco-AVPair reply values
}

// Server is a running FreeRADIUS.
type Server struct {
	Dir  string
	Addr netip.AddrPort
	cmd  *exec.Cmd
	done chan struct{}
	out  *syncBuffer
}

// Lookup reports whether FreeRADIUS is installed.
func Lookup() error {
	if _, err := os.Stat(Binary); err != nil {
		return errors.New("FreeRADIUS is not installed (apt-get install freeradius freeradius-utils; make test installs them as root)")
	}
	return nil
}

// Start runs FreeRADIUS in dir, listening on addr (port picked free),
// accepting requests from clients (a prefix) with secret.
func Start(dir string, addr netip.Addr, clients netip.Prefix, secret string, users []User) (*Server, error) {
	if err := Lookup(); err != nil {
		return nil, err
	}
	pc, err := net.ListenPacket("udp", net.JoinHostPort(addr.String(), "0"))
	if err != nil {
		return nil, err
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	conf := strings.NewReplacer("@DIR@", dir, "@ADDR@", addr.String(), "@PORT@", strconv.Itoa(port),
		"@CLIENTS@", clients.String(), "@SECRET@", secret).Replace(radiusdConf)
	if err := os.WriteFile(filepath.Join(dir, "radiusd.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	var u strings.Builder
	for _, x := range users {
		fmt.Fprintf(&u, "%s Cleartext-Password := %q\n", x.Name, x.Password)
		for i, av := range x.AVPairs {
			sep := ","
			if i == len(x.AVPairs)-1 {
				sep = ""
			}
			fmt.Fprintf(&u, "\tCisco-AVPair += %q%s\n", av, sep)
		}
		u.WriteString("\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(u.String()), 0o600); err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Addr: netip.AddrPortFrom(addr, uint16(port)), done: make(chan struct{}), out: &syncBuffer{}}
	s.cmd = exec.Command(Binary, "-X", "-d", dir, "-n", "radiusd")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting freeradius: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(s.out.String(), "Ready to process requests") {
		select {
		case <-s.done:
			return nil, fmt.Errorf("freeradius exited at start:\n%s", tail(s.out.String()))
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("freeradius not ready after 15 s:\n%s", tail(s.out.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, nil
}

// PID is the server's process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Output is what the server printed (-X: every request in detail).
func (s *Server) Output() string { return s.out.String() }

// Pause stops the process (SIGSTOP): its socket stays, answers stop, and
// clients see timeouts. Resume continues it.
func (s *Server) Pause() error  { return s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *Server) Resume() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

// Stop ends the server by its PID.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGCONT)
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 4<<20 {
		b.b.Reset() // -X is verbose; a long bench keeps only the recent part
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// radiusdConf is a minimal FreeRADIUS 3.2 configuration: raddbdir must
// still be defined (-d replaces it), and a rejected user's reply items are
// cleared (3.2.1 would copy them into the Access-Reject).
const radiusdConf = `prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
raddbdir = @DIR@
confdir = @DIR@
modconfdir = @DIR@
logdir = @DIR@
run_dir = @DIR@
db_dir = @DIR@
libdir = /usr/lib/freeradius
pidfile = @DIR@/radiusd.pid
name = radiusd
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
	destination = stdout
}
security {
	allow_core_dumps = no
	allow_vulnerable_openssl = yes
}
client orchd {
	ipaddr = @CLIENTS@
	secret = @SECRET@
	require_message_authenticator = yes
}
modules {
	pap {
	}
	chap {
	}
	files {
		filename = ${confdir}/users
	}
}
server default {
	listen {
		type = auth
		ipaddr = @ADDR@
		port = @PORT@
	}
	authorize {
		chap
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
		Auth-Type CHAP {
			chap
		}
	}
	post-auth {
		Post-Auth-Type REJECT {
			update reply {
				&Cisco-AVPair !* ANY
			}
		}
	}
}
`
