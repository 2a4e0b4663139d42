package records

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
)

var (
	id11 = identity.ID{Site: 1, Member: 1}
	id12 = identity.ID{Site: 1, Member: 2}
)

func key(t testing.TB, seed byte) ed25519.PrivateKey {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	return ed25519.NewKeyFromSeed(s)
}

func revoke(t testing.TB) (Record, ed25519.PrivateKey) {
	t.Helper()
	k := key(t, 1)
	fp := identity.Fingerprint(key(t, 2).Public().(ed25519.PublicKey))
	r, err := New(KindRevoke, id11, k, id12, fp, time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return r, k
}

func TestSignVerifyRoundTrip(t *testing.T) {
	r, k := revoke(t)
	if err := r.Verify(k.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("verify own record: %v", err)
	}
	if err := r.Verify(key(t, 3).Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("verified against another key")
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	if err := back.Verify(k.Public().(ed25519.PublicKey)); err != nil || back.Key() != r.Key() || !back.IssuedAt.Equal(r.IssuedAt) {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	// Every signed field matters.
	for name, mut := range map[string]func(*Record){
		"kind":      func(r *Record) { r.Kind = KindRemove; r.Fingerprint = "" },
		"issuer":    func(r *Record) { r.Issuer = identity.ID{Site: 2, Member: 1} },
		"subject":   func(r *Record) { r.Subject = identity.ID{Site: 2, Member: 2} },
		"fp":        func(r *Record) { r.Fingerprint = identity.Fingerprint(key(t, 9).Public().(ed25519.PublicKey)) },
		"issued_at": func(r *Record) { r.IssuedAt = r.IssuedAt.Add(time.Nanosecond) },
		"nonce":     func(r *Record) { r.Nonce = append([]byte{1}, r.Nonce[1:]...) },
	} {
		c := back
		c.Nonce = append([]byte(nil), back.Nonce...)
		mut(&c)
		if err := c.Verify(k.Public().(ed25519.PublicKey)); err == nil {
			t.Errorf("changed %s still verifies", name)
		}
	}
}

func TestRejects(t *testing.T) {
	k := key(t, 1)
	now := time.Now()
	for name, f := range map[string]func() error{
		"self": func() error {
			_, err := New(KindRevoke, id11, k, id11, identity.Fingerprint(k.Public().(ed25519.PublicKey)), now)
			return err
		},
		"kind":         func() error { _, err := New("trust", id11, k, id12, "", now); return err },
		"no fp":        func() error { _, err := New(KindRevoke, id11, k, id12, "", now); return err },
		"remove w/ fp": func() error { _, err := New(KindRemove, id11, k, id12, "SHA256:x", now); return err },
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, bad := range []string{
		`{"kind":"revoke","issuer":"1_1","id":"1_2","issued_at":"2026-01-01T00:00:00Z","nonce":"AAAAAAAAAAAAAAAAAAAAAA","signature":"` + strings.Repeat("A", 86) + `"}`,
		`{"kind":"remove","issuer":"1_1","id":"1_1","issued_at":"2026-01-01T00:00:00Z","nonce":"AAAAAAAAAAAAAAAAAAAAAA","signature":"` + strings.Repeat("A", 86) + `"}`,
		`{"kind":"remove","issuer":"1_1","id":"1_2","issued_at":"yesterday","nonce":"AAAAAAAAAAAAAAAAAAAAAA","signature":"` + strings.Repeat("A", 86) + `"}`,
		`{"kind":"remove","issuer":"1_1","id":"1_2","issued_at":"2026-01-01T00:00:00Z","nonce":"AAAA","signature":"` + strings.Repeat("A", 86) + `"}`,
		`{"kind":"remove","issuer":"1_1","id":"1_2","issued_at":"2026-01-01T00:00:00Z","nonce":"AAAAAAAAAAAAAAAAAAAAAA","signature":"AAAA"}`,
	} {
		var r Record
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestStoreWritesThrough(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revocations.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := revoke(t)
	if added, err := s.Add(r); !added || err != nil {
		t.Fatalf("add: %v %v", added, err)
	}
	if added, err := s.Add(r); added || err != nil {
		t.Fatalf("second add: %v %v", added, err)
	}
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if all := s2.All(); len(all) != 1 || all[0].Key() != r.Key() || !s2.Has(r.Key()) {
		t.Fatalf("reopened: %+v", all)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	os.WriteFile(path, []byte(`{"schema":1,"records":[{"kind":"x"}]}`), 0o600)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("damaged file: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	r, _ := revoke(f)
	b, _ := encode([]Record{r})
	f.Add(b)
	f.Add([]byte(`{"schema":1,"records":[]}`))
	f.Add([]byte(`{"schema":1,"records":[{"kind":"remove","issuer":"1_1","id":"1_2","issued_at":"2026-01-01T00:00:00Z","nonce":"AAAAAAAAAAAAAAAAAAAAAA","signature":"` + strings.Repeat("A", 86) + `"}]}`))
	pub := key(f, 1).Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := Decode(b)
		if err != nil {
			return
		}
		for _, r := range recs {
			_ = r.Verify(pub)
			out, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var back Record
			if err := json.Unmarshal(out, &back); err != nil || back.Key() != r.Key() {
				t.Fatalf("re-decoding %s: %v", out, err)
			}
		}
	})
}
