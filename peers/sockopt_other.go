//go:build !linux

package peers

import (
	"net"
	"syscall"
)

// orchd runs on Linux; elsewhere the sessions work without the socket
// tuning (tests on a developer's machine).
func controlDial(_, _ string, _ syscall.RawConn) error   { return nil }
func controlListen(_, _ string, _ syscall.RawConn) error { return nil }
func setUserTimeout(*net.TCPConn)                        {}
