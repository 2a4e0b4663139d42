package identity

import (
	"crypto/ed25519"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ID
		ok   bool
	}{
		{"1_1", ID{1, 1}, true},
		{"2_12", ID{2, 12}, true},
		{"254_254", ID{254, 254}, true},
		{"1-2", ID{}, false},
		{"0_1", ID{}, false},
		{"1_0", ID{}, false},
		{"01_1", ID{}, false},
		{"1_", ID{}, false},
		{"_1", ID{}, false},
		{"1_2_3", ID{}, false},
		{"255_1", ID{}, false},
		{"a_b", ID{}, false},
		{"", ID{}, false},
		{" 1_1", ID{}, false},
	} {
		got, err := ParseID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseID(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "expected S_M such as 1_2") {
			t.Errorf("ParseID(%q) error %q does not say what is expected", tc.in, err)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}
}

func TestParseIDList(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string
		wantErr string
	}{
		{"1_2,2_1", "[1_2 2_1]", ""},
		{"1_2", "[1_2]", ""},
		{"1_2,1_2", "", "listed twice"},
		{"1_2, 2_1", "", `" 2_1"`},
		{"1_2,", "", `""`},
		{"", "", "empty orchestrator list"},
	} {
		got, err := ParseIDList(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseIDList(%q) err = %v, want containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseIDList(%q): %v", tc.in, err)
			continue
		}
		var s []string
		for _, id := range got {
			s = append(s, id.String())
		}
		if g := "[" + strings.Join(s, " ") + "]"; g != tc.want {
			t.Errorf("ParseIDList(%q) = %s, want %s", tc.in, g, tc.want)
		}
	}
}

func files(dir string) Files {
	return Files{Key: filepath.Join(dir, "k"), Pub: filepath.Join(dir, "k.pub"), Cert: filepath.Join(dir, "c.crt")}
}

func TestCreateLoad(t *testing.T) {
	dir := t.TempDir()
	f := files(dir)
	id := ID{2, 1}
	a, err := Create(f, id, DefaultValidity, false)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(f.Key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if a.ID != id {
		t.Fatalf("ID = %v, want %v", a.ID, id)
	}
	if d := a.Cert.NotAfter.Sub(a.Cert.NotBefore); d < DefaultValidity || d > DefaultValidity+2*time.Minute {
		t.Fatalf("validity %v, want about 365 days", d)
	}
	if !strings.Contains(a.Cert.Subject.CommonName, "2_1") {
		t.Fatalf("subject %q does not name the ID", a.Cert.Subject.CommonName)
	}
	if _, err := Create(f, id, DefaultValidity, false); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	b, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if b.Fingerprint() != a.Fingerprint() {
		t.Fatal("loaded identity has another fingerprint")
	}
	c, err := Create(f, id, DefaultValidity, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Fingerprint() == a.Fingerprint() {
		t.Fatal("forced Create kept the old key")
	}
	old := c.Cert.NotAfter
	if err := c.Renew(f, time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	d, err := Load(f)
	if err != nil || d.Cert.NotAfter.Equal(old) || d.Fingerprint() != c.Fingerprint() {
		t.Fatalf("renewal: %v, not-after %v (was %v)", err, d.Cert.NotAfter, old)
	}
}

func TestLoadRejectsForeignCertificate(t *testing.T) {
	dir := t.TempDir()
	f := files(dir)
	if _, err := Create(f, ID{1, 1}, DefaultValidity, false); err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	p, err := NewCertificate(ID{1, 1}, other, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(f.Cert, p, 0o644)
	if _, err := Load(f); err == nil || !strings.Contains(err.Error(), "does not carry the identity key") {
		t.Fatalf("Load with a foreign certificate = %v", err)
	}
}

// The fingerprint must be byte-for-byte what OpenSSH prints, because admins
// verify it with ssh-keygen and ssh-keyscan.
func TestFingerprintMatchesSSHKeygen(t *testing.T) {
	kg, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("ssh-keygen not installed (apt-get install openssh-client); make test installs it when root")
	}
	dir := t.TempDir()
	f := files(dir)
	for i := 0; i < 5; i++ {
		a, err := Create(f, ID{1, 1}, time.Hour, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{f.Key, f.Pub} {
			out, err := exec.Command(kg, "-lf", p).CombinedOutput()
			if err != nil {
				t.Fatalf("ssh-keygen -lf %s: %v: %s", p, err, out)
			}
			fields := strings.Fields(string(out))
			if len(fields) < 2 || fields[1] != a.Fingerprint() {
				t.Fatalf("ssh-keygen printed %q, we say %s", out, a.Fingerprint())
			}
		}
	}
}

func TestParseFingerprint(t *testing.T) {
	_, k, _ := ed25519.GenerateKey(nil)
	good := Fingerprint(k.Public().(ed25519.PublicKey))
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{good, true},
		{strings.TrimPrefix(good, "SHA256:"), false},
		{good[:len(good)-1], false},
		{good + "A", false},
		{"SHA256:" + strings.Repeat("!", 43), false},
		{"MD5:aa", false},
	} {
		got, err := ParseFingerprint(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.in) {
			t.Errorf("ParseFingerprint(%q) = %q, %v; ok want %v", tc.in, got, err, tc.ok)
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1_1", "2_12", "1-2", "", "0_0", "254_254", "1_2_3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err == nil && id.String() != s {
			t.Fatalf("ParseID(%q) round-trips to %q", s, id.String())
		}
		ParseIDList(s)
	})
}

func FuzzParseFingerprint(f *testing.F) {
	f.Add("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")
	f.Add("SHA256:")
	f.Fuzz(func(t *testing.T, s string) {
		if got, err := ParseFingerprint(s); err == nil && got != s {
			t.Fatalf("accepted non-canonical %q as %q", s, got)
		}
	})
}
