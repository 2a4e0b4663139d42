package peers

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkMeshConverge measures N in-process managers, all pinned, from
// Run to every node seeing every other Authenticated (N·(N-1)/2 sessions).
func BenchmarkMeshConverge(b *testing.B) {
	for _, n := range []int{4, 16} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var ids []string
			for i := range n {
				ids = append(ids, fmt.Sprintf("%d_%d", i/8+1, i%8+1))
			}
			for b.Loop() {
				b.StopTimer()
				ms := newMesh(b, ids...)
				ms.hb, ms.dead = DefaultHeartbeat, DefaultDeadAfter
				ms.pinAll()
				b.StartTimer()
				ms.startAll()
				waitFor(b, 20*time.Second, "all Authenticated", ms.allAuthenticated)
				b.StopTimer()
				for _, id := range ids {
					ms.stop(id)
				}
				b.StartTimer()
			}
		})
	}
}
