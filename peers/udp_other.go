//go:build !linux

package peers

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// udpSock is unsupported here: sessions keep TLS heartbeats.
type udpSock struct{ local netip.AddrPort }

func listenUDP(netip.AddrPort) (*udpSock, error) {
	return nil, errors.New("liveness datagrams are supported on Linux only")
}

func (*udpSock) send([]byte, netip.AddrPort) error { return errors.ErrUnsupported }

func (*udpSock) recv([]byte) (int, bool, error) { return 0, false, nil }

func (*udpSock) close() {}

func prioritiseThread() bool { return false }

func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

func unreadInput(net.Conn) int { return 0 }
