package radius

import (
	"encoding/binary"
	"testing"
)

func FuzzParseCiscoVSA(f *testing.F) {
	for _, v := range []string{"shell:msc-roles=adminRole", "cisco-av-pair=shell:domains=orchall/a/", ""} {
		a, _ := CiscoVSA(v)
		f.Add([]byte(a))
	}
	two := binary.BigEndian.AppendUint32(nil, VendorCisco)
	two = append(two, 1, 4, 'a', 'b', 2, 3, 'x', 1, 2)
	f.Add(two)
	f.Add([]byte{0, 0, 0, 9, 1, 1})
	f.Add([]byte{0, 0, 0, 9, 1, 200, 'a'})
	f.Add([]byte{0, 0, 1, 0, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, err := ParseCiscoVSA(b)
		if err != nil {
			return
		}
		for _, v := range vals {
			if len(v) > len(b) {
				t.Fatalf("value longer than the attribute")
			}
			// What parses re-encodes to a VSA that parses to the same value.
			a, err := CiscoVSA(v)
			if err != nil {
				continue
			}
			again, err := ParseCiscoVSA(a)
			if err != nil || len(again) != 1 || again[0] != v {
				t.Fatalf("round trip of %q: %q, %v", v, again, err)
			}
		}
	})
}

func FuzzVerifyResponseAuthenticator(f *testing.F) {
	f.Add(append(make([]byte, 20), 80, 18, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16))
	f.Add(append(make([]byte, 20), 80, 2))
	f.Add(append(make([]byte, 20), 1, 0))
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Never panics, whatever the attribute layout.
		VerifyResponseAuthenticator(raw, make([]byte, 16), []byte("s"))
	})
}
