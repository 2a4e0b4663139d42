package truststore

import (
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
)

// TestRecordRules: a revocation removes a pin only if it is the revoked key
// and older than the record; a changed key replaces a pin only when the
// caller allows it, decided under the lock.
func TestRecordRules(t *testing.T) {
	s, _, _ := openTemp(t)
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return clock }
	k1, k2 := newKey(t), newKey(t)
	if err := s.SetPin(id("1_2"), k1, "test"); err != nil {
		t.Fatal(err)
	}
	fp1 := identity.Fingerprint(k1)
	// A record issued before the pin (an old one) does not undo it.
	if ok, err := s.RevokeKey(id("1_2"), fp1, clock.Add(-time.Nanosecond)); ok || err != nil {
		t.Fatalf("old record removed the pin: %v %v", ok, err)
	}
	// Another key's record does not either.
	if ok, _ := s.RevokeKey(id("1_2"), identity.Fingerprint(k2), clock.Add(time.Second)); ok {
		t.Fatal("record of another key removed the pin")
	}
	// A changed key is refused unless allowed.
	refused, err := s.SetPinsIf([]NewPin{{ID: id("1_2"), Key: k2}}, "test", func(identity.ID) bool { return false })
	if err != nil || refused[id("1_2")] == nil {
		t.Fatalf("changed key accepted: %v %v", refused, err)
	}
	if p, _ := s.Pin(id("1_2")); !p.PublicKey.Equal(k1) {
		t.Fatal("pin changed")
	}
	// Sub-second precision: a record a moment after the pin removes it.
	if ok, err := s.RevokeKey(id("1_2"), fp1, clock.Add(time.Millisecond)); !ok || err != nil {
		t.Fatalf("record after the pin: %v %v", ok, err)
	}
	clock = clock.Add(time.Minute)
	s.SetPin(id("1_3"), k1, "test")
	s.SetPin(id("2_1"), k2, "test")
	clock = clock.Add(time.Minute)
	s.SetPin(id("2_2"), newKey(t), "test")
	dropped, err := s.DropPinsBefore(clock.Add(-time.Second))
	if err != nil || len(dropped) != 2 || dropped[0] != id("1_3") || dropped[1] != id("2_1") {
		t.Fatalf("DropPinsBefore = %v %v", dropped, err)
	}
	if _, ok := s.Pin(id("2_2")); !ok {
		t.Fatal("newer pin dropped")
	}
}
