package domain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa"
)

// fake answers with err (nil: accept) and counts calls.
type fake struct {
	err   error
	calls int
}

func (f *fake) Authenticate(ctx context.Context, user, pw string) (aaa.ProviderResult, error) {
	f.calls++
	if f.err != nil {
		return aaa.ProviderResult{}, f.err
	}
	return aaa.ProviderResult{Values: []string{"shell:msc-roles=adminRole"}}, nil
}

var (
	errTimeout = errors.New("radius: no response")
	errReject  = fmt.Errorf("%w: Access-Reject", aaa.ErrRejected)
)

func TestRouterFailoverAndDeadTime(t *testing.T) {
	now := time.Unix(1000, 0)
	r := &Router{Now: func() time.Time { return now }}
	a, b := &fake{err: errTimeout}, &fake{}
	members := []Member{{"b", 2, b}, {"a", 1, a}}

	out, err := r.Authenticate(context.Background(), members, "u", "p")
	if err != nil || out.Provider != "b" || a.calls != 1 || b.calls != 1 || len(out.Attempts) != 2 {
		t.Fatalf("first login: %+v, %v (a %d, b %d calls)", out, err, a.calls, b.calls)
	}
	// a is dead: the next login asks b first and does not wait for a.
	out, err = r.Authenticate(context.Background(), members, "u", "p")
	if err != nil || out.Provider != "b" || a.calls != 1 || b.calls != 2 {
		t.Fatalf("second login: %+v, %v (a %d calls)", out, err, a.calls)
	}
	// Dead providers are still tried, last, when the others cannot answer.
	b.err = errTimeout
	_, err = r.Authenticate(context.Background(), members, "u", "p")
	if !errors.Is(err, ErrNoProvider) || a.calls != 2 || b.calls != 3 {
		t.Fatalf("all down: %v (a %d, b %d)", err, a.calls, b.calls)
	}
	// After the dead time, priority order again.
	now = now.Add(DeadTime + time.Second)
	a.err, b.err = nil, nil
	out, _ = r.Authenticate(context.Background(), members, "u", "p")
	if out.Provider != "a" {
		t.Fatalf("after dead time: answered by %s, want a", out.Provider)
	}
}

func TestRouterRejectIsFinal(t *testing.T) {
	r := &Router{}
	a, b := &fake{err: errReject}, &fake{}
	out, err := r.Authenticate(context.Background(), []Member{{"a", 1, a}, {"b", 2, b}}, "u", "p")
	if !errors.Is(err, aaa.ErrRejected) || out.Provider != "a" || b.calls != 0 {
		t.Fatalf("%+v, %v; b asked %d times", out, err, b.calls)
	}
	if _, dead := r.Dead("a"); dead {
		t.Error("a rejecting provider was marked dead")
	}
}

func TestRouterNoMembers(t *testing.T) {
	if _, err := (&Router{}).Authenticate(context.Background(), nil, "u", "p"); !errors.Is(err, ErrNoProvider) || !strings.Contains(err.Error(), "no provider") {
		t.Fatal(err)
	}
}
