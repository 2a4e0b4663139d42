package peers

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
)

func TestSocketOptions(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m := &Manager{}
	p := &peer{spec: PeerSpec{Local: netip.MustParseAddr("127.0.0.1")}}
	c, err := m.dialer(p).Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, _ := c.(*net.TCPConn).SyscallConn()
	var ut, nd int
	rc.Control(func(fd uintptr) {
		ut, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeout)
		nd, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
	})
	if ut != int(userTimeout.Milliseconds()) {
		t.Errorf("TCP_USER_TIMEOUT = %d ms, want %d", ut, userTimeout.Milliseconds())
	}
	if nd == 0 {
		t.Error("TCP_NODELAY not set")
	}
}
