package domain

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/orchd/orchd/aaa"
)

func TestCause(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("radius h:1812: %w", os.ErrDeadlineExceeded), "no answer in time"},
		{fmt.Errorf("asking p1: %w", context.DeadlineExceeded), "no answer in time"},
		{fmt.Errorf("asking p1: %w", context.Canceled), "login abandoned"},
		{&net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvfrom", syscall.ECONNREFUSED)}, "connection refused"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, "unreachable"},
		{fmt.Errorf("ldap: StartTLS: %w", x509.UnknownAuthorityError{}), "TLS failure"},
		{fmt.Errorf("ldap: %w", x509.HostnameError{}), "TLS failure"},
		{errors.New("tacacs h:49: authentication ERROR"), "error"},
	} {
		if got := Cause(tc.err); got != tc.want {
			t.Errorf("Cause(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestUnaskedSummary(t *testing.T) {
	out := Outcome{Attempts: []Attempt{
		{Provider: "p1", Err: fmt.Errorf("x: %w", os.ErrDeadlineExceeded)},
		{Provider: "p2", Err: fmt.Errorf("%w: Access-Reject", aaa.ErrRejected)},
		{Provider: "p3", Err: errors.New("no usable secret")},
		{Provider: "p4"},
	}}
	if got, want := Summary(out.Unasked()), "p1 (no answer in time), p3 (error)"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}
