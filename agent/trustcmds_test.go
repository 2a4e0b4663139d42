package agent

import (
	"strings"
	"testing"

	"github.com/orchd/orchd/identity"
)

func TestDecide(t *testing.T) {
	const a, b = "SHA256:aaa", "SHA256:bbb"
	id := identity.ID{Site: 1, Member: 2}
	for _, tc := range []struct {
		name              string
		fp, named, pinned string
		blocked, force    bool
		want              verdict
		why               string
	}{
		{"unnamed, unpinned: ask, never trust silently", a, "", "", false, false, verdictAsk, ""},
		{"named and matching", a, a, "", false, false, verdictVerified, ""},
		{"named but different", a, b, "", false, false, verdictRefused, "does not match the fingerprint you named"},
		{"already pinned with the same key", a, "", a, false, false, verdictVerified, ""},
		{"changed key without force", a, "", b, false, false, verdictRefused, "HAS CHANGED"},
		{"changed key, force but not named", a, "", b, false, true, verdictRefused, "force fingerprints 1_2=" + a},
		{"changed key, named but no force", a, a, b, false, false, verdictRefused, "HAS CHANGED"},
		{"changed key, force and named", a, a, b, false, true, verdictVerified, ""},
		{"blocked beats everything", a, a, a, true, true, verdictRefused, "is blocked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, why := decide(id, tc.fp, tc.named, tc.pinned, tc.blocked, tc.force)
			if v != tc.want || !strings.Contains(why, tc.why) {
				t.Fatalf("decide = %v %q, want %v containing %q", v, why, tc.want, tc.why)
			}
		})
	}
}

func TestParseFingerprintAnswer(t *testing.T) {
	fp := "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
	got, err := parseFingerprintAnswer("1_2=" + fp + ", 2_1=" + fp)
	if err != nil || len(got) != 2 || got[1].ID.String() != "2_1" {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"1_2", "1-2=" + fp, "1_2=SHA256:short"} {
		if _, err := parseFingerprintAnswer(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
