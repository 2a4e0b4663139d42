package peers

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy forwards TCP to a target; frozen, it swallows everything in both
// directions and forwards no new connection, like a link that died without
// a word: TCP on each side still sees its data acknowledged.
type proxy struct {
	addr   netip.AddrPort
	ln     net.Listener
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newProxy(t *testing.T, target netip.AddrPort) *proxy {
	t.Helper()
	a := target.Addr().As4()
	a[3] = 200
	ln, err := net.Listen("tcp", netip.AddrPortFrom(netip.AddrFrom4(a), target.Port()).String())
	if err != nil {
		t.Fatal(err)
	}
	px := &proxy{addr: ln.Addr().(*net.TCPAddr).AddrPort(), ln: ln}
	t.Cleanup(px.close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			px.track(c)
			if px.frozen.Load() {
				go px.pipe(c, nil)
				continue
			}
			// From the client's own address, as a sync peer dials: the
			// target admits only members' sync addresses.
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: c.RemoteAddr().(*net.TCPAddr).IP}}
			up, err := d.Dial("tcp", target.String())
			if err != nil {
				c.Close()
				continue
			}
			px.track(up)
			go px.pipe(c, up)
			go px.pipe(up, c)
		}
	}()
	return px
}

func (px *proxy) track(c net.Conn) {
	px.mu.Lock()
	defer px.mu.Unlock()
	px.conns = append(px.conns, c)
}

// pipe copies from src to dst while not frozen, and discards while frozen.
func (px *proxy) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			if dst != nil && !px.frozen.Load() {
				dst.Close()
			}
			return
		}
		if dst != nil && !px.frozen.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

func (px *proxy) freeze() { px.frozen.Store(true) }

// thaw forwards new connections again; the swallowed ones stay dead, as
// their TLS streams lost records.
func (px *proxy) thaw() { px.frozen.Store(false) }

func (px *proxy) close() {
	px.ln.Close()
	px.mu.Lock()
	defer px.mu.Unlock()
	for _, c := range px.conns {
		c.Close()
	}
}
