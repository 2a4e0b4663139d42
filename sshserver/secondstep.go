package sshserver

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// SecondStep is an Authenticate error saying the password was right but
// the user must also answer a question (a two-factor verification code).
// The server asks it over keyboard-interactive (RFC 4256), after an SSH
// partial success, so any client that speaks keyboard-interactive
// (OpenSSH does by default) can log in.
type SecondStep interface {
	error
	// Prompt is the question, e.g. "Verification code: ".
	Prompt() string
	// Verify checks the answer and completes the login.
	Verify(ctx context.Context, answer string) (Principal, error)
}

// secondStep turns an Authenticate error that is a SecondStep into an SSH
// partial success requiring keyboard-interactive; ok is false for any
// other error.
func (s *Server) secondStep(ctx context.Context, method string, err error) (*ssh.PartialSuccessError, bool) {
	var step SecondStep
	if !errors.As(err, &step) {
		return nil, false
	}
	next := func(md ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
		remote := addrPort(md.RemoteAddr())
		answers, err := client("", "", []string{step.Prompt()}, []bool{false})
		if err != nil {
			return nil, err
		}
		if len(answers) != 1 {
			return nil, fmt.Errorf("keyboard-interactive: got %d answers, want 1", len(answers))
		}
		p, err := step.Verify(ctx, answers[0])
		if err != nil {
			s.logf("sshserver: refused second step for %q from %s: %v", md.User(), remote, err)
			var um userMessager
			if errors.As(err, &um) && um.UserMessage() != "" {
				return nil, &ssh.BannerError{Err: err, Message: um.UserMessage()}
			}
			return nil, err
		}
		s.logf("sshserver: accepted %s login and second step for %q (role %q) from %s", method, p.User, p.Role, remote)
		return &ssh.Permissions{ExtraData: map[any]any{principalKey{}: p}}, nil
	}
	return &ssh.PartialSuccessError{Next: ssh.ServerAuthCallbacks{KeyboardInteractiveCallback: next}}, true
}
