package membership

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
)

func id(s string) identity.ID {
	i, err := identity.ParseID(s)
	if err != nil {
		panic(err)
	}
	return i
}

func TestAddRemoveSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "members.json")
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	topo := []identity.ID{id("1_1"), id("1_2")}
	s, err := Open(path, id("1_1"), topo, t0)
	if err != nil {
		t.Fatal(err)
	}
	added, err := s.Add([]identity.ID{id("1_2"), id("1_3")}, "trust", t0.Add(time.Minute))
	if err != nil || len(added) != 1 || added[0] != id("1_3") {
		t.Fatalf("add: %v %v", added, err)
	}
	// A notice issued before 1_3 joined does not remove it.
	if ok, err := s.Remove(id("1_3"), "old", t0.Add(time.Second)); ok || err != nil {
		t.Fatalf("old removal applied: %v %v", ok, err)
	}
	if ok, err := s.Remove(id("1_2"), "admin", t0.Add(2*time.Minute)); !ok || err != nil {
		t.Fatalf("remove: %v %v", ok, err)
	}
	if _, err := s.Remove(id("1_1"), "admin", t0.Add(time.Hour)); err == nil {
		t.Fatal("removed itself")
	}
	// The topology still lists 1_2: the tombstone keeps it out.
	s2, err := Open(path, id("1_1"), topo, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Peers(); len(got) != 1 || got[0] != id("1_3") {
		t.Fatalf("peers after reopen: %v", got)
	}
	if r := s2.Removed(); len(r) != 1 || r[0].ID != id("1_2") {
		t.Fatalf("removed: %+v", r)
	}
	// Trust adds it back.
	if added, _ := s2.Add([]identity.ID{id("1_2")}, "trust", t0.Add(2*time.Hour)); len(added) != 1 || len(s2.Removed()) != 0 {
		t.Fatalf("re-add: %v %+v", added, s2.Removed())
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	os.WriteFile(path, []byte(`{"schema":1,"members":[{"id":"1_2"},{"id":"1_2"}]}`), 0o600)
	if _, err := Open(path, id("1_1"), topo, t0); err == nil {
		t.Fatal("duplicate member accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"schema":1,"members":[{"id":"1_1","since":"2026-12-01T10:00:00Z","by":"topology"}],"removed":[{"id":"1_2","at":"2026-12-01T10:00:00Z","by":"x"}]}`))
	f.Add([]byte(`{"schema":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, rs, err := Decode(b)
		if err != nil {
			return
		}
		for id := range rs {
			if _, both := ms[id]; both {
				t.Fatalf("%s both member and removed", id)
			}
		}
	})
}
