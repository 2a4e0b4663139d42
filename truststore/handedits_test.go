package truststore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orchd/orchd/atomicfile"
	"github.com/orchd/orchd/identity"
)

// Hand edits made while the daemon runs survive its next write: added and
// removed lines and comments are kept, and a hand-blocked key loses its pin.
func TestHandEditsMergedOnWrite(t *testing.T) {
	s, _, blockedPath := openTemp(t)
	kA, kB, kC, kP := newKey(t), newKey(t), newKey(t), newKey(t)
	fpA, fpB, fpC, fpP := identity.Fingerprint(kA), identity.Fingerprint(kB), identity.Fingerprint(kC), identity.Fingerprint(kP)
	if err := s.SetPin(id("1_2"), kP, "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.Block(fpA); err != nil {
		t.Fatal(err)
	}
	changes := 0
	s.OnChange(func() { changes++ })

	// The admin removes A and adds B and P by hand, with comments.
	hand := "# my list\n\n# lab box, retired\n" + fpB + " # by hand\n" + fpP + "\n"
	if err := os.WriteFile(blockedPath, []byte(hand), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Block(fpC); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(blockedPath)
	got := string(b)
	for _, want := range []string{"# my list\n", "# lab box, retired\n" + fpB + " # by hand\n", fpP + "\n", fpC + " # blocked "} {
		if !strings.Contains(got, want) {
			t.Errorf("file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, fpA) {
		t.Errorf("the hand-removed %s came back:\n%s", fpA, got)
	}
	if want := sorted(fpB, fpC, fpP); !equal(s.BlockedList(), want) {
		t.Errorf("blocked %v, want %v", s.BlockedList(), want)
	}
	if _, ok := s.Pin(id("1_2")); ok {
		t.Error("the pin of a hand-blocked key survived")
	}
	if changes == 0 {
		t.Error("no change notification")
	}

	// Unblock merges too.
	if err := os.WriteFile(blockedPath, append(b, []byte(fpA+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Unblock(fpB); err != nil {
		t.Fatal(err)
	}
	if want := sorted(fpA, fpC, fpP); !equal(s.BlockedList(), want) {
		t.Errorf("after unblock: %v, want %v", s.BlockedList(), want)
	}
}

// A hand edit that no longer parses is never overwritten: the change is
// refused naming the line, and nothing changes.
func TestMalformedHandEditRefusesTheWrite(t *testing.T) {
	s, _, blockedPath := openTemp(t)
	kA := newKey(t)
	bad := "# mine\nnot-a-fingerprint\n"
	os.MkdirAll(filepath.Dir(blockedPath), 0o755)
	if err := os.WriteFile(blockedPath, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.Block(identity.Fingerprint(kA))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("Block over a malformed file: %v", err)
	}
	if b, _ := os.ReadFile(blockedPath); string(b) != bad {
		t.Errorf("the malformed file was rewritten:\n%s", b)
	}
	if s.Blocked(identity.Fingerprint(kA)) {
		t.Error("blocked in memory though refused")
	}
}

func TestReloadReadsHandEdits(t *testing.T) {
	s, _, blockedPath := openTemp(t)
	k := newKey(t)
	if err := s.SetPin(id("2_1"), k, "test"); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(blockedPath), 0o755)
	if err := os.WriteFile(blockedPath, []byte(identity.Fingerprint(k)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if !s.Blocked(identity.Fingerprint(k)) {
		t.Error("Reload did not read the hand-added block")
	}
	if _, ok := s.Pin(id("2_1")); ok {
		t.Error("Reload kept the pin of a hand-blocked key")
	}
	if err := os.WriteFile(blockedPath, []byte("junk\n"), 0o644); err == nil {
		if err := s.Reload(); err == nil {
			t.Error("Reload accepted a malformed file")
		}
	}
	if !s.Blocked(identity.Fingerprint(k)) {
		t.Error("a failed Reload changed the block list")
	}
}

// When the write fails after its rename, the disk holds the change: memory
// must hold it too, not roll back.
func TestMemoryFollowsDiskAfterRename(t *testing.T) {
	s, pinsPath, blockedPath := openTemp(t)
	k1, k2 := newKey(t), newKey(t)
	boom := errors.New("EIO on directory fsync")
	step := func(name string, f func() error) {
		t.Helper()
		restore := atomicfile.FailDirSyncForTest(boom)
		err := f()
		restore()
		if !errors.Is(err, boom) {
			t.Fatalf("%s: err %v, want the fsync error reported", name, err)
		}
	}
	step("SetPin", func() error { return s.SetPin(id("1_2"), k1, "test") })
	if _, ok := s.Pin(id("1_2")); !ok {
		t.Error("SetPin: pin on disk but not in memory")
	}
	step("SetPins", func() error { _, err := s.SetPins([]NewPin{{ID: id("2_1"), Key: k2}}, "test"); return err })
	if _, ok := s.Pin(id("2_1")); !ok {
		t.Error("SetPins: pin on disk but not in memory")
	}
	step("Revoke", func() error { _, err := s.Revoke(id("2_1")); return err })
	if _, ok := s.Pin(id("2_1")); ok {
		t.Error("Revoke: pin gone from disk but kept in memory")
	}
	fp := identity.Fingerprint(k2)
	step("Block", func() error { return s.Block(fp) })
	if !s.Blocked(fp) {
		t.Error("Block: blocked on disk but not in memory")
	}
	step("Unblock", func() error { return s.Unblock(fp) })
	if s.Blocked(fp) {
		t.Error("Unblock: unblocked on disk but not in memory")
	}
	// And the disk agrees with memory after a fresh load.
	s2, err := Open(pinsPath, blockedPath)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(pinIDs(s2), pinIDs(s)) || !equal(s2.BlockedList(), s.BlockedList()) {
		t.Errorf("disk %v %v, memory %v %v", pinIDs(s2), s2.BlockedList(), pinIDs(s), s.BlockedList())
	}
}

func pinIDs(s *Store) []string {
	var out []string
	for _, p := range s.Pins() {
		out = append(out, p.ID.String())
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
