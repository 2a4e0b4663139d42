package agent

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/ctlsock"
)

// consoleCodeDelay follows a wrong verification code on the console (it
// has no source address for the lockout to count).
var consoleCodeDelay = 2 * time.Second

// consoleSecondFactor asks a local (non-root) user with two-factor on for
// the verification code before the console session starts: the same
// "Verification code: " prompt as SSH, or the "code" answer of
// --input-json. Root is never asked: it already owns the machine, and
// asking would lock the recovery path (security unseal) behind a sealed
// TOTP seed.
func (a *Agent) consoleSecondFactor(cs *ctlsock.Session, u aaa.User) error {
	from := fmt.Sprintf("console (uid %d, pid %d)", cs.Cred.UID, cs.Cred.PID)
	if err := a.mfa.Challenge(cs.Ctx, u); err != nil {
		return fmt.Errorf("two-factor authentication unavailable: %w", err)
	}
	code, ok := cs.Hello.Answers["code"]
	if !ok {
		io.WriteString(cs.Stdout, aaa.CodePrompt)
		var err error
		if code, err = readCodeLine(cs.Stdin); err != nil {
			return fmt.Errorf("reading the verification code: %w", err)
		}
		io.WriteString(cs.Stdout, nl(cs.Hello.TTY))
	}
	if err := a.mfa.Verify(cs.Ctx, u, code); err != nil {
		a.log.WithField("user", u.Name).WithField("from", from).Warn("console login refused: wrong verification code")
		a.record(audit.Event{Type: "login", User: u.Name, Source: from, Result: "failed", Reason: "second factor (" + u.TwoFactor.Method + "): " + err.Error()})
		select {
		case <-time.After(consoleCodeDelay):
		case <-cs.Ctx.Done():
		}
		return errors.New("wrong verification code")
	}
	return nil
}

// readCodeLine reads up to a newline (or CR, from a raw terminal), without
// echo, at most 64 bytes.
func readCodeLine(r io.Reader) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for len(b) < 64 {
		n, err := r.Read(one)
		if n == 1 {
			if one[0] == '\r' || one[0] == '\n' {
				return string(b), nil
			}
			b = append(b, one[0])
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(b) > 0 {
				return string(b), nil
			}
			return "", err
		}
	}
	return string(b), nil
}
