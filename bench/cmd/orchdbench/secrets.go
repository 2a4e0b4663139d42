package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/orchd/orchd/paths"
	"github.com/orchd/orchd/secrets"
)

// secretsPhase measures the sealed store (DESIGN §9) on one node: the time
// of `security unseal` (clish --input-json, wall), the daemon's idle RSS
// sealed and unsealed, and kill -9 at random points of `security changepwd`.
func secretsPhase(ctx context.Context, o runOpts, res *Results) error {
	rows := []struct{ key, name, target string }{
		{"unseal", `security unseal (clish --input-json, wall; argon2id 3 passes, 64 MiB, 2 lanes)`, "—"},
		{"rss-unsealed", "clishd idle RSS with the secret store unsealed (1 node)", "< 30 MB"},
		{"changepwd-kill", "kill -9 of clishd at a random point of security changepwd: the store opens with the old or the new passphrase", "0 failures"},
	}
	for _, r := range rows {
		res.skip(r.key, r.name, r.target, "the secrets phase stopped before reaching it")
	}
	fail := func(err error, keys ...string) error {
		failItem(res, firstLine(err.Error()), keys...)
		return err
	}
	b, err := upBed(ctx, o.binDir, 1, 1)
	if err != nil {
		return fail(err, "unseal", "rss-unsealed", "changepwd-kill")
	}
	defer b.down()
	id := b.ids[0]
	pass := func(p string) string {
		return `{"clusterPassphrase": "` + p + `", "newClusterPassphrase": "` + p + `x"}`
	}
	cur := fmt.Sprintf("bench-cluster-%08x", rand.Uint32())

	if err := sleepCtx(ctx, 5*time.Second); err != nil {
		return err
	}
	sealedKB, err := rssKB(b.pids()[id])
	if err != nil {
		return fail(err, "rss-unsealed")
	}
	if _, _, err := b.exec(ctx, id, pass(cur), "clish", "--input-json", "-c", "security init"); err != nil {
		return fail(err, "unseal", "rss-unsealed", "changepwd-kill")
	}
	var times []float64
	for i := 0; i < o.trials(10, 3); i++ {
		if _, _, err := b.exec(ctx, id, "", "clish", "-c", "security seal"); err != nil {
			return fail(err, "unseal", "rss-unsealed", "changepwd-kill")
		}
		t0 := time.Now()
		if _, _, err := b.exec(ctx, id, pass(cur), "clish", "--input-json", "-c", "security unseal"); err != nil {
			return fail(err, "unseal", "rss-unsealed", "changepwd-kill")
		}
		times = append(times, ms(time.Since(t0)))
	}
	d := dist("ms", times)
	res.add(&Item{Key: "unseal", Name: rows[0].name, Ours: d.String(), Comparison: "—", Ratio: "—", Target: "—", Verdict: "info",
		Finding: "one argon2id derivation (the unwrap) plus a clish start and a console round trip; the daemon then hands the KDF's 64 MiB back to the OS",
		Data:    map[string]any{"unseal_ms": d}})

	logf("secrets: idle RSS unsealed (settling 10 s)")
	if err := sleepCtx(ctx, 10*time.Second); err != nil {
		return err
	}
	kb, err := rssKB(b.pids()[id])
	if err != nil {
		return fail(err, "rss-unsealed")
	}
	res.add(&Item{Key: "rss-unsealed", Name: rows[1].name, Ours: fmt.Sprintf("%.1f MB", float64(kb)/1024),
		Comparison: fmt.Sprintf("%.1f MB before security init", float64(sealedKB)/1024), Ratio: ratio(float64(kb), float64(sealedKB)),
		Target: "< 30 MB", Verdict: verdict(kb < 30*1024), Data: map[string]any{"rss_kb": kb, "sealed_rss_kb": sealedKB}})

	// kill -9 during changepwd. The delay spans the whole command (two
	// derivations and the write), so some kills land mid-write.
	runs := o.trials(100, 10)
	span := 2*d.Median + 50
	store := paths.Layout{Root: b.Nodes[0].Root}.SecretStore()
	var oldN, newN int
	var failures []string
	logf("secrets: %d kills during changepwd (delays up to %.0f ms)", runs, span)
	for i := 0; i < runs && ctx.Err() == nil; i++ {
		next := cur + "x"
		cmd, err := b.Command(id, "clish", "--input-json", "-c", "security changepwd")
		if err != nil {
			return fail(err, "changepwd-kill")
		}
		c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
		c.Stdin = strings.NewReader(pass(cur))
		if err := c.Start(); err != nil {
			return fail(err, "changepwd-kill")
		}
		time.Sleep(time.Duration(rand.Float64()*span) * time.Millisecond)
		if err := b.Kill(id); err != nil {
			c.Wait()
			log, _ := os.ReadFile(filepath.Join(paths.Layout{Root: b.Nodes[0].Root}.LogDir(), "clishd.log"))
			if len(log) > 3000 {
				log = log[len(log)-3000:]
			}
			logf("secrets: run %d: %v; the node's log ends:\n%s", i, err, log)
			return fail(err, "changepwd-kill")
		}
		c.Wait()
		if err := b.Start(id); err != nil {
			return fail(err, "changepwd-kill")
		}
		st, err := secrets.Open(store)
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("run %d: %v", i, err))
		case st.Problem() != nil:
			failures = append(failures, fmt.Sprintf("run %d: %v", i, st.Problem()))
		case st.CheckPassphrase([]byte(cur)) == nil:
			oldN++
		case st.CheckPassphrase([]byte(next)) == nil:
			newN++
			cur = next
		default:
			failures = append(failures, fmt.Sprintf("run %d: neither passphrase opens the store", i))
		}
		if len(failures) > 0 {
			break
		}
	}
	it := &Item{Key: "changepwd-kill", Name: rows[2].name, Comparison: "—", Ratio: "—", Target: "0 failures",
		Ours:    fmt.Sprintf("%d kills: old passphrase %d, new %d, failures %d", oldN+newN+len(failures), oldN, newN, len(failures)),
		Verdict: verdict(len(failures) == 0), Data: map[string]any{"old": oldN, "new": newN, "failures": failures}}
	if len(failures) > 0 {
		it.Finding = strings.Join(failures, "; ")
	}
	res.add(it)
	return nil
}
