package testbed

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/orchd/orchd/atomicfile"
)

// The kernel's IPv4 neighbour (ARP) table limits are shared by every
// network namespace, and a full mesh of N nodes needs about N² entries: 64
// nodes overflow the default gc_thresh3 of 1024 ("neighbor table overflow",
// connects and sends fail with ENOBUFS). Likewise every veth of every
// namespace queues into one per-CPU backlog (net.core.netdev_max_backlog,
// default 1000): 64 nodes each sending their 63 liveness datagrams in one
// tick overflow it, and the dropped datagrams look like dead peers (on real
// appliances each node has its own kernel). Up raises them when its
// topology needs it and Down restores them. Several testbeds may be up at once, so
// the values before the first raise and the testbeds that need them are
// recorded in one file (neighRecord) under a lock; the last one down
// restores the old values, unless someone else changed them meanwhile.
var (
	neighSysctl = "/proc/sys/"
	neighFile   = "/run/orchd-testbed/neigh.json"
)

// neighKeys in the order they are restored (the kernel keeps gc_thresh1 <=
// 2 <= 3, so raising goes the other way).
var neighKeys = []string{"gc_thresh1", "gc_thresh2", "gc_thresh3", "netdev_max_backlog"}

// sysctlPath is where under /proc/sys a key lives.
func sysctlPath(k string) string {
	if k == "netdev_max_backlog" {
		return "net/core/" + k
	}
	return "net/ipv4/neigh/default/" + k
}

// sysctlName is the key as sysctl(8) names it.
func sysctlName(k string) string { return strings.ReplaceAll(sysctlPath(k), "/", ".") }

type neighRecord struct {
	// Old are the values before the first raise, Set what we wrote.
	Old map[string]int `json:"old"`
	Set map[string]int `json:"set"`
	// Holders are the directories (journals) of the testbeds that need
	// the raised values.
	Holders []string `json:"holders"`
}

// neighEntries is about how many entries a topology of n nodes makes:
// every node resolves every other over a sync link, the host every node,
// plus room for whatever else the host does.
func neighEntries(n int) int { return n*(n+1) + 64 }

// neighNeed is the thresholds a topology of n nodes wants, all its entries
// below the level where the kernel starts collecting live ones.
func neighNeed(n int) map[string]int {
	e := neighEntries(n)
	return map[string]int{"gc_thresh1": e, "gc_thresh2": 2 * e, "gc_thresh3": 4 * e, "netdev_max_backlog": backlogNeed(n)}
}

// backlogNeed is the per-CPU backlog a topology of n nodes wants: room for
// every node's liveness burst at once, four times over (TCP shares it).
// Up to 16 nodes the default serves (measured: no drops).
func backlogNeed(n int) int {
	if n <= 16 {
		return 0
	}
	return 4 * n * n
}

// raiseNeigh lifts the limits for a testbed of n nodes in dir, if they are
// lower than it needs; it reports what it changed ("" when nothing).
func raiseNeigh(dir string, n int) (string, error) {
	want := neighNeed(n)
	// Below the soft limit the defaults serve (16 nodes fit); above it
	// the kernel collects entries in use, and past gc_thresh3 it fails.
	soft, err := readSysctl("gc_thresh2")
	if err != nil {
		return "", err
	}
	backlog, err := readSysctl("netdev_max_backlog")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(neighFile); neighEntries(n) <= soft && backlogNeed(n) <= backlog && errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	unlock, err := lockNeigh()
	if err != nil {
		return "", err
	}
	defer unlock()
	rec, err := readNeigh()
	if err != nil {
		return "", err
	}
	// Raised by another testbed: we need them too if the values from
	// before that were too low for us.
	if old, ok := rec.Old["gc_thresh2"]; ok {
		soft = old
	}
	if old, ok := rec.Old["netdev_max_backlog"]; ok {
		backlog = old
	}
	if neighEntries(n) <= soft && backlogNeed(n) <= backlog {
		return "", nil
	}
	var changed []string
	// Raise the hard limit first: the kernel keeps thresh1 <= 2 <= 3.
	for _, k := range []string{"netdev_max_backlog", "gc_thresh3", "gc_thresh2", "gc_thresh1"} {
		cur, err := readSysctl(k)
		if err != nil {
			return "", err
		}
		if cur >= want[k] {
			continue
		}
		if _, ok := rec.Old[k]; !ok {
			rec.Old[k] = cur
		}
		if err := writeSysctl(k, want[k]); err != nil {
			return "", err
		}
		rec.Set[k] = want[k]
		changed = append(changed, fmt.Sprintf("%s %d → %d", k, cur, want[k]))
	}
	if !slices.Contains(rec.Holders, dir) {
		rec.Holders = append(rec.Holders, dir)
	}
	if err := writeNeigh(rec); err != nil {
		return "", err
	}
	return strings.Join(changed, ", "), nil
}

// releaseNeigh drops dir's claim; the last testbed restores the old
// values. It reports what it restored ("" when nothing).
func releaseNeigh(dir string) (string, error) {
	if _, err := os.Stat(neighFile); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	unlock, err := lockNeigh()
	if err != nil {
		return "", err
	}
	defer unlock()
	rec, err := readNeigh()
	if err != nil {
		return "", err
	}
	var keep []string
	for _, h := range rec.Holders {
		// A holder whose journal is gone went down without us (a crash
		// and a manual cleanup): it needs nothing any more.
		if h == dir {
			continue
		}
		if _, err := os.Stat(JournalFile(h)); err == nil {
			keep = append(keep, h)
		}
	}
	rec.Holders = keep
	if len(keep) > 0 {
		return "", writeNeigh(rec)
	}
	var restored []string
	for _, k := range neighKeys { // lowest first on the way down
		old, ok := rec.Old[k]
		if !ok {
			continue
		}
		cur, err := readSysctl(k)
		if err != nil {
			return "", err
		}
		if cur != rec.Set[k] {
			restored = append(restored, fmt.Sprintf("%s left at %d (changed by someone else)", k, cur))
			continue
		}
		if err := writeSysctl(k, old); err != nil {
			return "", err
		}
		restored = append(restored, fmt.Sprintf("%s %d → %d", k, cur, old))
	}
	if err := os.Remove(neighFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	return strings.Join(restored, ", "), nil
}

func readSysctl(k string) (int, error) {
	b, err := os.ReadFile(neighSysctl + sysctlPath(k))
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", sysctlName(k), err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", sysctlName(k), err)
	}
	return v, nil
}

func writeSysctl(k string, v int) error {
	if err := os.WriteFile(neighSysctl+sysctlPath(k), []byte(strconv.Itoa(v)), 0o644); err != nil {
		return fmt.Errorf("setting %s to %d: %w", sysctlName(k), v, err)
	}
	return nil
}

func lockNeigh() (func(), error) {
	if err := os.MkdirAll(filepath.Dir(neighFile), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(neighFile+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

func readNeigh() (*neighRecord, error) {
	rec := &neighRecord{Old: map[string]int{}, Set: map[string]int{}}
	b, err := os.ReadFile(neighFile)
	if errors.Is(err, os.ErrNotExist) {
		return rec, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("%s: %w", neighFile, err)
	}
	if rec.Old == nil {
		rec.Old = map[string]int{}
	}
	if rec.Set == nil {
		rec.Set = map[string]int{}
	}
	return rec, nil
}

func writeNeigh(rec *neighRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(neighFile, append(b, '\n'), 0o644)
}
