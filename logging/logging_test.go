package logging

import "testing"

func TestJournalKey(t *testing.T) {
	for in, want := range map[string]string{"peer": "ORCHD_PEER", "sync-port": "ORCHD_SYNC_PORT", "ID2": "ORCHD_ID2"} {
		if got := journalKey(in); got != want {
			t.Errorf("journalKey(%q) = %q, want %q", in, got, want)
		}
	}
}
