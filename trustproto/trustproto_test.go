package trustproto

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
)

func TestRequestRoundTrip(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	pub2, _, _ := ed25519.GenerateKey(nil)
	req := Request{Op: "trust", Version: Version, From: "1_1", Members: []Member{
		NewMember(identity.ID{Site: 1, Member: 1}, pub), NewMember(identity.ID{Site: 2, Member: 1}, pub2)}}
	var b bytes.Buffer
	if err := Write(&b, req); err != nil {
		t.Fatal(err)
	}
	var got Request
	if err := Read(bufio.NewReader(&b), &got); err != nil {
		t.Fatal(err)
	}
	from, ms, err := got.Parse()
	if err != nil || from.String() != "1_1" || len(ms) != 2 || !ms[1].Key.Equal(pub2) {
		t.Fatalf("Parse = %v %v %v", from, ms, err)
	}
}

func TestParseRejects(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	m := NewMember(identity.ID{Site: 1, Member: 1}, pub)
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{Op: "untrust", Version: Version, From: "1_1", Members: []Member{m}}, "unknown op"},
		{Request{Op: "trust", Version: 1, From: "1_1", Members: []Member{m}}, "version"},
		{Request{Op: "trust", Version: Version, From: "1-1", Members: []Member{m}}, "invalid orchestrator ID"},
		{Request{Op: "trust", Version: Version, From: "1_1"}, "0 members"},
		{Request{Op: "trust", Version: Version, From: "1_2", Members: []Member{m}}, "not among the members"},
		{Request{Op: "trust", Version: Version, From: "1_1", Members: []Member{m, m}}, "twice"},
		{Request{Op: "trust", Version: Version, From: "1_1", Members: []Member{{ID: "1_1", PublicKey: "AAAA"}}}, "not a base64 Ed25519"},
	} {
		if _, _, err := tc.req.Parse(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%+v) = %v, want %q", tc.req, err, tc.want)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, otherKey, _ := ed25519.GenerateKey(nil)
	id11, id12 := identity.ID{Site: 1, Member: 1}, identity.ID{Site: 1, Member: 2}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	mk := func() Request {
		return Request{Op: "trust", Version: Version, From: "1_1", Members: []Member{NewMember(id11, pub), NewMember(id12, otherPub)}, Replace: []string{"1_2"}}
	}
	good := mk()
	good.Sign(key, id12, now)
	p, err := good.Verify(id12, now.Add(time.Minute))
	if err != nil || p.From != id11 || !p.Replace[id12] || len(p.Members) != 2 {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	for name, tc := range map[string]struct {
		mut    func(r *Request)
		target identity.ID
		at     time.Time
		want   string
	}{
		"signed by another key": {func(r *Request) { r.Sign(otherKey, id12, now) }, id12, now, "not signed by the key"},
		"other target":          {func(r *Request) {}, id11, now, "not 1_1"},
		"stale":                 {func(r *Request) {}, id12, now.Add(10 * time.Minute), "more than 5m0s"},
		"member swapped":        {func(r *Request) { r.Members[1] = NewMember(id12, pub) }, id12, now, "not signed by the key"},
		"replace added":         {func(r *Request) { r.Replace = append(r.Replace, "1_1") }, id12, now, "not signed by the key"},
		"replace non-member":    {func(r *Request) { r.Replace = []string{"2_1"}; r.Sign(key, id12, now) }, id12, now, "not a member"},
		"no signature":          {func(r *Request) { r.Signature = "" }, id12, now, "signature"},
	} {
		r := mk()
		r.Sign(key, id12, now)
		tc.mut(&r)
		if _, err := r.Verify(tc.target, tc.at); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Verify = %v, want %q", name, err, tc.want)
		}
	}
}

func FuzzReadRequest(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(nil)
	var b bytes.Buffer
	_, key, _ := ed25519.GenerateKey(nil)
	req := Request{Op: "trust", Version: Version, From: "1_1", Members: []Member{NewMember(identity.ID{Site: 1, Member: 1}, pub)}}
	req.Sign(key, identity.ID{Site: 1, Member: 2}, time.Now())
	Write(&b, req)
	f.Add(b.Bytes())
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"op":"ready","members":["2_1","8_8"]}` + "\n"))
	f.Add([]byte(`{"ok":true,"id":"1_2","results":{"1_1":"trusted"}}` + "\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var req Request
		if Read(bufio.NewReader(bytes.NewReader(in)), &req) == nil {
			req.Parse()
			req.Verify(identity.ID{Site: 1, Member: 2}, time.Now())
		}
		var resp Response
		Read(bufio.NewReader(bytes.NewReader(in)), &resp)
		var ready Ready
		if Read(bufio.NewReader(bytes.NewReader(in)), &ready) == nil {
			ready.IDs()
		}
	})
}

func TestReadyIDs(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       string // IDs joined, or the error
	}{
		{"members", `{"op":"ready","members":["2_1","8_8"]}`, "2_1,8_8"},
		{"none", `{"op":"ready","members":[]}`, ""},
		{"wrong op", `{"op":"trust","members":["2_1"]}`, `op "trust": expected "ready"`},
		{"bad id", `{"op":"ready","members":["2_1","x_y"]}`, "ready: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Ready
			if err := Read(bufio.NewReader(strings.NewReader(tc.line+"\n")), &r); err != nil {
				t.Fatal(err)
			}
			ids, err := r.IDs()
			var got string
			if err != nil {
				got = err.Error()
				if !strings.HasPrefix(got, tc.want) || tc.want == "" {
					t.Fatalf("error %q, want prefix %q", got, tc.want)
				}
				return
			}
			var s []string
			for _, id := range ids {
				s = append(s, id.String())
			}
			if got = strings.Join(s, ","); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
