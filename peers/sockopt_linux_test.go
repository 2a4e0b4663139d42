package peers

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"testing"
)

func TestSocketOptions(t *testing.T) {
	lc := listenConfig()
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
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
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for side, c := range map[string]net.Conn{"dialed": c, "accepted": a} {
		rc, _ := c.(*net.TCPConn).SyscallConn()
		var ka, ut, nd int
		rc.Control(func(fd uintptr) {
			ka, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
			ut, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeout)
			nd, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
		})
		// Keepalive with a user timeout ended healthy idle sessions.
		if ka != 0 {
			t.Errorf("%s: SO_KEEPALIVE on", side)
		}
		if side == "dialed" && ut != int(userTimeout.Milliseconds()) {
			t.Errorf("%s: TCP_USER_TIMEOUT = %d ms, want %d", side, ut, userTimeout.Milliseconds())
		}
		if side == "dialed" && nd == 0 {
			t.Errorf("%s: TCP_NODELAY not set", side)
		}
	}
}
