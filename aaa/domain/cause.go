package domain

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/orchd/orchd/aaa"
)

// Unasked is a provider that was tried during a login but could not be
// asked: it neither accepted nor rejected.
type Unasked struct {
	Provider string
	Err      error
}

// Unasked lists the providers of the outcome that could not be asked, in
// the order they were tried. A login refused with none answering must not
// count as a failed login (DESIGN §8.3): these are what the refusal names.
func (o Outcome) Unasked() []Unasked {
	var out []Unasked
	for _, at := range o.Attempts {
		if at.Err != nil && !errors.Is(at.Err, aaa.ErrRejected) {
			out = append(out, Unasked{Provider: at.Provider, Err: at.Err})
		}
	}
	return out
}

// Summary names the providers that could not be asked with a short cause
// each, for the client: "rad1 (no answer in time), rad2 (connection
// refused)". It carries no address, user name or server text.
func Summary(us []Unasked) string {
	parts := make([]string, len(us))
	for i, u := range us {
		parts[i] = u.Provider + " (" + Cause(u.Err) + ")"
	}
	return strings.Join(parts, ", ")
}

// Cause sorts a "could not ask" error into the few kinds an administrator
// acts on differently: wait for the server, fix the network, fix TLS.
func Cause(err error) string {
	var (
		ne    net.Error
		cve   *tls.CertificateVerificationError
		ua    x509.UnknownAuthorityError
		hn    x509.HostnameError
		ci    x509.CertificateInvalidError
		alert tls.AlertError
		rh    tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return "login abandoned"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer in time"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.As(err, &cve), errors.As(err, &ua), errors.As(err, &hn), errors.As(err, &ci),
		errors.As(err, &alert), errors.As(err, &rh), isTLSFailure(err):
		return "TLS failure"
	}
	return "error"
}

// tlsFailure is implemented by provider errors that know they are a TLS
// failure when the library flattened the TLS error to text (go-ldap's
// StartTLS does).
type tlsFailure interface{ TLSFailure() bool }

func isTLSFailure(err error) bool {
	var tf tlsFailure
	return errors.As(err, &tf) && tf.TLSFailure()
}
