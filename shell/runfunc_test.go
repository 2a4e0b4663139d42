package shell

import (
	"context"
	"strings"
	"testing"
)

// TestRunFunc: a step before the command loop prompts on the same stream,
// and the loop then reads the following lines.
func TestRunFunc(t *testing.T) {
	e, r := testEngine(t)
	out := &strings.Builder{}
	s := NewSession(e, SessionOptions{In: strings.NewReader("s3cret\nshow users\n"), Out: out, Prompt: "> "})
	var got string
	err := s.RunFunc(context.Background(), "change password", func(c *Ctx) error {
		var err error
		got, err = c.Prompt("password", "New password: ", true)
		return err
	})
	if err != nil || got != "s3cret" {
		t.Fatalf("RunFunc: %q, %v", got, err)
	}
	if err := s.RunInteractive(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran := r.get(); len(ran) != 1 || !strings.Contains(ran[0], "show users") {
		t.Errorf("after RunFunc the loop ran %q", ran)
	}
	if strings.Contains(out.String(), "s3cret") {
		t.Errorf("the answer was echoed: %q", out)
	}
	if err := s.RunFunc(context.Background(), "crash", func(*Ctx) error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "internal error: boom") {
		t.Errorf("panic: %v", err)
	}
}
