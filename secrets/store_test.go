package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cheap keeps tests fast; the format is the same.
var cheap = KDFParams{Time: 1, Memory: 64, Threads: 1}

var (
	pass1 = []byte("correct horse battery")
	pass2 = []byte("second passphrase!")
)

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secrets.store")
	s, err := Open(path, WithKDF(cheap))
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func reopen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, WithKDF(cheap))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLifecycle(t *testing.T) {
	s, path := newStore(t)
	if s.Initialized() || !s.Sealed() {
		t.Fatal("a new store must be uninitialized and sealed")
	}
	if err := s.Put("aaa/totp/alice", "user:alice", []byte("x")); !errors.Is(err, ErrSealed) || !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("put before init: %v", err)
	}
	if err := s.Init([]byte("short")); !errors.Is(err, ErrShortPassphrase) {
		t.Fatalf("short passphrase: %v", err)
	}
	if err := s.Init(pass1); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(pass1); !errors.Is(err, ErrInitialized) {
		t.Fatalf("init twice: %v", err)
	}
	if s.Sealed() {
		t.Fatal("init leaves the store unsealed")
	}
	if err := s.Unseal(pass1); !errors.Is(err, ErrUnsealed) {
		t.Fatalf("unseal when unsealed: %v", err)
	}
	for name, v := range map[string]string{"aaa/provider/rad1": "radius-secret", "aaa/totp/alice": "JBSWY3DPEHPK3PXP", "management/token/ci": ""} {
		if err := s.Put(name, "test", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put("aaa/provider/rad1", "provider:rad1", []byte("new-secret")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("aaa/totp/alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("aaa/totp/alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file mode: %v %v", fi.Mode(), err)
	}

	s2 := reopen(t, path)
	if !s2.Initialized() || !s2.Sealed() {
		t.Fatal("a reopened store must be initialized and sealed")
	}
	names := s2.Names()
	if len(names) != 2 || names[0].Name != "aaa/provider/rad1" || names[0].Owner != "provider:rad1" || names[1].Name != "management/token/ci" {
		t.Fatalf("names while sealed: %+v", names)
	}
	if _, err := s2.Get("aaa/provider/rad1"); err == nil || err.Error() != "the secret store is sealed: run security unseal" {
		t.Fatalf("get while sealed: %v", err)
	}
	if err := s2.Unseal(pass2); !errors.Is(err, ErrWrongPassphrase) || !s2.Sealed() {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if err := s2.Unseal(pass1); err != nil {
		t.Fatal(err)
	}
	if v, err := s2.Get("aaa/provider/rad1"); err != nil || string(v) != "new-secret" {
		t.Fatalf("get: %q %v", v, err)
	}
	if v, err := s2.Get("management/token/ci"); err != nil || len(v) != 0 {
		t.Fatalf("get empty: %q %v", v, err)
	}
	if _, err := s2.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	s2.Seal()
	if _, err := s2.Get("aaa/provider/rad1"); !errors.Is(err, ErrSealed) {
		t.Fatalf("after seal: %v", err)
	}
	if err := s2.Put("bad\nname", "o", nil); err == nil || !strings.Contains(err.Error(), `"bad\nname"`) {
		t.Fatalf("bad name: %v", err)
	}
	// Spaces and percent signs survive the line format.
	if err := s2.Unseal(pass1); err != nil {
		t.Fatal(err)
	}
	if err := s2.Put("management/token/a b%20", "management token a b%", []byte("v")); err != nil {
		t.Fatal(err)
	}
	names = reopen(t, path).Names()
	if len(names) != 3 || names[1].Name != "management/token/a b%20" || names[1].Owner != "management token a b%" {
		t.Fatalf("escaped names: %+v", names)
	}
}

func TestChangePassphraseRewrapsOnlyTheKey(t *testing.T) {
	s, path := newStore(t)
	if err := s.Init(pass1); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("aaa/mail-server", "mail", []byte("smtp-pw")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := s.ChangePassphrase(pass2, pass1); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong old: %v", err)
	}
	if err := s.ChangePassphrase(pass1, []byte("2short")); !errors.Is(err, ErrShortPassphrase) {
		t.Fatalf("short new: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a refused changepwd changed the file")
	}
	s.Seal()
	if err := s.ChangePassphrase(pass1, pass2); err != nil {
		t.Fatal(err)
	}
	if !s.Sealed() {
		t.Fatal("changepwd unsealed a sealed store")
	}
	after, _ := os.ReadFile(path)
	if secretLines(before) != secretLines(after) || secretLines(after) == "" {
		t.Fatal("changepwd re-encrypted the secrets")
	}
	s2 := reopen(t, path)
	if err := s2.Unseal(pass1); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after change: %v", err)
	}
	if err := s2.Unseal(pass2); err != nil {
		t.Fatal(err)
	}
	if v, err := s2.Get("aaa/mail-server"); err != nil || string(v) != "smtp-pw" {
		t.Fatalf("%q %v", v, err)
	}
}

func secretLines(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "secret ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestTamperAnyByte flips each byte of a store file: each must be refused,
// at Open (damaged) or at Unseal, and never yield a value.
func TestTamperAnyByte(t *testing.T) {
	s, path := newStore(t)
	if err := s.Init(pass1); err != nil {
		t.Fatal(err)
	}
	s.Put("aaa/provider/a", "p", []byte("value-a"))
	s.Put("aaa/provider/b", "p", []byte("value-b"))
	good, _ := os.ReadFile(path)
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x01
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		s := reopen(t, path)
		if s.Problem() == nil {
			t.Fatalf("byte %d flipped: Open did not notice", i)
		}
		if err := s.Unseal(pass1); err == nil {
			t.Fatalf("byte %d flipped: unsealed", i)
		}
	}
	// Truncations.
	for _, n := range []int{0, 1, len(good) / 2, len(good) - 1} {
		os.WriteFile(path, good[:n], 0o600)
		if s := reopen(t, path); s.Problem() == nil || s.Unseal(pass1) == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
}

// fixSum recomputes the checksum line: a crafted edit, not an accident.
func fixSum(b []byte) []byte {
	i := bytes.LastIndex(b, []byte("sum "))
	sum := sha256.Sum256(b[:i])
	return append(b[:i:i], []byte("sum "+hex.EncodeToString(sum[:])+"\n")...)
}

func TestCraftedEdits(t *testing.T) {
	s, path := newStore(t)
	if err := s.Init(pass1); err != nil {
		t.Fatal(err)
	}
	s.Put("aaa/provider/a", "p", []byte("value-a"))
	s.Put("aaa/provider/b", "p", []byte("value-b"))
	good, _ := os.ReadFile(path)
	lines := strings.Split(string(good), "\n")
	// lines: magic, kdf, key, secret a, secret b, mac, sum, ""
	swap := func(ls []string) {
		fa, fb := strings.Fields(ls[3]), strings.Fields(ls[4])
		fa[5], fb[5] = fb[5], fa[5]
		ls[3], ls[4] = strings.Join(fa, " "), strings.Join(fb, " ")
	}
	cases := map[string]struct {
		edit func(ls []string)
		want error
	}{
		"swap ciphertexts": {swap, ErrAltered},
		"drop a secret":    {func(ls []string) { copy(ls[4:], ls[5:]); ls[len(ls)-1] = "" }, ErrAltered},
		"rename a secret":  {func(ls []string) { ls[3] = strings.Replace(ls[3], "provider/a", "provider/c", 1) }, ErrAltered},
		"weaker kdf":       {func(ls []string) { ls[1] = strings.Replace(ls[1], "t=1", "t=2", 1) }, ErrWrongPassphrase},
		"change owner":     {func(ls []string) { ls[3] = strings.Replace(ls[3], " p ", " q ", 1) }, ErrAltered},
		"add an auto-unseal slot": {func(ls []string) {
			ls[2] = ls[2] + "\nauto " + strings.Fields(ls[2])[2]
		}, ErrAltered},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ls := slicesClone(lines)
			c.edit(ls)
			data := []byte(strings.Join(ls, "\n"))
			data = bytes.TrimRight(data, "\n")
			data = append(data, '\n')
			if err := os.WriteFile(path, fixSum(data), 0o600); err != nil {
				t.Fatal(err)
			}
			s := reopen(t, path)
			if err := s.Problem(); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if err := s.Unseal(pass1); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func nowZero() time.Time { return time.Time{} }

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func TestHeaderFailures(t *testing.T) {
	s, path := newStore(t)
	if err := s.Init(pass1); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	lines := strings.Split(string(good), "\n")
	cases := map[string]struct {
		edit func(ls []string)
		want string
	}{
		"memory over the cap": {func(ls []string) { ls[1] = strings.Replace(ls[1], "m=64", "m=4194304", 1) }, "kdf m=4194304: expected 8 to 1048576 KiB"},
		"time over the cap":   {func(ls []string) { ls[1] = strings.Replace(ls[1], "t=1", "t=1000", 1) }, "kdf t=1000: expected 1 to 16"},
		"zero threads":        {func(ls []string) { ls[1] = strings.Replace(ls[1], "p=1", "p=0", 1) }, "kdf p=0"},
		"short salt":          {func(ls []string) { ls[1] = ls[1][:strings.Index(ls[1], "salt=")] + "salt=AAAA" }, "malformed salt"},
		"other kdf":           {func(ls []string) { ls[1] = strings.Replace(ls[1], "argon2id", "scrypt", 1) }, "expected \"kdf argon2id"},
		"version 2":           {func(ls []string) { ls[0] = "orchd-secrets v2" }, "expected \"orchd-secrets v1\""},
		"term 0":              {func(ls []string) { ls[2] = strings.Replace(ls[2], "term=1", "term=0", 1) }, "term"},
		"short wrapped key":   {func(ls []string) { ls[2] = "key term=1 AAAA" }, "wrong length"},
		"leading zero":        {func(ls []string) { ls[1] = strings.Replace(ls[1], "t=1", "t=01", 1) }, "expected t=N"},
		"unknown line":        {func(ls []string) { ls[2] += "\nnote hello" }, "line 4"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ls := slicesClone(lines)
			c.edit(ls)
			data := []byte(strings.Join(ls, "\n"))
			os.WriteFile(path, fixSum(data), 0o600)
			s := reopen(t, path)
			err := s.Problem()
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "damaged") {
				t.Fatalf("got %v, want damaged ... %q", err, c.want)
			}
			if err := s.Unseal(pass1); err == nil || s.Put("x", "y", nil) == nil {
				t.Fatal("a damaged store was usable")
			}
		})
	}
}

// TestGolden opens a store written by an earlier build: the format must stay
// readable. testdata/golden_v1.store: passphrase "golden passphrase",
// secrets aaa/provider/rad1 = "s3cr3t-radius", aaa/totp/alice = "JBSWY3DPEHPK3PXP".
func TestGolden(t *testing.T) {
	if os.Getenv("SECRETS_WRITE_GOLDEN") != "" {
		writeGolden(t)
	}
	data, err := os.ReadFile("testdata/golden_v1.store")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s")
	os.WriteFile(path, data, 0o600)
	s := reopen(t, path)
	if err := s.Unseal([]byte("golden passphrase")); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"aaa/provider/rad1": "s3cr3t-radius", "aaa/totp/alice": "JBSWY3DPEHPK3PXP"} {
		if v, err := s.Get(name); err != nil || string(v) != want {
			t.Fatalf("%s: %q %v", name, v, err)
		}
	}
	if k := s.KDF(); k != cheap {
		t.Fatalf("kdf %v", k)
	}
	b, err := os.ReadFile("testdata/golden_v1.bundle")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := OpenBundle([]byte("golden config passphrase"), b); err != nil || string(p) != `{"golden": true}` {
		t.Fatalf("bundle: %q %v", p, err)
	}
}

func writeGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	s, _ := Open(path, WithKDF(cheap))
	if err := s.Init([]byte("golden passphrase")); err != nil {
		t.Fatal(err)
	}
	s.Put("aaa/provider/rad1", "provider:rad1", []byte("s3cr3t-radius"))
	s.Put("aaa/totp/alice", "user:alice", []byte("JBSWY3DPEHPK3PXP"))
	data, _ := os.ReadFile(path)
	os.MkdirAll("testdata", 0o755)
	os.WriteFile("testdata/golden_v1.store", data, 0o644)
	b, err := SealBundle([]byte("golden config passphrase"), []byte(`{"golden": true}`), cheap)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("testdata/golden_v1.bundle", b, 0o644)
}

func TestAutoUnseal(t *testing.T) {
	s, path := newStore(t)
	keyPath := filepath.Join(filepath.Dir(path), "unseal.key")
	if err := s.EnableAutoUnseal(keyPath); !errors.Is(err, ErrSealed) {
		t.Fatalf("before init: %v", err)
	}
	s.Init(pass1)
	s.Put("aaa/mail-server", "mail", []byte("pw"))
	if err := s.EnableAutoUnseal(keyPath); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	old, _ := os.ReadFile(keyPath)
	s2 := reopen(t, path)
	if !s2.AutoUnseal() {
		t.Fatal("slot missing")
	}
	if err := s2.UnsealWithKeyFile(keyPath); err != nil {
		t.Fatal(err)
	}
	if v, err := s2.Get("aaa/mail-server"); err != nil || string(v) != "pw" {
		t.Fatalf("%q %v", v, err)
	}
	os.Chmod(keyPath, 0o644)
	if err := reopen(t, path).UnsealWithKeyFile(keyPath); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("world-readable key: %v", err)
	}
	os.Chmod(keyPath, 0o600)
	if err := s2.DisableAutoUnseal(keyPath); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keyPath); !os.IsNotExist(err) {
		t.Fatal("key file kept")
	}
	os.WriteFile(keyPath, old, 0o600)
	if err := reopen(t, path).UnsealWithKeyFile(keyPath); err == nil {
		t.Fatal("an old key file opened a store whose auto-unseal is off")
	}
}

func TestExportReplace(t *testing.T) {
	s, _ := newStore(t)
	s.Init(pass1)
	s.Put("a/1", "o", []byte("one"))
	s.Put("a/2", "o", []byte("two"))
	all, err := s.All()
	if err != nil || len(all) != 2 || string(all[1].Value) != "two" {
		t.Fatalf("%v %v", all, err)
	}
	d, _ := newStore(t)
	d.Init(pass2)
	d.Put("local/only", "o", []byte("x"))
	if err := d.Replace(append(all, all[0])); err == nil {
		t.Fatal("duplicate accepted")
	}
	if err := d.Replace(all); err != nil {
		t.Fatal(err)
	}
	if n := d.Names(); len(n) != 2 || n[0].Name != "a/1" {
		t.Fatalf("%v", n)
	}
	if v, _ := d.Get("a/2"); string(v) != "two" {
		t.Fatal(string(v))
	}
}

func TestBundle(t *testing.T) {
	payload := []byte(`{"config": {"users": []}, "secrets": []}`)
	b, err := SealBundle(pass1, payload, cheap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SealBundle([]byte("short"), payload, cheap); !errors.Is(err, ErrShortPassphrase) {
		t.Fatal(err)
	}
	if p, err := OpenBundle(pass1, b); err != nil || !bytes.Equal(p, payload) {
		t.Fatalf("%q %v", p, err)
	}
	if _, err := OpenBundle(pass2, b); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	for i := range b {
		bad := bytes.Clone(b)
		bad[i] ^= 0x20
		if _, err := OpenBundle(pass1, bad); !errors.Is(err, ErrBundleDamaged) {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	// A crafted payload edit with the checksum fixed: altered.
	ls := strings.Split(string(b), "\n")
	f := []byte(ls[3])
	i := len("payload ") + 40
	if f[i] == 'A' {
		f[i] = 'B'
	} else {
		f[i] = 'A'
	}
	ls[3] = string(f)
	crafted := fixSum([]byte(strings.Join(ls, "\n")))
	if _, err := OpenBundle(pass1, crafted); !errors.Is(err, ErrBundleAltered) {
		t.Fatalf("crafted edit: %v", err)
	}
}
