package peers

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpSock is a liveness socket. It is a raw non-blocking descriptor, not a
// net.UDPConn, on purpose: Go's netpoller would wake the process for every
// arriving datagram, while the manager's tick reads them all at once.
//
// Its system calls never block (MSG_DONTWAIT), so they are made raw: an
// ordinary one lets the runtime hand this thread's P to another thread, and
// getting one back after the call waited behind descheduled threads (most
// often GC workers) for hundreds of milliseconds on a saturated host —
// long enough for peers to find this daemon silent (bench/RESULTS.md).
type udpSock struct {
	fd    int
	local netip.AddrPort
	// Scratch for sendmmsg/recvmmsg, used only by the tick goroutine: one
	// system call per socket and tick instead of one per datagram.
	out mmsgOut
	in  *mmsgIn
}

// mmsghdr is struct mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

type mmsgOut struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family
}

// inBatch is how many datagrams one recvmmsg reads; inBuf is each one's
// buffer (a liveness datagram is 36 bytes; a longer one arrives truncated
// and is refused for its length).
const (
	inBatch = 64
	inBuf   = 64
)

type mmsgIn struct {
	hdrs [inBatch]mmsghdr
	iovs [inBatch]unix.Iovec
	bufs [inBatch][inBuf]byte
	// ctrl receives each datagram's arrival time (SCM_TIMESTAMPNS).
	ctrl [inBatch][ctrlLen]byte
}

// ctrlLen holds one control message carrying a struct timespec.
const ctrlLen = unix.SizeofCmsghdr + int(unsafe.Sizeof(unix.Timespec{}))

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
	// The kernel stamps each datagram on arrival: silence is measured
	// from then, not from whenever the tick got round to reading it (up
	// to a tick period later, or more on a busy host). Without it the
	// tick's own time stands in.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
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

// sendBatch sends pkts[i] to tos[i] with as few system calls as the kernel
// allows; it never blocks (a full socket buffer drops the rest, as the
// network would). onErr hears each datagram the kernel refused.
func (u *udpSock) sendBatch(pkts [][]byte, tos []netip.AddrPort, onErr func(i int, err error)) {
	n := len(pkts)
	o := &u.out
	if cap(o.hdrs) < n {
		o.hdrs, o.iovs, o.names = make([]mmsghdr, n), make([]unix.Iovec, n), make([]unix.RawSockaddrInet6, n)
	}
	o.hdrs, o.iovs, o.names = o.hdrs[:n], o.iovs[:n], o.names[:n]
	for i, p := range pkts {
		o.iovs[i].Base = &p[0]
		o.iovs[i].SetLen(len(p))
		o.hdrs[i] = mmsghdr{}
		h := &o.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&o.names[i]))
		h.Namelen = putSockaddr(&o.names[i], tos[i])
		h.Iov = &o.iovs[i]
		h.SetIovlen(1)
	}
	for off := 0; off < n; {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(u.fd), uintptr(unsafe.Pointer(&o.hdrs[off])), uintptr(n-off), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			return // socket buffer full: the rest is dropped
		case e != 0:
			onErr(off, e) // the first unsent one failed: skip it
			off++
			continue
		}
		off += int(r)
	}
	runtime.KeepAlive(pkts)
}

// putSockaddr writes to into sa and returns its length.
func putSockaddr(sa *unix.RawSockaddrInet6, to netip.AddrPort) uint32 {
	port := to.Port()
	if ip := to.Addr().Unmap(); ip.Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.As4()}
		p := (*[2]byte)(unsafe.Pointer(&sa4.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: to.Addr().As16()}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return unix.SizeofSockaddrInet6
}

// recvBatch hands every queued datagram (at most max) to handle with its
// arrival time (UnixNano; 0 if the kernel gave none), reading up to
// inBatch per system call.
func (u *udpSock) recvBatch(max int, handle func(b []byte, at int64)) error {
	if u.in == nil {
		u.in = &mmsgIn{}
		for i := range u.in.hdrs {
			u.in.iovs[i].Base = &u.in.bufs[i][0]
			u.in.iovs[i].SetLen(inBuf)
			u.in.hdrs[i].hdr.Iov = &u.in.iovs[i]
			u.in.hdrs[i].hdr.SetIovlen(1)
			u.in.hdrs[i].hdr.Control = &u.in.ctrl[i][0]
		}
	}
	in := u.in
	for read := 0; read < max; {
		for i := range in.hdrs {
			// The kernel overwrites each length with what it wrote.
			in.hdrs[i].hdr.SetControllen(ctrlLen)
		}
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(u.fd), uintptr(unsafe.Pointer(&in.hdrs[0])), inBatch, unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			return nil
		case e == unix.ECONNREFUSED || e == unix.EHOSTUNREACH || e == unix.ENETUNREACH:
			// ICMP errors of earlier sends surface here on some
			// kernels: not this socket's failure.
			continue
		case e != 0:
			return e
		}
		for i := range int(r) {
			handle(in.bufs[i][:min(int(in.hdrs[i].n), inBuf)], arrival(in.ctrl[i][:], int(in.hdrs[i].hdr.Controllen)))
		}
		read += int(r)
		if int(r) < inBatch {
			return nil
		}
	}
	return nil
}

// arrival reads the SCM_TIMESTAMPNS control message the kernel wrote in
// ctrl (n bytes), without allocating: 0 if there is none.
func arrival(ctrl []byte, n int) int64 {
	if n < ctrlLen || len(ctrl) < ctrlLen {
		return 0
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
	if h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_TIMESTAMPNS || int(h.Len) < ctrlLen {
		return 0
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&ctrl[unix.SizeofCmsghdr]))
	return ts.Nano()
}

func (u *udpSock) close() { unix.Close(u.fd) }

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
