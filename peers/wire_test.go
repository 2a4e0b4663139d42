package peers

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/records"
	"github.com/orchd/orchd/state"
)

// Fixed material so seeds and tables are stable.
var (
	fixedNow   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fixedKey   = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	fixedIdent = func() *identity.Identity {
		pemb, err := identity.NewCertificate(identity.ID{Site: 1, Member: 1}, fixedKey, identity.DefaultValidity, fixedNow)
		if err != nil {
			panic(err)
		}
		c, _ := identity.ParseCertificatePEM(pemb)
		return &identity.Identity{ID: identity.ID{Site: 1, Member: 1}, Key: fixedKey, Cert: c, CertPEM: pemb}
	}()
)

func frame(t testing.TB, v any) []byte {
	b, err := appendFrame(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func body(f []byte) []byte { return f[4:] }

func validRecords() []byte {
	r, err := records.NewWithNonce(records.KindRevoke, fixedIdent.ID, fixedKey, identity.ID{Site: 1, Member: 3}, fixedIdent.Fingerprint(), fixedNow, bytes.Repeat([]byte{9}, 16))
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(&wireRecords{Type: typeRecords, Records: []records.Record{r}})
	return b
}

func validHave() []byte {
	var r records.Record
	json.Unmarshal(validRecords()[len(`{"type":"records","records":[`):len(validRecords())-2], &r)
	b, _ := json.Marshal(&wireHave{Type: typeHave, Keys: []string{r.Key()}})
	return b
}

// TestFastView: the frames we send take the fast path, with the general
// decoder's result; other shapes fall back to it.
func TestFastView(t *testing.T) {
	view := map[string]string{}
	for s := 1; s <= 8; s++ {
		for m := 1; m <= 8; m++ {
			view[fmt.Sprintf("%d_%d", s, m)] = []string{state.Authenticated, state.Unknown, state.Unreachable, state.Untrusted}[(s+m)%4]
		}
	}
	for _, v := range []map[string]string{view, {}} {
		f, err := appendFrame(nil, &wireView{Type: typeView, View: v})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := fastView(f[4:])
		if !ok || !mapsEqual(got, v) {
			t.Fatalf("fast path on our own frame: ok=%v, %d entries, want %d", ok, len(got), len(v))
		}
	}
	for _, b := range []string{
		`{"type":"view", "view":{"1_1":"Unknown"}}`,
		`{"type":"view","view":{"01_1":"Unknown"}}`,
		`{"type":"view","view":{"1_1":"unknown"}}`,
		`{"type":"view","view":{"1_1":"Unknown"},"extra":1}`,
		`{"type":"view","view":{"1_1":"Unknown"}`,
	} {
		if _, ok := fastView([]byte(b)); ok {
			t.Errorf("fast path accepted %s", b)
		}
	}
}

// TestHelloFrame: the hello we put together by hand is json.Marshal's, and
// takes the fast decoding path with the general decoder's result; other
// shapes fall back to it.
func TestHelloFrame(t *testing.T) {
	self, _ := identity.ParseID("3_12")
	m := &Manager{self: self}
	for i, st := range []string{state.Authenticated, state.Unknown, state.Unreachable, state.Untrusted, state.Authenticated} {
		id, _ := identity.ParseID(fmt.Sprintf("%d_%d", i%2+1, i+1))
		m.order = append(m.order, &peer{spec: PeerSpec{ID: id}, status: st})
	}
	for _, n := range []int{0, 1, 5} {
		m.order = m.order[:n]
		m.viewVer++
		for _, port := range []int{0, 1, 7443, 65535} {
			got, err := m.helloFrameLocked(port)
			if err != nil {
				t.Fatal(err)
			}
			want := frame(t, &wireHello{Type: typeHello, From: self.String(), Version: protocolVersion, View: m.viewLocked(), UDPPort: port})
			if !bytes.Equal(got, want) {
				t.Fatalf("%d peers, port %d: hello %q, want %q", n, port, got, want)
			}
			fh, ok := fastHello(got[4:])
			if !ok {
				t.Fatalf("fast path refused our own hello %q", got[4:])
			}
			g, err := decodeHelloJSON(got[4:])
			if err != nil || !reflect.DeepEqual(fh, g) {
				t.Fatalf("fast path %+v, general %+v (%v)", fh, g, err)
			}
		}
	}
	for _, b := range []string{
		`{"type":"hello","from":"1_2","version":2, "view":{}}`,
		`{"type":"hello","from":"01_2","version":2,"view":{}}`,
		`{"type":"hello","from":"1_2","version":02,"view":{}}`,
		`{"type":"hello","from":"1_2","version":0,"view":{}}`,
		`{"type":"hello","from":"1_2","version":2,"view":{},"udp_port":0}`,
		`{"type":"hello","from":"1_2","version":2,"view":{},"udp_port":65536}`,
		`{"type":"hello","from":"1_2","version":2,"view":{"1_1":"unknown"}}`,
		`{"type":"hello","from":"1_2","version":2,"view":{},"extra":1}`,
		`{"type":"hello","from":"1_2","version":2}`,
	} {
		if h, ok := fastHello([]byte(b)); ok {
			t.Errorf("fast path accepted %s: %+v", b, h)
		}
	}
}

// view64Body is the body of a view frame naming 64 orchestrators.
func view64Body() []byte {
	view := map[string]string{}
	for s := 1; s <= 8; s++ {
		for m := 1; m <= 8; m++ {
			view[fmt.Sprintf("%d_%d", s, m)] = state.Authenticated
		}
	}
	f, _ := appendFrame(nil, &wireView{Type: typeView, View: view})
	return f[4:]
}

func BenchmarkDecodeView(b *testing.B) {
	body := view64Body()
	for b.Loop() {
		if _, err := decodeView(body); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReadFrame(t *testing.T) {
	big := make([]byte, 4)
	binary.BigEndian.PutUint32(big, maxFrame+1)
	for _, tc := range []struct {
		name string
		in   []byte
		want string // "" = ok
	}{
		{"ok", frame(t, &wireHeartbeat{Type: typeHeartbeat}), ""},
		{"empty", []byte{0, 0, 0, 0}, "protocol error: empty frame"},
		{"oversize", big, "protocol error: frame of 65537 bytes exceeds the 65536-byte limit"},
		{"short header", []byte{0, 0}, io.ErrUnexpectedEOF.Error()},
		{"short body", []byte{0, 0, 0, 9, '{'}, io.ErrUnexpectedEOF.Error()},
		{"nothing", nil, io.EOF.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readFrame(bytes.NewReader(tc.in))
			if (tc.want == "") != (err == nil) || err != nil && err.Error() != tc.want {
				t.Errorf("readFrame: %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := appendFrame(nil, &wireCert{Type: typeCert, PEM: strings.Repeat("x", maxFrame)}); err == nil {
		t.Error("appendFrame accepted an oversize message")
	}
}

func TestDecodeMessage(t *testing.T) {
	certPEM, _ := json.Marshal(string(fixedIdent.CertPEM))
	for _, tc := range []struct {
		name, in string
		want     string // message type, or the error
	}{
		{"hello", `{"type":"hello","from":"1_2","version":1,"view":{"1_1":"Authenticated","2_1":"Unreachable"}}`, "hello"},
		{"hello without view", `{"type":"hello","from":"1_2","version":1}`, "hello"},
		{"hello newer, extra field", `{"type":"hello","from":"1_2","version":3,"x":1}`, "hello"},
		{"hello bad from", `{"type":"hello","from":"1-2","version":1}`, `invalid orchestrator ID "1-2"`},
		{"hello version 0", `{"type":"hello","from":"1_2"}`, "protocol version 0"},
		{"heartbeat", `{"type":"heartbeat"}`, "heartbeat"},
		{"view", `{"type":"view","view":{"1_1":"Untrusted"}}`, "view"},
		{"view missing", `{"type":"view"}`, "view: missing view"},
		{"view bad status", `{"type":"view","view":{"1_1":"Fine"}}`, `status "Fine" for 1_1 is not one of`},
		{"view bad id", `{"type":"view","view":{"x":"Unknown"}}`, `invalid orchestrator ID "x"`},
		{"cert", `{"type":"cert","pem":` + string(certPEM) + `}`, "cert"},
		{"cert garbage", `{"type":"cert","pem":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`, "cert: "},
		{"records", string(validRecords()), "records"},
		{"records empty", `{"type":"records","records":[]}`, "records: 0 records"},
		{"records bad time", `{"type":"records","records":[{"kind":"remove","issuer":"1_1","id":"1_2","issued_at":"yesterday"}]}`, `issued_at "yesterday"`},
		{"records short nonce", `{"type":"records","records":[{"kind":"remove","issuer":"1_1","id":"1_2","issued_at":"2026-03-01T12:00:00Z","nonce":"AAAA","signature":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`, "nonce of 3 bytes"},
		{"records self", `{"type":"records","records":[{"kind":"remove","issuer":"1_1","id":"1_1","issued_at":"2026-03-01T12:00:00Z","nonce":"AAAAAAAAAAAAAAAAAAAAAA","signature":"` + strings.Repeat("A", 86) + `"}]}`, "cannot remove itself"},
		{"records old revoke", `{"type":"revoke","from":"1_1","revoked":["1_2"]}`, `unknown message type "revoke"`},
		{"have", string(validHave()), "have"},
		{"have none", `{"type":"have","keys":[]}`, "have"},
		{"have missing", `{"type":"have"}`, "have: missing keys"},
		{"have bad key", `{"type":"have","keys":["x"]}`, "is not 22 characters"},
		{"unknown type", `{"type":"trust","id":"1_2"}`, `unknown message type "trust"`},
		{"no type", `{"from":"1_2"}`, "frame has no type"},
		{"not json", `hello`, "decoding frame"},
		{"trailing", `{"type":"heartbeat"}{}`, "trailing data"},
		{"wrong shape", `{"type":"view","view":["1_1"]}`, "decoding frame"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := decodeMessage([]byte(tc.in))
			got := ""
			if err != nil {
				got = err.Error()
				var pe protoError
				if !errors.As(err, &pe) {
					t.Errorf("error %v is not a protocol error", err)
				}
			} else {
				got = msg.msgType()
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("decodeMessage = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2*time.Hour + 10*time.Second: "2h0m",
		5 * time.Minute:              "5m",
		90 * time.Second:             "2m",
		40 * time.Second:             "40s",
		800 * time.Millisecond:       "800ms",
		2 * time.Second:              "2s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	var b backoff
	var got []time.Duration
	for range 8 {
		got = append(got, b.delay(backoffCap))
	}
	for i, d := range got {
		want := min(backoffStart<<i, backoffCap)
		if d < want*8/10 || d > want*12/10 {
			t.Errorf("delay %d = %s, want %s ±20%%", i, d, want)
		}
	}
	b.reset()
	if d := b.delay(backoffCap); d > backoffStart*12/10 {
		t.Errorf("after reset: %s", d)
	}
}

// Fuzz targets: every decoder must reject garbage with an error, never
// panic, and what it accepts must survive a re-encode.

func FuzzReadFrame(f *testing.F) {
	f.Add(frame(f, &wireHeartbeat{Type: typeHeartbeat}))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(append(frame(f, &wireView{Type: typeView, View: map[string]string{"1_1": "Unknown"}}), 0, 0, 0, 1, '{'))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			body, err := readFrame(r)
			if err != nil {
				return
			}
			if len(body) == 0 || len(body) > maxFrame {
				t.Fatalf("accepted a %d-byte frame", len(body))
			}
			decodeMessage(body)
		}
	})
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{`{"type":"heartbeat"}`, `{"type":"hello","from":"1_2","version":1,"view":{"1_1":"Unknown"}}`, `{"type":"view","view":{}}`, `{"type":"cert","pem":""}`, `{"type":"udp-ok"}`, `{"type":"x"}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Add(validRecords())
	f.Add(validHave())
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := decodeMessage(b)
		if err == nil && msg == nil {
			t.Fatal("nil message without error")
		}
	})
}

func FuzzDecodeHello(f *testing.F) {
	f.Add([]byte(`{"type":"hello","from":"1_2","version":1,"view":{"1_1":"Authenticated"}}`))
	f.Add([]byte(`{"type":"hello","from":"254_254","version":2}`))
	f.Add([]byte(`{"type":"hello","from":"1_2","version":1,"view":{},"udp_port":7443}`))
	f.Add([]byte(`{"type":"hello","from":"1_2","version":1,"udp_port":70000}`))
	f.Add([]byte(`{"type":"hello","from":"1_2","version":2,"view":{"1_1":"Authenticated","2_1":"Unknown"},"udp_port":7443}`))
	f.Add([]byte(`{"type":"hello","from":"1_2","version":02,"view":{},"udp_port":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if fh, ok := fastHello(b); ok {
			g, err := decodeHelloJSON(b)
			if err != nil {
				t.Fatalf("fast path accepted %q, general decoder: %v", b, err)
			}
			if !reflect.DeepEqual(fh, g) {
				t.Fatalf("fast path %+v, general %+v for %q", fh, g, b)
			}
		}
		h, err := decodeHello(b)
		if err != nil {
			return
		}
		again, err := decodeHello(body(frame(t, &wireHello{Type: typeHello, From: h.From.String(), Version: h.Version, View: h.View, UDPPort: h.UDPPort})))
		if err != nil || !reflect.DeepEqual(again, h) {
			t.Fatalf("round trip: %+v vs %+v (%v)", again, h, err)
		}
	})
}

func FuzzDecodeView(f *testing.F) {
	f.Add([]byte(`{"type":"view","view":{"1_1":"Authenticated","2_1":"Untrusted"}}`))
	f.Add([]byte(`{"type":"view","view":{"01_1":"Unknown"}}`))
	f.Add([]byte(`{"type":"view","view":{}}`))
	f.Add([]byte(`{"type":"view","view":{"1_1":"Unreachable","1_1":"Unknown"}}`))
	f.Add([]byte(`{"type":"view","view":{"1_1":"Unreachable",}}`))
	f.Add([]byte(`{"type":"view","view":{"1_1":"Unreachable"}} `))
	f.Add([]byte(`{"type":"view","view":{"1_1":"Unre\u0061chable"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The fast path agrees with the general decoder on everything it
		// accepts.
		if fv, ok := fastView(b); ok {
			g, err := decodeViewJSON(b)
			if err != nil {
				t.Fatalf("fast path accepted %q, general decoder: %v", b, err)
			}
			if !mapsEqual(fv, g.View) {
				t.Fatalf("fast path %v, general %v for %q", fv, g.View, b)
			}
		}
		v, err := decodeView(b)
		if err != nil {
			return
		}
		for k := range v.View {
			if _, err := identity.ParseID(k); err != nil {
				t.Fatalf("accepted key %q", k)
			}
		}
	})
}

func FuzzDecodeCert(f *testing.F) {
	w, _ := json.Marshal(&wireCert{Type: typeCert, PEM: string(fixedIdent.CertPEM)})
	f.Add(w)
	f.Add([]byte(`{"type":"cert","pem":"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := decodeCert(b); err == nil && c.Cert == nil {
			t.Fatal("no certificate without error")
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add(validRecords())
	f.Add(validHave())
	f.Add([]byte(`{"type":"records","records":[{"kind":"remove","issuer":"1_1","id":"1_2","issued_at":"2026-03-01T12:00:00Z","nonce":"AAAAAAAAAAAAAAAAAAAAAA","signature":"AA"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := decodeHave(b); err == nil && h.Keys == nil {
			t.Fatal("have without keys")
		}
		r, err := decodeRecords(b)
		if err != nil {
			return
		}
		if len(r.Records) == 0 || len(r.Records) > recordsPerFrame {
			t.Fatalf("accepted %d records", len(r.Records))
		}
	})
}

// FuzzVerifyRecords: whatever the bytes, a record that verifies against
// the fixed key says exactly what was signed.
func FuzzVerifyRecords(f *testing.F) {
	good := validRecords()
	want, _ := decodeRecords(good)
	f.Add(good)
	f.Add(bytes.Replace(good, []byte("1_3"), []byte("1_2"), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecords(b)
		if err != nil {
			return
		}
		for _, rec := range r.Records {
			if rec.Verify(fixedIdent.Public()) != nil {
				continue
			}
			w := want.Records[0]
			if rec.Kind != w.Kind || rec.Issuer != w.Issuer || rec.Subject != w.Subject || rec.Fingerprint != w.Fingerprint ||
				!rec.IssuedAt.Equal(w.IssuedAt) || !bytes.Equal(rec.Nonce, w.Nonce) {
				t.Fatalf("verified a record nobody signed: %+v", rec)
			}
		}
	})
}

func BenchmarkDecodeViewJSON(b *testing.B) {
	body := view64Body()
	for b.Loop() {
		if _, err := decodeViewJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeHello(b *testing.B) {
	view := map[string]string{}
	for s := 1; s <= 8; s++ {
		for m := 1; m <= 8; m++ {
			view[fmt.Sprintf("%d_%d", s, m)] = state.Authenticated
		}
	}
	body := body(frame(b, &wireHello{Type: typeHello, From: "1_2", Version: protocolVersion, View: view, UDPPort: 7443}))
	for b.Loop() {
		if _, err := decodeMessage(body); err != nil {
			b.Fatal(err)
		}
	}
}
