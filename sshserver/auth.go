package sshserver

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/crypto/ssh"
)

// Authenticator is the subset of the AAA layer the server uses.
type Authenticator interface {
	// Authenticate checks user's password, attempted from remote. ctx ends
	// when the login grace time expires or the connection closes. If the
	// returned error has a method UserMessage() string, that message is
	// shown to the client (as an SSH banner) before the refusal.
	Authenticate(ctx context.Context, user, password string, remote netip.Addr) (Principal, error)
}

// Principal is who a successful login authenticated as.
type Principal struct {
	User string // canonical user name (may differ from the login name)
	Role string
	// Extra carries the AAA layer's own details (such as its principal
	// type) through to the Handler untouched.
	Extra any
}

// userMessager is implemented by Authenticate errors that carry a message
// for the client.
type userMessager interface{ UserMessage() string }

// loggableUser is implemented by Authenticate errors that know whether the
// login name is a user: only then may it appear in the log (a password
// typed into the name field must not).
type loggableUser interface{ LogUser() string }

// logName is how a refused login's name appears in the log: what the
// Authenticator vouches for (`user "admin"`), else "unknown user".
func logName(err error) string {
	var lu loggableUser
	if errors.As(err, &lu) && lu.LogUser() != "" {
		return lu.LogUser()
	}
	return "unknown user"
}

// principalKey indexes the Principal in ssh.Permissions.ExtraData.
type principalKey struct{}

// HostKeyFingerprint returns the SHA-256 fingerprint of key's public half as
// OpenSSH prints it ("SHA256:<base64>"), or "" if key is not usable as an SSH
// host key. For an Ed25519 key it equals identity.Fingerprint.
func HostKeyFingerprint(key crypto.Signer) string {
	if key == nil {
		return ""
	}
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return ""
	}
	return ssh.FingerprintSHA256(pub)
}

// configFactory builds one ssh.ServerConfig per connection, so the
// authentication callbacks can see the connection's context.
type configFactory func(ctx context.Context) *ssh.ServerConfig

func (s *Server) newConfigFactory() (configFactory, error) {
	if s.HostKey == nil {
		return nil, errors.New("sshserver: no host key configured (the persisted identity key is required)")
	}
	if s.Handler == nil {
		return nil, errors.New("sshserver: no handler configured")
	}
	signer, err := ssh.NewSignerFromSigner(s.HostKey)
	if err != nil {
		return nil, fmt.Errorf("sshserver: using host key: %w", err)
	}
	if s.Auth == nil {
		s.logf("sshserver: no authenticator configured: every login will be refused")
	}
	tries := s.MaxAuthTries
	if tries <= 0 {
		tries = DefaultMaxAuthTries
	}
	return func(ctx context.Context) *ssh.ServerConfig {
		cfg := &ssh.ServerConfig{
			MaxAuthTries:  tries,
			ServerVersion: "SSH-2.0-orchd",
			PasswordCallback: func(md ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
				return s.authenticate(ctx, md, "password", string(pw))
			},
			KeyboardInteractiveCallback: func(md ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
				answers, err := client("", "", []string{"Password: "}, []bool{false})
				if err != nil {
					return nil, err
				}
				if len(answers) != 1 {
					return nil, fmt.Errorf("keyboard-interactive: got %d answers, want 1", len(answers))
				}
				perms, err := s.authenticate(ctx, md, "keyboard-interactive", answers[0])
				// OpenSSH never repeats a method after its partial success:
				// ask the second step in this same exchange.
				var ps *ssh.PartialSuccessError
				if errors.As(err, &ps) && ps.Next.KeyboardInteractiveCallback != nil {
					return ps.Next.KeyboardInteractiveCallback(md, client)
				}
				return perms, err
			},
		}
		if s.Banner != "" {
			cfg.BannerCallback = func(ssh.ConnMetadata) string { return s.Banner }
		}
		cfg.AddHostKey(signer)
		return cfg
	}, nil
}

// authenticate runs one password check. The password is never logged.
func (s *Server) authenticate(ctx context.Context, md ssh.ConnMetadata, method, password string) (*ssh.Permissions, error) {
	remote := addrPort(md.RemoteAddr())
	if s.Auth == nil {
		s.logf("sshserver: refused %s login from %s: no authenticator configured", method, remote)
		return nil, errors.New("no authenticator configured")
	}
	p, err := s.Auth.Authenticate(ctx, md.User(), password, remote.Addr())
	if partial, ok := s.secondStep(ctx, method, err); ok {
		s.logf("sshserver: %s login for %q from %s needs a second step", method, md.User(), remote)
		return nil, partial
	}
	if err != nil {
		s.logf("sshserver: refused %s login for %s from %s: %v", method, logName(err), remote, err)
		var um userMessager
		if errors.As(err, &um) && um.UserMessage() != "" {
			return nil, &ssh.BannerError{Err: err, Message: um.UserMessage()}
		}
		return nil, err
	}
	s.logf("sshserver: accepted %s login for %q (role %q) from %s", method, p.User, p.Role, remote)
	return &ssh.Permissions{ExtraData: map[any]any{principalKey{}: p}}, nil
}

// addrPort converts a net.Addr to a netip.AddrPort with IPv4-mapped
// addresses unmapped; it is zero for non-IP addresses.
func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch v := a.(type) {
	case *net.TCPAddr:
		ap = v.AddrPort()
	case nil:
		return ap
	default:
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
