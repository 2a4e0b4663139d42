package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchd/orchd/state"
	"github.com/orchd/orchd/testbed"
)

// benchSpec is the benchmark's testbed. 198.19.240.0/20 was meant for it,
// but another testbed (bch-) was seen using that range; 198.19.144.0/20 is
// used by nothing else in the repository.
var benchSpec = tbSpec{prefix: "itb-", mgmt: "198.19.144.0/20"}

// BenchmarkTrustAll measures DESIGN §7's first bar: full-mesh trust from
// one command. Per iteration, from a mesh where nothing is pinned:
// ms/trust-cmd is the wall time of `set maestro authentication trust
// orchestrators all fingerprints ...` on 1_1, ms/converge the time from
// the command's start until every directed relation is Authenticated in
// every node's state file. Each size builds its testbed once; between
// iterations every node revokes all, so each iteration does the work anew.
//
//	go test -run '^$' -bench TrustAll -benchtime 3x ./integration/
func BenchmarkTrustAll(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates network namespaces and runs clishd in them")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		b.Skip("needs the ip command (apt-get install iproute2)")
	}
	// The testing package calls each sub-benchmark more than once (b.N = 1
	// first): keep its testbed across calls, down when the size changes
	// and at the end.
	var (
		curName string
		cur     *mesh
		down    func() error
	)
	b.Cleanup(func() {
		if down != nil {
			if err := down(); err != nil {
				b.Errorf("testbed down: %v", err)
			}
		}
	})
	for _, size := range []struct{ sites, perSite int }{{2, 2}, {4, 4}} {
		name := fmt.Sprintf("%dx%d", size.sites, size.perSite)
		b.Run(name, func(b *testing.B) {
			if curName != name {
				if down != nil {
					err := down()
					down, cur, curName = nil, nil, ""
					if err != nil {
						b.Fatalf("testbed down: %v", err)
					}
				}
				tb, d := upMeshBed(b, benchSpec, size.sites, size.perSite)
				down, curName = d, name
				cur = newMesh(b, tb)
			}
			m := cur
			relations := len(m.ids) * (len(m.ids) - 1)
			var cmdTotal, convTotal time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				m.revokeEverywhere(b)
				b.StartTimer()

				start := time.Now()
				out, code := clishOn(b, m.tb, m.ids[0], m.pwJSON(m.pw), m.trustAll(m.ids[0], false))
				cmd := time.Since(start)
				if code != 0 {
					b.Fatalf("iteration %d of %d: trust all: exit %d after %v\n%s", i+1, b.N, code, cmd.Round(time.Millisecond), out)
				}
				var gaps []string
				err := testbed.WaitFor(context.Background(), 30*time.Second, func() (bool, error) {
					gaps = m.gaps(b, false)
					return len(gaps) == 0, nil
				})
				if err != nil {
					b.Fatalf("%d relations not all Authenticated: %v: %d left: %s", relations, err, len(gaps), firstN(gaps, 10))
				}
				cmdTotal += cmd
				convTotal += time.Since(start)
			}
			b.StopTimer()
			b.ReportMetric(float64(cmdTotal.Microseconds())/1000/float64(b.N), "ms/trust-cmd")
			b.ReportMetric(float64(convTotal.Microseconds())/1000/float64(b.N), "ms/converge")
			b.ReportMetric(float64(relations), "relations")
		})
	}
}

// revokeEverywhere revokes all on every node at once and waits until no
// node pins or authenticates anyone.
func (m *mesh) revokeEverywhere(b testing.TB) {
	b.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, id := range m.ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd, err := m.tb.Command(id, "clish", "-c", "set maestro authentication revoke orchestrators all")
			if err == nil {
				var out []byte
				if out, err = cmd.CombinedOutput(); err != nil {
					err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("revoke all on %s: %w", id, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	var left []string
	err := testbed.WaitFor(context.Background(), 30*time.Second, func() (bool, error) {
		left = nil
		for _, id := range m.ids {
			if pins := trustPins(b, m.tb, id); len(pins) > 0 {
				left = append(left, fmt.Sprintf("%s pins %d", id, len(pins)))
			}
			for _, p := range meshState(b, m.tb, id).Peers {
				if p.Status == state.Authenticated {
					left = append(left, fmt.Sprintf("%s→%s Authenticated", id, p.ID))
				}
			}
		}
		return len(left) == 0, nil
	})
	if err != nil {
		b.Fatalf("after revoke all everywhere: %v: %s", err, firstN(left, 10))
	}
}

func firstN(s []string, n int) string {
	if len(s) > n {
		return strings.Join(s[:n], "; ") + fmt.Sprintf("; ... (%d more)", len(s)-n)
	}
	return strings.Join(s, "; ")
}
