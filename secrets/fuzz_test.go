package secrets

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParse: no input crashes the store parser or the unseal behind it, and
// nothing but a well-formed file parses.
func FuzzParse(f *testing.F) {
	if g, err := os.ReadFile("testdata/golden_v1.store"); err == nil {
		f.Add(g)
	}
	f.Add([]byte("orchd-secrets v1\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		parse(data)
		// Past the checksum too: the fuzzer cannot forge SHA-256 itself.
		if bytes.Contains(data, []byte("sum ")) {
			data = fixSum(data)
		}
		p, err := parse(data)
		if err != nil {
			return
		}
		if got := encode(p.body(), p.mac); string(got) != string(data) {
			t.Fatalf("parsed a non-canonical file")
		}
		if p.kdf.Memory > 1024 || p.kdf.Time > 2 {
			return // a valid but costly header: the caps are tested elsewhere
		}
		s := &Store{f: p, now: nowZero}
		s.Unseal([]byte("golden passphrase"))
	})
}

// FuzzOpenBundle: no input crashes the export-file reader.
func FuzzOpenBundle(f *testing.F) {
	if g, err := os.ReadFile("testdata/golden_v1.bundle"); err == nil {
		f.Add(g)
	}
	f.Add([]byte("orchd-export v1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		OpenBundle([]byte("golden config passphrase"), data)
	})
}
