package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeN(t *testing.T, path string, n int) {
	t.Helper()
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < n; i++ {
		if err := l.Record(Event{Type: "command", User: "admin", Command: "add user u" + string(rune('a'+i)), Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestChainAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeN(t, path, 3)
	writeN(t, path, 2) // a restart continues the chain
	n, err := VerifyFile(path)
	if err != nil || n != 5 {
		t.Fatalf("VerifyFile = %d, %v; want 5, nil", n, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	h := sha256.Sum256([]byte(lines[0]))
	if !strings.Contains(lines[1], `"prev":"`+hex.EncodeToString(h[:])+`"`) {
		t.Errorf("line 2 prev is not sha256 of line 1 as written:\n%s", lines[1])
	}
	if !strings.Contains(lines[0], `"prev":"`+Genesis+`"`) || !strings.Contains(lines[0], `"seq":1`) {
		t.Errorf("first line: %s", lines[0])
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeN(t, path, 5)
	orig, _ := os.ReadFile(path)
	lines := strings.SplitAfter(strings.TrimSuffix(string(orig), "\n"), "\n")
	lines[len(lines)-1] += "\n"
	cases := []struct {
		name   string
		edit   func([]string) []string
		line   int
		reason string
	}{
		{"edited", func(l []string) []string { l[1] = strings.Replace(l[1], "admin", "eve", 1); return l }, 3, "prev does not match"},
		{"deleted", func(l []string) []string { return append(l[:2:2], l[3:]...) }, 3, "sequence 4"},
		{"reordered", func(l []string) []string { l[2], l[3] = l[3], l[2]; return l }, 3, "sequence 4"},
		{"garbage", func(l []string) []string { l[4] = "{nope\n"; return l }, 5, "not a record"},
		{"torn", func(l []string) []string { l[4] = strings.TrimSuffix(l[4], "\n"); return l }, 5, "unterminated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := c.edit(append([]string(nil), lines...))
			_, err := Verify(strings.NewReader(strings.Join(l, "")))
			var be *BreakError
			if !errors.As(err, &be) || be.Line != c.line || !strings.Contains(be.Reason, c.reason) {
				t.Fatalf("Verify = %v; want break at line %d (%s)", err, c.line, c.reason)
			}
		})
	}
}

func TestTornTailRepairedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeN(t, path, 2)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":3,"time":"20`)
	f.Close()
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.now = func() time.Time { return time.Unix(0, 0) }
	l.Record(Event{Type: "login", User: "admin", Result: "ok"})
	l.Close()
	n, err := VerifyFile(path)
	if err != nil || n != 4 {
		t.Fatalf("VerifyFile = %d, %v; want 4 (2 + repair note + login)", n, err)
	}
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(`"result":"repaired"`)) {
		t.Errorf("repair not recorded:\n%s", b)
	}
	tail, _ := Tail(path, 2)
	if len(tail) != 2 || !strings.Contains(tail[1], `"type":"login"`) {
		t.Errorf("Tail = %q", tail)
	}
}

func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	l, _ := Open(path)
	l.Record(Event{Type: "login", User: "admin"})
	l.Record(Event{Type: "logout", User: "admin"})
	l.Close()
	b, _ := os.ReadFile(path)
	f.Add(b)
	f.Add([]byte("{}\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := Verify(bytes.NewReader(b))
		if err == nil && n > 0 && !bytes.HasSuffix(b, []byte("\n")) {
			t.Fatalf("accepted an unterminated log")
		}
	})
}

// TestRecordAll: a batch is chained line by line like single records, and
// the chain continues across batches and single records.
func TestRecordAll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	l.Notify = func(r Record) { got = append(got, r.Seq) }
	if err := l.Record(Event{Type: "login"}); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordAll([]Event{{Type: "trust", Reason: "a"}, {Type: "trust", Reason: "b"}, {Type: "trust", Reason: "c"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordAll(nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(Event{Type: "logout"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if n, err := VerifyFile(path); err != nil || n != 5 {
		t.Fatalf("VerifyFile = %d, %v; want 5, nil", n, err)
	}
	if fmt.Sprint(got) != "[1 2 3 4 5]" {
		t.Errorf("notified %v, want [1 2 3 4 5]", got)
	}
}
