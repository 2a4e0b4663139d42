package shell

import (
	"context"
	"fmt"
)

// RunFunc runs fn as a command the daemon does not register, with a Ctx
// that may Prompt on the session's stream: for steps around the command
// loop, such as changing an expired password at login before the first
// prompt. Call it before RunInteractive, or from nowhere else.
func (s *Session) RunFunc(ctx context.Context, name string, fn func(c *Ctx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &Ctx{Context: ctx, Out: s.out, User: s.opts.User, Name: name, Line: name, s: s, owner: s.in.newOwner()}
	stop := context.AfterFunc(ctx, s.in.close)
	defer func() {
		stop()
		s.in.setOwner(ownerNobody)
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: internal error: %v", name, r)
		}
	}()
	return fn(c)
}
