package clishcmd

import (
	"strings"
	"testing"
)

func TestReadAnswers(t *testing.T) {
	for _, tc := range []struct {
		in, err string
		n       int
	}{
		{`{"password": "x", "confirm": "yes"}`, "", 2},
		{`{"password": 5}`, `key "password": expected a string`, 0},
		{`["a"]`, "expected one JSON object", 0},
		{``, "expected one JSON object", 0},
	} {
		got, err := readAnswers(strings.NewReader(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			// The error must never echo a value (it may be a password).
			if err != nil && strings.Contains(err.Error(), `"x"`) {
				t.Errorf("error leaks a value: %v", err)
			}
			continue
		}
		if err != nil || len(got) != tc.n {
			t.Errorf("%q: %v, %v", tc.in, got, err)
		}
	}
}
