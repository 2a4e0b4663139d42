package peers

import (
	"net"
	"syscall"
)

// tcpUserTimeout is TCP_USER_TIMEOUT (18 on every Linux architecture; the
// syscall package lacks it on some).
const tcpUserTimeout = 0x12

// controlDial bounds how long unacknowledged data may stay in flight before
// the kernel drops the connection, so a write to a dead peer fails in
// seconds rather than ~15 minutes.
func controlDial(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeout, int(userTimeout.Milliseconds()))
	})
	if err != nil {
		return err
	}
	return serr
}

// controlListen also sets IP_FREEBIND, so a listener can bind the sync
// address before syncport has configured it.
func controlListen(network, address string, c syscall.RawConn) error {
	if err := controlDial(network, address, c); err != nil {
		return err
	}
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_FREEBIND, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// setUserTimeout applies TCP_USER_TIMEOUT to an accepted connection too.
func setUserTimeout(c *net.TCPConn) {
	if rc, err := c.SyscallConn(); err == nil {
		controlDial("", "", rc)
	}
}
