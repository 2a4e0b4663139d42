package tacacs

import "testing"

func FuzzParseAuthorReply(f *testing.F) {
	f.Add([]byte{authorPassAdd, 2, 0, 0, 0, 0, 3, 4, 'a', '=', 'b', 'c', '=', 'd', 'e'})
	f.Add([]byte{authorFail, 0, 0, 2, 0, 0, 'n', 'o'})
	f.Add([]byte{1, 200, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseAuthorReply(b)
		if err != nil {
			return
		}
		n := 6 + len(r.Msg)
		for _, a := range r.Args {
			n += 1 + len(a)
		}
		if n > len(b) {
			t.Fatalf("parsed more than the body: %d > %d", n, len(b))
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	f.Add(Header{Version: versionOne, Type: typeAuthen, Seq: 2, Session: 7, Length: 6}.Marshal())
	f.Add([]byte{0xc0, 2, 2, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		if h.Length > maxBody {
			t.Fatalf("accepted length %d", h.Length)
		}
		again, err := ParseHeader(h.Marshal())
		if err != nil || again != h {
			t.Fatalf("round trip: %+v %v", again, err)
		}
	})
}

func FuzzParseAuthenReply(f *testing.F) {
	f.Add([]byte{authenPass, 0, 0, 0, 0, 0})
	f.Add([]byte{authenFail, 0, 0, 2, 0, 0, 'n', 'o'})
	f.Fuzz(func(t *testing.T, b []byte) { parseAuthenReply(b) })
}
