package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fullFile sets every field of File, so that a field added later without
// a line in Encode makes TestEncodeMatchesMarshalIndent fail.
func fullFile(n int) *File {
	now := time.Date(2026, 12, 1, 16, 0, 0, 123456789, time.UTC)
	f := &File{
		Schema:          SchemaVersion,
		Orchestrator:    Orchestrator{ID: "1_1", Site: 1, Member: 1, Fingerprint: "SHA256:abc", CertNotAfter: now, CertRenewalError: "renewal <failed> & \"quoted\""},
		SyncPorts:       []SyncPort{{Role: "internal", Interface: "sync-int", State: PortUp, Addresses: []string{"198.18.1.1/16"}, Since: now, Error: "x"}},
		Mesh:            map[string]map[string]string{},
		StateAgeSeconds: 0.25,
		Daemon:          Daemon{PID: 42, StartedAt: now, UpdatedAt: now, RefreshSeconds: 1, ConfigState: "saved", Version: "1.0"},
		Logins:          &Logins{AlarmThreshold: 10, Lockouts: []Lockout{{Address: "198.19.1.1", Failures: 3, LockedUntil: &now, LastUser: "unknown user", Alarm: true}}},
	}
	var ids []string
	for i := 1; i <= n; i++ {
		ids = append(ids, fmt.Sprintf("%d_%d", (i-1)/8+1, (i-1)%8+1))
	}
	for _, a := range ids[1:] {
		f.Peers = append(f.Peers, Peer{ID: a, Status: Authenticated, Fingerprint: "SHA256:x", Reason: "TLS session", Since: now, Port: "external",
			Address: "198.19.1.2", CertNotAfter: &now, PresentedFingerprint: "SHA256:y"})
		v := map[string]string{}
		for _, b := range ids {
			if a != b {
				v[b] = Authenticated
			}
		}
		f.Mesh[a] = v
	}
	return f
}

func TestEncodeMatchesMarshalIndent(t *testing.T) {
	odd := fullFile(3)
	odd.Mesh["9_9"] = nil
	odd.Mesh["9_8"] = map[string]string{}
	odd.Mesh["<&>"] = map[string]string{"é\u2028\x01\"\\": "Unre\tachable", "10_1": "Unknown", "9_1": "Untrusted"}
	zone := time.FixedZone("x", -(3*3600 + 30*60))
	odd.Peers = append(odd.Peers,
		Peer{ID: "<&>", Status: "Unre\tachable", Fingerprint: "é\u2028", Reason: "\x01\"\\ \xff", Since: time.Date(1, 2, 3, 4, 5, 6, 7, zone)},
		Peer{ID: "9_9", Since: time.Now(), Address: "198.19.1.9", PresentedFingerprint: "SHA256:z"})
	empty := &File{}
	noPeers := fullFile(2)
	noPeers.Peers = []Peer{}
	noMesh := fullFile(2)
	noMesh.Mesh, noMesh.Logins, noMesh.Peers = map[string]map[string]string{}, nil, nil
	for name, f := range map[string]*File{"64 nodes": fullFile(64), "odd keys": odd, "zero": empty, "empty mesh": noMesh, "no peers": noPeers} {
		want, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got, err := Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s: Encode differs from MarshalIndent at byte %d:\n got %q\nwant %q", name, i, got[max(0, i-40):min(len(got), i+40)], want[max(0, i-40):min(len(want), i+40)])
		}
	}
}

// A time MarshalJSON cannot write fails Encode too, instead of writing a
// file nobody can read.
func TestEncodeBadTime(t *testing.T) {
	for _, since := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		f := fullFile(2)
		f.Peers[0].Since = since
		if _, err := json.MarshalIndent(f, "", "  "); err == nil {
			t.Fatalf("MarshalIndent accepted %v", since)
		}
		if b, err := Encode(f); err == nil {
			t.Errorf("Encode accepted %v: %q", since, b)
		}
	}
}

func FuzzEncode(f *testing.F) {
	f.Add("1_2", "1_1", "Authenticated")
	f.Add("<", "\u2028", "\xff")
	f.Fuzz(func(t *testing.T, from, to, st string) {
		x := &File{Mesh: map[string]map[string]string{from: {to: st, "1_1": st}, to: nil},
			Peers: []Peer{{ID: from, Status: st, Reason: to, Address: to}, {ID: to, PresentedFingerprint: from}}}
		want, err := json.MarshalIndent(x, "", "  ")
		if err != nil {
			t.Skip()
		}
		got, err := Encode(x)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Encode %q (%v), want %q", got, err, want)
		}
		// The Writer's cached rows: cold, then warm.
		rows := map[string]encodedRow{}
		for range 2 {
			got, err := appendEncode(nil, x, rows)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("cached encoding %q (%v), want %q", got, err, want)
			}
		}
	})
}

// The Writer reuses a view's encoding only while the file holds the same
// map for it: replaced, added and removed views show in the next write.
func TestWriterMeshRows(t *testing.T) {
	f := fullFile(64)
	var w Writer
	p := filepath.Join(t.TempDir(), "state.json")
	check := func(step string) {
		t.Helper()
		if err := w.Write(p, f); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		want, _ := json.MarshalIndent(f, "", "  ")
		if string(got) != string(want)+"\n" {
			t.Fatalf("%s: file differs from MarshalIndent", step)
		}
	}
	check("first write")
	check("unchanged")
	v := maps.Clone(f.Mesh["1_2"])
	v["1_3"] = Unreachable
	f.Mesh["1_2"] = v
	check("one view replaced")
	delete(f.Mesh, "8_8")
	check("one view removed")
	f.Mesh["9_1"] = map[string]string{"1_1": Untrusted}
	f.Mesh["9_2"] = nil
	f.Mesh["9_3"] = map[string]string{}
	check("views added, null and empty")
	if len(w.rows) != len(f.Mesh)-1 {
		t.Errorf("%d rows cached for %d views (one null)", len(w.rows), len(f.Mesh))
	}
	f.Mesh = map[string]map[string]string{}
	check("no views")
	if len(w.rows) != 0 {
		t.Errorf("%d rows cached for an empty mesh", len(w.rows))
	}
}

func BenchmarkWriterEncode(b *testing.B) {
	f := fullFile(64)
	rows := map[string]encodedRow{}
	buf := make([]byte, 0, encodedSize(f))
	for b.Loop() {
		if _, err := appendEncode(buf[:0], f, rows); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	f := fullFile(64)
	for b.Loop() {
		if _, err := Encode(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalIndent(b *testing.B) {
	f := fullFile(64)
	for b.Loop() {
		json.MarshalIndent(f, "", "  ")
	}
}

// The estimate holds a whole file, so Writer and Encode allocate once.
func TestEncodedSizeHoldsFile(t *testing.T) {
	for _, n := range []int{1, 2, 4, 16, 64} {
		f := fullFile(n)
		for i := range f.Peers {
			// As long as real ones: a full fingerprint and reason.
			f.Peers[i].Fingerprint = "SHA256:" + strings.Repeat("x", 43)
			f.Peers[i].PresentedFingerprint = f.Peers[i].Fingerprint
			f.Peers[i].Reason = strings.Repeat("r", 120)
		}
		buf := make([]byte, 0, encodedSize(f))
		b, err := AppendEncode(buf, f)
		if err != nil {
			t.Fatal(err)
		}
		if cap(b) != cap(buf) {
			t.Errorf("%d nodes: %d bytes outgrew the estimate of %d", n, len(b), cap(buf))
		}
	}
}

func TestWriterReusesBuffer(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	var w Writer
	for _, n := range []int{64, 4} {
		f := fullFile(n)
		if err := w.Write(p, f); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.MarshalIndent(f, "", "  ")
		if string(got) != string(want)+"\n" {
			t.Fatalf("%d nodes: file differs from MarshalIndent", n)
		}
	}
	if cap(w.buf) < encodedSize(fullFile(64)) {
		t.Errorf("buffer of %d bytes not kept after the smaller write", cap(w.buf))
	}
}
