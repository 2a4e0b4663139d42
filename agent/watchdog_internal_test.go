package agent

import (
	"testing"

	"github.com/orchd/orchd/state"
)

func TestMeshSummary(t *testing.T) {
	p := func(st ...string) []state.Peer {
		var out []state.Peer
		for _, s := range st {
			out = append(out, state.Peer{Status: s})
		}
		return out
	}
	for _, c := range []struct {
		in   []state.Peer
		want string
	}{
		{p(state.Authenticated, state.Authenticated, state.Authenticated), "3/3 peers Authenticated"},
		{nil, "0/0 peers Authenticated"},
		{p(state.Authenticated, state.Unreachable, state.Untrusted, state.Unreachable), "1/4 peers Authenticated, 1 Untrusted, 2 Unreachable"},
	} {
		if got := meshSummary(c.in); got != c.want {
			t.Errorf("meshSummary(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
