package agent

import (
	"strings"
	"testing"
)

func TestParseCodes(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		err  string
	}{
		{`{"2_1": "123456"}`, map[string]string{"2_1": "123456"}, ""},
		{`{"2_1": "123 456", "1_2": "000001"}`, map[string]string{"2_1": "123456", "1_2": "000001"}, ""},
		{`{}`, map[string]string{}, ""},
		{`{"x": "123456"}`, nil, "codes"},
		{`{"2_1": "12345"}`, nil, "2_1"},
		{`["123456"]`, nil, "expected an object"},
		{`{"2_1": 123456}`, nil, "expected an object"},
	}
	for _, tc := range tests {
		got, err := parseCodes(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseCodes(%s) = %v, %v; want an error naming %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("parseCodes(%s) = %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("parseCodes(%s)[%s] = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

func FuzzParseCodes(f *testing.F) {
	for _, s := range []string{`{"2_1": "123456"}`, `{"1_1":"000000","9_9":"999999"}`, `{}`, `[]`, `{"a":1}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseCodes(s)
		if err != nil {
			return
		}
		for _, c := range m {
			if len(c) != 6 || strings.Trim(c, "0123456789") != "" {
				t.Fatalf("parseCodes(%q) kept code %q", s, c)
			}
		}
	})
}
