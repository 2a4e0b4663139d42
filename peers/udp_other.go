//go:build !linux

package peers

import (
	"errors"
	"net"
	"net/netip"
)

// udpSock is unsupported here: sessions keep TLS heartbeats.
type udpSock struct{ local netip.AddrPort }

func listenUDP(netip.AddrPort) (*udpSock, error) {
	return nil, errors.New("liveness datagrams are supported on Linux only")
}

func (*udpSock) sendBatch(pkts [][]byte, _ []netip.AddrPort, onErr func(int, error)) {
	for i := range pkts {
		onErr(i, errors.ErrUnsupported)
	}
}

func (*udpSock) recvBatch(int, func([]byte, int64)) error { return nil }

func (*udpSock) close() {}

func unreadInput(net.Conn) int { return 0 }
