package testbed

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeNeigh points the neighbour-table code at files under a temp dir.
func fakeNeigh(t *testing.T, t1, t2, t3 int) func(k string) int {
	return fakeSysctls(t, map[string]int{"gc_thresh1": t1, "gc_thresh2": t2, "gc_thresh3": t3, "netdev_max_backlog": 1000})
}

func fakeSysctls(t *testing.T, vals map[string]int) func(k string) int {
	t.Helper()
	d := t.TempDir()
	oldSysctl, oldFile := neighSysctl, neighFile
	neighSysctl, neighFile = d+"/sys/", filepath.Join(d, "run", "neigh.json")
	t.Cleanup(func() { neighSysctl, neighFile = oldSysctl, oldFile })
	for k, v := range vals {
		os.MkdirAll(filepath.Dir(neighSysctl+sysctlPath(k)), 0o755)
		os.WriteFile(neighSysctl+sysctlPath(k), []byte(strconv.Itoa(v)+"\n"), 0o644)
	}
	return func(k string) int {
		v, err := readSysctl(k)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// fakeBed makes a directory with a journal, as an Up testbed has.
func fakeBed(t *testing.T) string {
	d := t.TempDir()
	if err := os.WriteFile(JournalFile(d), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNeighRaiseRelease(t *testing.T) {
	get := fakeNeigh(t, 128, 512, 1024)
	small, a, b := fakeBed(t), fakeBed(t), fakeBed(t)

	if changed, err := raiseNeigh(small, 4); err != nil || changed != "" {
		t.Fatalf("4 nodes: changed %q, %v; want nothing", changed, err)
	}
	changed, err := raiseNeigh(a, 64)
	if err != nil || !strings.Contains(changed, "gc_thresh3 1024 → ") {
		t.Fatalf("64 nodes: changed %q, %v", changed, err)
	}
	want := neighNeed(64)
	for k, v := range want {
		if get(k) != v {
			t.Errorf("%s = %d, want %d", k, get(k), v)
		}
	}
	// A second large testbed needs nothing more, but holds them too.
	if changed, err := raiseNeigh(b, 64); err != nil || changed != "" {
		t.Fatalf("second 64: changed %q, %v", changed, err)
	}
	if restored, err := releaseNeigh(a); err != nil || restored != "" || get("gc_thresh3") != want["gc_thresh3"] {
		t.Fatalf("first down restored %q (%v) while the other is up; gc_thresh3 = %d", restored, err, get("gc_thresh3"))
	}
	if restored, err := releaseNeigh(small); err != nil || restored != "" {
		t.Fatalf("a testbed that held nothing restored %q, %v", restored, err)
	}
	restored, err := releaseNeigh(b)
	if err != nil || !strings.Contains(restored, "gc_thresh1") {
		t.Fatalf("last down: restored %q, %v", restored, err)
	}
	for k, v := range map[string]int{"gc_thresh1": 128, "gc_thresh2": 512, "gc_thresh3": 1024, "netdev_max_backlog": 1000} {
		if get(k) != v {
			t.Errorf("after the last down %s = %d, want %d", k, get(k), v)
		}
	}
	if _, err := os.Stat(neighFile); !os.IsNotExist(err) {
		t.Errorf("record left behind: %v", err)
	}
}

// TestNeighCrashedHolder: a holder whose journal vanished does not keep
// the limits raised, and a value someone else changed is left alone.
func TestNeighCrashedHolder(t *testing.T) {
	get := fakeNeigh(t, 128, 512, 1024)
	a, b := fakeBed(t), fakeBed(t)
	if _, err := raiseNeigh(a, 64); err != nil {
		t.Fatal(err)
	}
	if _, err := raiseNeigh(b, 64); err != nil {
		t.Fatal(err)
	}
	os.Remove(JournalFile(a))
	writeSysctl("gc_thresh3", 99999)
	restored, err := releaseNeigh(b)
	if err != nil || !strings.Contains(restored, "gc_thresh3 left at 99999") {
		t.Fatalf("restored %q, %v", restored, err)
	}
	if get("gc_thresh1") != 128 || get("gc_thresh3") != 99999 {
		t.Errorf("gc_thresh1 %d (want 128), gc_thresh3 %d (want 99999)", get("gc_thresh1"), get("gc_thresh3"))
	}
}

// TestBacklogOnly: a host whose neighbour limits already suffice still gets
// the backlog raised for 64 nodes, and nothing for 16.
func TestBacklogOnly(t *testing.T) {
	get := fakeSysctls(t, map[string]int{"gc_thresh1": 100000, "gc_thresh2": 200000, "gc_thresh3": 400000, "netdev_max_backlog": 1000})
	mid, big := fakeBed(t), fakeBed(t)
	if changed, err := raiseNeigh(mid, 16); err != nil || changed != "" {
		t.Fatalf("16 nodes: changed %q, %v; want nothing", changed, err)
	}
	changed, err := raiseNeigh(big, 64)
	if err != nil || changed != "netdev_max_backlog 1000 → 16384" {
		t.Fatalf("64 nodes: changed %q, %v", changed, err)
	}
	if restored, err := releaseNeigh(big); err != nil || restored != "netdev_max_backlog 16384 → 1000" || get("netdev_max_backlog") != 1000 {
		t.Fatalf("restored %q, %v; backlog %d", restored, err, get("netdev_max_backlog"))
	}
}
