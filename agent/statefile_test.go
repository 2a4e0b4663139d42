package agent

import (
	"testing"
	"time"
)

// TestStateSpacing: a trust storm spaces status writes out until the
// change that leaves every peer Authenticated, which shows at once.
func TestStateSpacing(t *testing.T) {
	cases := []struct {
		name           string
		storm, settled bool
		want           time.Duration
	}{
		{"quiet mesh", false, true, minStateInterval},
		{"link loss outside a storm", false, false, minStateInterval},
		{"storm, peers still coming up", true, false, stormStateInterval},
		{"storm, the last peer just Authenticated", true, true, minStateInterval},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := stateSpacing(c.storm, c.settled); got != c.want {
				t.Errorf("stateSpacing(storm %v, settled %v) = %v, want %v", c.storm, c.settled, got, c.want)
			}
		})
	}
}
