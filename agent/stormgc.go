package agent

import "runtime/debug"

// stormGCPercent is the GC target during a trust storm. A storm allocates
// fast (handshakes, sessions, views) in 64 daemons on a testbed's two
// cores, and at GOGC=100 their collections were a twentieth of its CPU.
// With one P per daemon (a packed testbed), a 64-node trust took 9.8 s
// (18.0 CPU-s) at 400 against 11.2 s (20.4) at 200 and 11.0 s (20.0) at
// 100 in two interleaved rounds; a third round was even (bench/RESULTS.md,
// issue 16, eleventh pass): a gain of about a second, not a sure one. The
// heap may grow to five times the storm's live heap (a few MB) for those
// seconds. The idle RSS bar (DESIGN §7) holds at the usual 100 %, so the
// raised target lasts only as long as the storm, and its heap is handed
// back at the end.
const stormGCPercent = 400

// stormGC returns the peers.Config.OnStorm hook that raises the GC target
// for the storm and restores it after. A GOGC already off or higher is left
// alone. The tick calls it from one goroutine, so its state needs no lock.
func stormGC() func(storm bool) {
	raised, prev := false, 0
	return func(storm bool) {
		switch {
		case storm && !raised:
			if prev = debug.SetGCPercent(stormGCPercent); prev < 0 || prev >= stormGCPercent {
				debug.SetGCPercent(prev)
				return
			}
			raised = true
		case !storm && raised:
			debug.SetGCPercent(prev)
			raised = false
			// The heap the storm grew would go back to the OS only
			// slowly: 64 daemons measured just after held 2.3 MB more
			// (max 31.1 MB against the 30 MB bar). Off the tick.
			go debug.FreeOSMemory()
		}
	}
}
