package truststore

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/orchd/orchd/identity"
)

// Fixed keys so seeds and tables are stable.
var (
	seedKey = ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	seedFP  = identity.Fingerprint(seedKey)
	seedB64 = base64.StdEncoding.EncodeToString(seedKey)
)

func TestParseBlocked(t *testing.T) {
	fp2 := identity.Fingerprint(ed25519.NewKeyFromSeed(append(make([]byte, 31), 1)).Public().(ed25519.PublicKey))
	for _, tc := range []struct {
		name, in string
		want     []string
		err      string
	}{
		{"empty", "", []string{}, ""},
		{"comments only", "# x\n\n#y\n", []string{}, ""},
		{"one", seedFP + "\n", []string{seedFP}, ""},
		{"no final newline, crlf", "# h\r\n" + seedFP + "\r\n" + fp2, sorted(seedFP, fp2), ""},
		{"inline comment and indent", "  " + seedFP + "  # lost laptop\n", []string{seedFP}, ""},
		{"duplicate", seedFP + "\n" + seedFP + "\n", []string{seedFP}, ""},
		{"bad token", "# h\n\nSHA256:abc\n", nil, `line 3: invalid fingerprint "SHA256:abc"`},
		{"md5 style", "MD5:aa:bb\n", nil, `line 1: invalid fingerprint "MD5:aa:bb"`},
		{"two tokens", seedFP + " extra\n", nil, "line 1: \"" + seedFP + " extra\": expected one fingerprint a line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseBlocked([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.list(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("list = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestBlockedKeepsComments: the administrator's header and notes survive a
// rewrite by Block and Unblock.
func TestBlockedKeepsComments(t *testing.T) {
	dir := t.TempDir()
	bp := filepath.Join(dir, "blocked_fingerprints")
	orig := "# site policy: keys of returned units\n\n# unit 7, RMA 1234\n" + seedFP + " # 2024\n"
	os.WriteFile(bp, []byte(orig), 0o644)
	s, err := Open(filepath.Join(dir, "trust.json"), bp)
	if err != nil {
		t.Fatal(err)
	}
	k := newKey(t)
	if err := s.Block(identity.Fingerprint(k)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(bp)
	if !strings.HasPrefix(string(b), orig) {
		t.Errorf("rewrite lost the original text:\n%s", b)
	}
	if err := s.Unblock(seedFP); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(bp)
	if !strings.HasPrefix(string(b), "# site policy: keys of returned units\n\n") || strings.Contains(string(b), seedFP) || strings.Contains(string(b), "RMA") {
		t.Errorf("after unblock:\n%s", b)
	}
	fresh := filepath.Join(dir, "fresh")
	s2, _ := Open(filepath.Join(dir, "t2.json"), fresh)
	s2.Block(seedFP)
	b, _ = os.ReadFile(fresh)
	if !strings.HasPrefix(string(b), defaultBlockedHeader) {
		t.Errorf("new block list has no header:\n%s", b)
	}
}

func TestDecodePins(t *testing.T) {
	good := `{"schema":1,"pins":[{"id":"1_2","fingerprint":"` + seedFP + `","public_key":"` + seedB64 + `","added_at":"2026-01-02T03:04:05Z","added_by":"x"}]}`
	for _, tc := range []struct{ name, in, err string }{
		{"good", good, ""},
		{"no pins", `{"schema":1,"pins":[]}`, ""},
		{"newer schema", `{"schema":2,"pins":[]}`, "schema 2"},
		{"bad id", strings.Replace(good, `"1_2"`, `"1-2"`, 1), `pin 1: invalid orchestrator ID "1-2"`},
		{"short key", strings.Replace(good, seedB64, "AAAA", 1), "pin 1 (1_2): public_key is not 32 bytes"},
		{"fingerprint mismatch", strings.Replace(good, seedFP, "SHA256:x", 1), `recorded fingerprint "SHA256:x" does not match`},
		{"duplicate", strings.Replace(good, `]}`, ","+good[strings.Index(good, "{\"id")+0:len(good)-2]+`]}`, 1), "pinned twice"},
		{"trailing", good + "{}", "trailing data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodePins([]byte(tc.in))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("decodePins: %v, want %q", err, tc.err)
			}
		})
	}
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

func FuzzParseBlocked(f *testing.F) {
	for _, s := range []string{"", "# h\n", seedFP + "\n", "# a\n\n" + seedFP + " # c\n#t\n", "SHA256:\n", "\r\n\r\n", "x # y", seedFP + "#"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		bf, err := parseBlocked(b)
		if err != nil {
			return
		}
		// What we write we must read back with the same fingerprints.
		again, err := parseBlocked(bf.format())
		if err != nil {
			t.Fatalf("reparsing our own output: %v\n%q", err, bf.format())
		}
		if !reflect.DeepEqual(again.list(), bf.list()) {
			t.Fatalf("round trip changed the list: %v → %v", bf.list(), again.list())
		}
	})
}

func FuzzDecodePins(f *testing.F) {
	f.Add([]byte(`{"schema":1,"pins":[{"id":"1_2","fingerprint":"` + seedFP + `","public_key":"` + seedB64 + `","added_at":"2026-01-02T03:04:05Z","added_by":"x"}]}`))
	f.Add([]byte(`{"schema":1,"pins":[]}`))
	f.Add([]byte(`{"schema":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pins, err := decodePins(b)
		if err != nil {
			return
		}
		enc, err := encodePins(pins)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodePins(enc)
		if err != nil || len(again) != len(pins) {
			t.Fatalf("round trip: %v (%d vs %d pins)", err, len(again), len(pins))
		}
	})
}
