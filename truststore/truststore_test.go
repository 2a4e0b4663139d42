package truststore

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/orchd/orchd/identity"
)

func newKey(t testing.TB) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func id(s string) identity.ID {
	i, err := identity.ParseID(s)
	if err != nil {
		panic(err)
	}
	return i
}

func openTemp(t *testing.T) (*Store, string, string) {
	t.Helper()
	dir := t.TempDir()
	pins := filepath.Join(dir, "var", "lib", "clishd", "trust.json")
	blocked := filepath.Join(dir, "etc", "clishd", "blocked_fingerprints")
	s, err := Open(pins, blocked)
	if err != nil {
		t.Fatal(err)
	}
	return s, pins, blocked
}

func TestPinRevokePersist(t *testing.T) {
	s, pinsPath, blockedPath := openTemp(t)
	changes := 0
	s.OnChange(func() { changes++ })
	k12, k21, k13 := newKey(t), newKey(t), newKey(t)
	for _, tc := range []struct {
		id  string
		key ed25519.PublicKey
	}{{"2_1", k21}, {"1_2", k12}, {"1_3", k13}, {"1_2", k12}} {
		if err := s.SetPin(id(tc.id), tc.key, "admin via test"); err != nil {
			t.Fatalf("SetPin(%s): %v", tc.id, err)
		}
	}
	if changes != 3 {
		t.Errorf("hooks ran %d times, want 3 (re-pinning the same key changes nothing)", changes)
	}
	var got []string
	for _, p := range s.Pins() {
		got = append(got, p.ID.String())
	}
	if want := []string{"1_2", "1_3", "2_1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Pins() = %v, want %v", got, want)
	}
	fi, err := os.Stat(pinsPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("trust.json mode: %v %v, want 0600", fi, err)
	}

	removed, err := s.Revoke(id("1_3"), id("2_2"), id("2_1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []identity.ID{id("1_3"), id("2_1")}; !reflect.DeepEqual(removed, want) {
		t.Errorf("Revoke removed %v, want %v", removed, want)
	}
	if removed, err := s.Revoke(id("2_2")); err != nil || removed != nil {
		t.Errorf("revoking an unpinned ID: %v, %v; want nothing", removed, err)
	}

	// What a restart (or kill -9 after the call returned) sees.
	s2, err := Open(pinsPath, blockedPath)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := s2.Pin(id("1_2"))
	if !ok || !p.PublicKey.Equal(k12) || p.Fingerprint != identity.Fingerprint(k12) || p.AddedBy != "admin via test" || p.AddedAt.IsZero() {
		t.Errorf("reloaded pin 1_2 = %+v, %v", p, ok)
	}
	for _, gone := range []string{"1_3", "2_1"} {
		if _, ok := s2.Pin(id(gone)); ok {
			t.Errorf("revoked %s is pinned after reopen", gone)
		}
	}
}

func TestBlockUnblock(t *testing.T) {
	s, pinsPath, blockedPath := openTemp(t)
	k := newKey(t)
	fp := identity.Fingerprint(k)
	if err := s.SetPin(id("1_2"), k, "t"); err != nil {
		t.Fatal(err)
	}
	if err := s.Block(fp); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Pin(id("1_2")); ok {
		t.Error("blocking a pinned fingerprint left the pin")
	}
	if !s.Blocked(fp) || !reflect.DeepEqual(s.BlockedList(), []string{fp}) {
		t.Errorf("Blocked=%v list=%v", s.Blocked(fp), s.BlockedList())
	}
	err := s.SetPin(id("1_2"), k, "t")
	want := "fingerprint " + fp + " is blocked (delete maestro authentication block fingerprint " + fp + " to unblock)"
	if err == nil || err.Error() != want {
		t.Errorf("SetPin of a blocked key: %v, want %q", err, want)
	}
	s2, err := Open(pinsPath, blockedPath)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Blocked(fp) {
		t.Error("block did not survive reopen")
	}
	if err := s2.Unblock(fp); err != nil {
		t.Fatal(err)
	}
	if _, ok := s2.Pin(id("1_2")); ok {
		t.Error("unblocking re-trusted the key")
	}
	if err := s2.Unblock(fp); err == nil || !strings.Contains(err.Error(), fp+" is not blocked") {
		t.Errorf("unblocking twice: %v", err)
	}
	if err := s2.Block("SHA256:short"); err == nil || !strings.Contains(err.Error(), `"SHA256:short"`) {
		t.Errorf("blocking a malformed fingerprint: %v", err)
	}
	s3, _ := Open(pinsPath, blockedPath)
	if s3.Blocked(fp) || len(s3.BlockedList()) != 0 {
		t.Error("unblock did not survive reopen")
	}
}

// TestCrashSafety checks what a restart finds after an interrupted write: a
// stray temporary file is ignored, and a pin left behind by a crash between
// Block's two writes is dropped at load.
func TestCrashSafety(t *testing.T) {
	s, pinsPath, blockedPath := openTemp(t)
	k1, k2 := newKey(t), newKey(t)
	if err := s.SetPin(id("1_2"), k1, "t"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPin(id("1_3"), k2, "t"); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(filepath.Dir(pinsPath), ".trust.json.tmp-12345")
	if err := os.WriteFile(stray, []byte(`{"schema":1,"pins":[{"id":"1_`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Block on disk, pin not yet removed: the state after a crash between
	// the two writes.
	os.MkdirAll(filepath.Dir(blockedPath), 0o755)
	if err := os.WriteFile(blockedPath, []byte("# mine\n"+identity.Fingerprint(k2)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(pinsPath, blockedPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s2.Pin(id("1_2")); !ok {
		t.Error("pin lost")
	}
	if _, ok := s2.Pin(id("1_3")); ok {
		t.Error("pin of a blocked key survived load")
	}
	s3, _ := Open(pinsPath, blockedPath)
	if _, ok := s3.Pin(id("1_3")); ok {
		t.Error("load did not write the dropped pin through")
	}
}

func TestOpenErrors(t *testing.T) {
	k := newKey(t)
	fp := identity.Fingerprint(k)
	for _, tc := range []struct {
		name, pins, blocked, want string
	}{
		{"garbage pins", "{", "", "trust.json: decoding JSON"},
		{"empty pins", "", "", "trust.json: decoding JSON"},
		{"bad block line", "", "# h\n" + fp + "\nSHA256:nope\n", `blocked_fingerprints: line 3: invalid fingerprint "SHA256:nope"`},
		{"two tokens", "", fp + " " + fp + "\n", "line 1: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pp, bp := filepath.Join(dir, "trust.json"), filepath.Join(dir, "blocked_fingerprints")
			if tc.pins != "" || tc.name == "empty pins" {
				os.WriteFile(pp, []byte(tc.pins), 0o600)
			}
			if tc.blocked != "" {
				os.WriteFile(bp, []byte(tc.blocked), 0o644)
			}
			_, err := Open(pp, bp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want containing %q", err, tc.want)
			}
		})
	}
}

func TestSetPinsBatch(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(filepath.Join(dir, "trust.json"), filepath.Join(dir, "blocked"))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	st.OnChange(func() { calls++ })
	k1, _, _ := ed25519.GenerateKey(nil)
	k2, _, _ := ed25519.GenerateKey(nil)
	k3, _, _ := ed25519.GenerateKey(nil)
	if err := st.Block(identity.Fingerprint(k3)); err != nil {
		t.Fatal(err)
	}
	calls = 0
	a, b, c := identity.ID{Site: 1, Member: 2}, identity.ID{Site: 2, Member: 1}, identity.ID{Site: 2, Member: 2}
	refused, err := st.SetPins([]NewPin{{a, k1}, {b, k2}, {c, k3}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) != 1 || refused[c] == nil || calls != 1 {
		t.Fatalf("refused %v, %d notifications; want only %s refused and one notification", refused, calls, c)
	}
	re, err := Open(filepath.Join(dir, "trust.json"), filepath.Join(dir, "blocked"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := re.Pin(a); !ok {
		t.Fatal("batch pin not durable")
	}
	if _, ok := re.Pin(c); ok {
		t.Fatal("blocked key pinned")
	}
	// Re-pinning the same keys renews them (a trust command re-affirms
	// them after any earlier revocation record): one write, one
	// notification.
	before, _ := st.Pin(a)
	if _, err := st.SetPins([]NewPin{{a, k1}, {b, k2}}, "again"); err != nil || calls != 2 {
		t.Fatalf("re-pinning the same keys: %v, %d notifications", err, calls)
	}
	if after, _ := st.Pin(a); !after.AddedAt.After(before.AddedAt) || after.AddedBy != "again" {
		t.Fatalf("re-pinned: added_at %v (before %v), by %q", after.AddedAt, before.AddedAt, after.AddedBy)
	}
}
