package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestRenamedError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("EIO")
	restore := FailDirSyncForTest(boom)
	err := WriteFile(p, []byte("new"), 0o600)
	restore()
	if !Renamed(err) || !errors.Is(err, boom) {
		t.Fatalf("err %v: want a RenamedError wrapping the fsync error", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "new" {
		t.Errorf("file holds %q after a failed directory fsync, want the new content", got)
	}
	// Failures before the rename are not RenamedErrors.
	if err := WriteFile(filepath.Join(p, "under-a-file"), []byte("x"), 0o600); err == nil || Renamed(err) {
		t.Errorf("write under a regular file: %v, want a plain error", err)
	}
}

func TestSweepTemps(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "lib", "history")
	os.MkdirAll(sub, 0o700)
	files := map[string]bool{ // path → swept
		filepath.Join(root, ".trust.json.tmp-123456"):   true,
		filepath.Join(sub, ".admin.tmp-9"):              true,
		filepath.Join(root, "trust.json"):               false,
		filepath.Join(root, ".trust.json.tmp-abc"):      false,
		filepath.Join(root, "trust.json.tmp-1"):         false,
		filepath.Join(root, ".blocked_fingerprints"):    false,
		filepath.Join(sub, "admin"):                     false,
		filepath.Join(root, "lib", ".config.json.tmp-"): false,
	}
	for p := range files {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := SweepTemps(root, filepath.Join(root, "missing"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for p, swept := range files {
		_, statErr := os.Stat(p)
		if swept {
			want = append(want, p)
			if statErr == nil {
				t.Errorf("%s not swept", p)
			}
		} else if statErr != nil {
			t.Errorf("%s swept: %v", p, statErr)
		}
	}
	sort.Strings(want)
	sort.Strings(removed)
	if len(removed) != len(want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	// A temp file WriteFile really makes matches the pattern.
	f, _ := os.CreateTemp(root, ".state.json.tmp-*")
	f.Close()
	if !tempName.MatchString(filepath.Base(f.Name())) {
		t.Errorf("%s does not match the sweep pattern", f.Name())
	}
}
