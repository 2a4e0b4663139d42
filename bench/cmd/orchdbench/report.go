package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Item is one row of RESULTS.md.
type Item struct {
	Key        string `json:"key"`
	Name       string `json:"name"`
	Ours       string `json:"ours"`
	Comparison string `json:"comparison"`
	Ratio      string `json:"ratio"`
	Target     string `json:"target"`
	// Verdict: "pass", "short", "info" (no target) or "not measured".
	Verdict string `json:"verdict"`
	// Finding says where the time goes when short; Why why not measured.
	Finding string         `json:"finding,omitempty"`
	Why     string         `json:"why,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
	order   int
}

// Results collects every item as the phases produce them.
type Results struct {
	mu      sync.Mutex
	Date    string            `json:"date"`
	Machine map[string]string `json:"machine"`
	Items   []*Item           `json:"items"`
	Notes   []string          `json:"notes,omitempty"`
	Seconds float64           `json:"total_seconds"`
}

func (r *Results) add(it *Item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.Items {
		if x.Key == it.Key {
			it.order = x.order
			r.Items[i] = it
			return
		}
	}
	r.Items = append(r.Items, it)
}

func (r *Results) skip(key, name, target, why string) {
	r.add(&Item{Key: key, Name: name, Target: target, Verdict: "not measured", Why: why})
}

func (r *Results) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "short"
}

func ratio(ours, cmp float64) string {
	if cmp == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", ours/cmp)
}

func machineFacts() map[string]string {
	m := map[string]string{
		"cores":      fmt.Sprint(runtime.NumCPU()),
		"go_runtime": runtime.Version(),
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m["go"] = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.Index(l, ":"); i >= 0 {
					m["cpu"] = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				m["memory"] = strings.Join(strings.Fields(l)[1:], " ")
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg_at_start"] = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	b0, t0 := machineCPU()
	time.Sleep(time.Second)
	b1, t1 := machineCPU()
	if t1 > t0 {
		m["busy_at_start"] = fmt.Sprintf("%.0f%%", 100*float64(b1-b0)/float64(t1-t0))
	}
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		other := 0
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && !strings.HasPrefix(l, tbPrefix) {
				other++
			}
		}
		m["other_netns_at_start"] = fmt.Sprint(other)
	}
	if out, err := exec.Command("ssh", "-V").CombinedOutput(); err == nil {
		m["openssh_client"] = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "openssh-server").Output(); err == nil {
		m["openssh_server"] = strings.TrimSpace(string(out))
	}
	return m
}

func (r *Results) write(dir string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "RESULTS.md"), []byte(r.markdown()), 0o644)
}

func (r *Results) markdown() string {
	var b strings.Builder
	cell := func(s string) string {
		if s == "" {
			return "—"
		}
		return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
	}
	fmt.Fprintf(&b, "# orchd benchmarks — DESIGN §7 quality bars\n\n")
	fmt.Fprintf(&b, "Written by `scripts/bench.sh` (bench/cmd/orchdbench) on %s; the whole run took %.0f s.\n\n", r.Date, r.Seconds)
	fmt.Fprintf(&b, "Machine: %s cores (%s), %s memory, kernel %s, %s; OpenSSH %s / server %s.\n\n",
		r.Machine["cores"], r.Machine["cpu"], r.Machine["memory"], r.Machine["kernel"], r.Machine["go"],
		r.Machine["openssh_client"], r.Machine["openssh_server"])
	fmt.Fprintf(&b, "Disk under the testbed (/var/tmp): one atomic durable write (temp file, fsync, rename, directory fsync) %s ms.\n\n", r.Machine["fsync_4k_ms"])
	if r.Machine["speed_start"] != "" {
		fmt.Fprintf(&b, "Machine speed, median of one argon2id password verify (clishd's parameters) and of one mutual TLS 1.3 Ed25519 handshake (both ends in the bench): %s at the start, %s at the end. "+
			"This VM's speed moves ±30 %% from hour to hour; read the trust and idle rows against these.\n\n", r.Machine["speed_start"], orDash(r.Machine["speed_end"]))
	}
	fmt.Fprintf(&b, "At the start: CPU %s busy over 1 s (load average %s), %s network namespaces of other users present (other work on the machine competes for the same cores).\n\n",
		r.Machine["busy_at_start"], r.Machine["loadavg_at_start"], r.Machine["other_netns_at_start"])
	fmt.Fprintf(&b, "Timings are median (min–max) of n runs; comparisons ran interleaved with ours in the same invocation. "+
		"Ratio is ours / comparison. Raw samples are in results.json.\n\n")
	fmt.Fprintf(&b, "| item | ours | comparison | ratio | target | verdict |\n|---|---|---|---|---|---|\n")
	for _, it := range r.Items {
		if it.Verdict == "not measured" {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(it.Name), cell(it.Ours), cell(it.Comparison),
			cell(it.Ratio), cell(it.Target), cell(it.Verdict))
	}
	var findings, skipped []string
	for _, it := range r.Items {
		if it.Finding != "" {
			findings = append(findings, fmt.Sprintf("- **%s** (%s): %s", it.Name, it.Verdict, it.Finding))
		}
		if it.Verdict == "not measured" {
			skipped = append(skipped, fmt.Sprintf("- %s — not measured: %s", it.Name, it.Why))
		}
	}
	if len(findings) > 0 {
		fmt.Fprintf(&b, "\n## Findings (where the time goes)\n\n%s\n", strings.Join(findings, "\n"))
	}
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "\n## Not measured\n\n%s\n", strings.Join(skipped, "\n"))
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(&b, "\n## Method notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func nowDate() string { return time.Now().UTC().Format("2006-01-02 15:04 UTC") }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
