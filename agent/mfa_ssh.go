package agent

import (
	"context"
	"errors"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/sshserver"
)

// codeStep hands aaa's second step (a verification code) to the SSH
// server, which asks it over keyboard-interactive.
type codeStep struct{ *aaa.CodeNeeded }

func (c codeStep) Verify(ctx context.Context, answer string) (sshserver.Principal, error) {
	p, err := c.CodeNeeded.Verify(ctx, answer)
	if err != nil {
		return sshserver.Principal{}, err
	}
	return sshPrincipal(p), nil
}

// sshSecondStep turns an aaa.CodeNeeded into an sshserver.SecondStep; other
// errors pass unchanged.
func sshSecondStep(err error) error {
	var cn *aaa.CodeNeeded
	if errors.As(err, &cn) {
		return codeStep{cn}
	}
	return err
}

var _ sshserver.SecondStep = codeStep{}
