package agent

import (
	"runtime/debug"
	"testing"
)

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestStormGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	cases := []struct {
		name       string
		start      int
		inStorm    int
		afterStorm int
	}{
		{"default", 100, stormGCPercent, 100},
		{"GOGC=50", 50, stormGCPercent, 50},
		{"GOGC=800 stays", 800, 800, 800},
		{"GOGC=off stays", -1, -1, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			debug.SetGCPercent(c.start)
			hook := stormGC()
			hook(false) // no storm yet: nothing to restore
			if got := gcPercent(); got != c.start {
				t.Fatalf("before the storm: GOGC %d, want %d", got, c.start)
			}
			hook(true)
			if got := gcPercent(); got != c.inStorm {
				t.Errorf("in the storm: GOGC %d, want %d", got, c.inStorm)
			}
			hook(false)
			if got := gcPercent(); got != c.afterStorm {
				t.Errorf("after the storm: GOGC %d, want %d", got, c.afterStorm)
			}
		})
	}
}
