package trustproto

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

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
		{Request{Op: "untrust", Version: 1, From: "1_1", Members: []Member{m}}, "unknown op"},
		{Request{Op: "trust", Version: 2, From: "1_1", Members: []Member{m}}, "version"},
		{Request{Op: "trust", Version: 1, From: "1-1", Members: []Member{m}}, "invalid orchestrator ID"},
		{Request{Op: "trust", Version: 1, From: "1_1"}, "0 members"},
		{Request{Op: "trust", Version: 1, From: "1_2", Members: []Member{m}}, "not among the members"},
		{Request{Op: "trust", Version: 1, From: "1_1", Members: []Member{m, m}}, "twice"},
		{Request{Op: "trust", Version: 1, From: "1_1", Members: []Member{{ID: "1_1", PublicKey: "AAAA"}}}, "not a base64 Ed25519"},
	} {
		if _, _, err := tc.req.Parse(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%+v) = %v, want %q", tc.req, err, tc.want)
		}
	}
}

func FuzzReadRequest(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(nil)
	var b bytes.Buffer
	Write(&b, Request{Op: "trust", Version: 1, From: "1_1", Members: []Member{NewMember(identity.ID{Site: 1, Member: 1}, pub)}})
	f.Add(b.Bytes())
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"ok":true,"id":"1_2","results":{"1_1":"trusted"}}` + "\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var req Request
		if Read(bufio.NewReader(bytes.NewReader(in)), &req) == nil {
			req.Parse()
		}
		var resp Response
		Read(bufio.NewReader(bytes.NewReader(in)), &resp)
	})
}
