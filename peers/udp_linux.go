package peers

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// udpSock is a liveness socket. It is a raw non-blocking descriptor, not a
// net.UDPConn, on purpose: Go's netpoller would wake the process for every
// arriving datagram, while the manager's tick reads them all at once.
type udpSock struct {
	fd    int
	local netip.AddrPort
}

// listenUDP binds a liveness socket on a (IP_FREEBIND: the sync address may
// not be configured yet), with a receive buffer for a few seconds' worth of
// datagrams from every peer between two ticks.
func listenUDP(a netip.AddrPort) (*udpSock, error) {
	family := unix.AF_INET
	if a.Addr().Is6() && !a.Addr().Is4In6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("liveness socket: %w", err)
	}
	if family == unix.AF_INET {
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_FREEBIND, 1)
	}
	const rcvbuf = 1 << 20
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
	}
	if err := unix.Bind(fd, sockaddr(a)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding liveness socket %s: %w", a, err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("liveness socket %s: %w", a, err)
	}
	return &udpSock{fd: fd, local: addrPort(sa)}, nil
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	if ip := a.Addr().Unmap(); ip.Is4() {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: ip.As4()}
	}
	return &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
}

func addrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// send writes one datagram; it never blocks (a full socket buffer drops it,
// as the network would).
func (u *udpSock) send(b []byte, to netip.AddrPort) error {
	return unix.Sendto(u.fd, b, unix.MSG_DONTWAIT, sockaddr(to))
}

// recv reads one queued datagram into buf; ok is false when none is queued.
func (u *udpSock) recv(buf []byte) (n int, ok bool, err error) {
	for {
		n, _, err = unix.Recvfrom(u.fd, buf, unix.MSG_DONTWAIT)
		switch {
		case err == nil:
			return n, true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return 0, false, nil
		}
		// ICMP errors of earlier sends (ECONNREFUSED...) surface here on
		// some kernels: not this socket's failure.
		if errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.EHOSTUNREACH) || errors.Is(err, unix.ENETUNREACH) {
			continue
		}
		return 0, false, err
	}
}

func (u *udpSock) close() { unix.Close(u.fd) }

// tickThreadNice is the niceness of the liveness tick's own OS thread: on
// a machine saturated by other work a thread at the default niceness can
// wait longer than DeadAfter for a core, and a missed tick looks like a
// dead peer to everyone else. The tick's work is small and bounded.
const tickThreadNice = -10

// prioritiseThread raises the calling (locked) OS thread's priority when
// the process may (root); it reports whether it did.
func prioritiseThread() bool {
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), tickThreadNice) == nil
}

// sleepUntil blocks this OS thread in the kernel until t (monotonic), so
// the kernel wakes the prioritised thread itself rather than the Go
// runtime's timer thread waking it.
func sleepUntil(t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	ts := unix.NsecToTimespec(d.Nanoseconds())
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}

// unreadInput returns how many received bytes of c the kernel holds that
// no goroutine has read yet.
func unreadInput(c net.Conn) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	return n
}
