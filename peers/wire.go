package peers

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/records"
	"github.com/orchd/orchd/state"
)

// Wire format, after the TLS handshake: frames of a 4-byte big-endian
// length followed by that many bytes of one JSON object with a "type".
// Unknown fields are ignored (a newer peer may add some); unknown types,
// empty or oversize frames and malformed values are errors that close the
// session. No message can add trust: trust comes only from the pins.

// maxFrame bounds a frame body; the largest legitimate message, a view of a
// full 254×254 topology, would not fit, but real topologies are far smaller.
const maxFrame = 64 << 10

// protocolVersion is sent in hello so that a later version can avoid sending
// message types an older peer would reject.
// Version 2 added the record exchange (have, records); version 3 the slow
// flag of liveness datagrams (livewire.go), sent only to version 3 peers.
const protocolVersion = 3

// Message types.
const (
	typeHello     = "hello"
	typeHeartbeat = "heartbeat"
	typeView      = "view"
	typeCert      = "cert"
	typeHave      = "have"
	typeRecords   = "records"
	// typeUDPOK says "your liveness datagrams reach me": the sender of
	// the datagrams may stop TLS heartbeats. Sent only to a peer whose
	// hello offered datagrams (udp_port), which therefore knows it.
	typeUDPOK = "udp-ok"
)

// protoError marks a peer that broke the protocol, as opposed to a network
// failure: the session is closed and the peer's data ignored.
type protoError struct{ err error }

func (e protoError) Error() string { return "protocol error: " + e.err.Error() }
func (e protoError) Unwrap() error { return e.err }

func protof(format string, a ...any) error { return protoError{fmt.Errorf(format, a...)} }

// readFrame reads one frame body.
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return nil, protof("empty frame")
	}
	if n > maxFrame {
		return nil, protof("frame of %d bytes exceeds the %d-byte limit", n, maxFrame)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}

// appendFrame encodes v as one frame appended to dst.
func appendFrame(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("encoding frame: %w", err)
	}
	if len(b) > maxFrame {
		return dst, fmt.Errorf("frame of %d bytes exceeds the %d-byte limit", len(b), maxFrame)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...), nil
}

// JSON shapes on the wire.
type (
	wireEnvelope struct {
		Type string `json:"type"`
	}
	wireHello struct {
		Type    string            `json:"type"`
		From    string            `json:"from"`
		Version int               `json:"version"`
		View    map[string]string `json:"view"`
		// UDPPort offers liveness datagrams (livewire.go) on this UDP
		// port of the session's address; absent: TLS heartbeats only.
		UDPPort int `json:"udp_port,omitempty"`
	}
	wireUDPOK struct {
		Type string `json:"type"`
	}
	wireHeartbeat struct {
		Type string `json:"type"`
	}
	wireView struct {
		Type string            `json:"type"`
		View map[string]string `json:"view"`
	}
	wireCert struct {
		Type string `json:"type"`
		PEM  string `json:"pem"`
	}
	wireHave struct {
		Type string   `json:"type"`
		Keys []string `json:"keys"`
	}
	wireRecords struct {
		Type    string           `json:"type"`
		Records []records.Record `json:"records"`
	}
)

// Decoded messages.
type (
	message interface{ msgType() string }

	helloMsg struct {
		From    identity.ID
		Version int
		View    map[string]string
		UDPPort int
	}
	udpOKMsg     struct{}
	heartbeatMsg struct{}
	viewMsg      struct{ View map[string]string }
	certMsg      struct {
		Cert *x509.Certificate
		PEM  []byte
	}
	haveMsg    struct{ Keys map[string]bool }
	recordsMsg struct{ Records []records.Record }
)

func (*helloMsg) msgType() string     { return typeHello }
func (*heartbeatMsg) msgType() string { return typeHeartbeat }
func (*udpOKMsg) msgType() string     { return typeUDPOK }
func (*viewMsg) msgType() string      { return typeView }
func (*certMsg) msgType() string      { return typeCert }
func (*haveMsg) msgType() string      { return typeHave }
func (*recordsMsg) msgType() string   { return typeRecords }

// viewPrefix starts every view frame we send (encoding/json keeps field
// order): such a frame skips the envelope pass, one full scan of the
// largest and most frequent message of a converging mesh.
var viewPrefix = []byte(`{"type":"view",`)

// decodeMessage decodes one frame body of any type.
func decodeMessage(b []byte) (message, error) {
	if bytes.HasPrefix(b, viewPrefix) {
		return decodeView(b)
	}
	if bytes.HasPrefix(b, helloHead) {
		return decodeHello(b)
	}
	var env wireEnvelope
	if err := unmarshal(b, &env); err != nil {
		return nil, err
	}
	switch env.Type {
	case typeHello:
		return decodeHello(b)
	case typeHeartbeat:
		return &heartbeatMsg{}, nil
	case typeUDPOK:
		return &udpOKMsg{}, nil
	case typeView:
		return decodeView(b)
	case typeCert:
		return decodeCert(b)
	case typeHave:
		return decodeHave(b)
	case typeRecords:
		return decodeRecords(b)
	case "":
		return nil, protof("frame has no type")
	}
	return nil, protof("unknown message type %q", env.Type)
}

// unmarshal decodes exactly one JSON object.
func unmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return protof("decoding frame: %v", err)
	}
	if dec.More() {
		return protof("trailing data after the JSON object")
	}
	return nil
}

func decodeHello(b []byte) (*helloMsg, error) {
	if h, ok := fastHello(b); ok {
		return h, nil
	}
	return decodeHelloJSON(b)
}

// decodeHelloJSON is the general decoder (whitespace, escapes, extra fields).
func decodeHelloJSON(b []byte) (*helloMsg, error) {
	var w wireHello
	if err := unmarshal(b, &w); err != nil {
		return nil, err
	}
	if w.Type != typeHello {
		return nil, protof("expected hello, got %q", w.Type)
	}
	from, err := identity.ParseID(w.From)
	if err != nil {
		return nil, protof("hello: %v", err)
	}
	if w.Version < 1 {
		return nil, protof("hello: protocol version %d, expected 1 or later", w.Version)
	}
	view, err := checkView(w.View)
	if err != nil {
		return nil, protof("hello: %v", err)
	}
	if w.UDPPort < 0 || w.UDPPort > 65535 {
		return nil, protof("hello: udp_port %d is not a port number (0-65535)", w.UDPPort)
	}
	return &helloMsg{From: from, Version: w.Version, View: view, UDPPort: w.UDPPort}, nil
}

func decodeView(b []byte) (*viewMsg, error) {
	if v, ok := fastView(b); ok {
		return &viewMsg{View: v}, nil
	}
	return decodeViewJSON(b)
}

// decodeViewJSON is the general decoder (whitespace, escapes, extra fields).
func decodeViewJSON(b []byte) (*viewMsg, error) {
	var w wireView
	if err := unmarshal(b, &w); err != nil {
		return nil, err
	}
	if w.Type != typeView {
		return nil, protof("expected view, got %q", w.Type)
	}
	if w.View == nil {
		return nil, protof("view: missing view")
	}
	view, err := checkView(w.View)
	if err != nil {
		return nil, protof("view: %v", err)
	}
	return &viewMsg{View: view}, nil
}

// viewHead starts a view frame exactly as encoding/json writes ours.
var viewHead = []byte(`{"type":"view","view":{`)

// fastView decodes a view frame in the exact shape we send (json.Marshal of
// wireView: no whitespace, canonical IDs, the four statuses) without
// reflection: a converging 64-node mesh receives thousands of them, and the
// general decoder cost ~40 µs each. ok is false for anything else, which
// then takes the general path with its errors.
func fastView(b []byte) (view map[string]string, ok bool) {
	rest, ok := bytes.CutPrefix(b, viewHead)
	if !ok {
		return nil, false
	}
	view, rest, ok = fastViewBody(rest)
	if !ok || string(rest) != "}" {
		return nil, false
	}
	return view, true
}

// fastViewBody decodes a view object's entries, in the shape json.Marshal
// writes ours, from just after its opening brace; rest follows its closing
// brace.
func fastViewBody(b []byte) (view map[string]string, rest []byte, ok bool) {
	view = make(map[string]string, bytes.Count(b, []byte{':'}))
	if len(b) > 0 && b[0] == '}' {
		return view, b[1:], true
	}
	rest = b
	for {
		if len(rest) == 0 || rest[0] != '"' {
			return nil, nil, false
		}
		end := bytes.IndexByte(rest[1:], '"')
		if end < 0 {
			return nil, nil, false
		}
		key := rest[1 : 1+end]
		rest = rest[2+end:]
		// ParseID accepts only the canonical form (no leading zeros).
		k := string(key)
		if _, err := identity.ParseID(k); err != nil || len(rest) < 2 || rest[0] != ':' || rest[1] != '"' {
			return nil, nil, false
		}
		rest = rest[2:]
		end = bytes.IndexByte(rest, '"')
		if end < 0 {
			return nil, nil, false
		}
		st := knownStatus(rest[:end])
		if st == "" {
			return nil, nil, false
		}
		view[k] = st
		rest = rest[end+1:]
		switch {
		case len(rest) > 0 && rest[0] == ',':
			rest = rest[1:]
		case len(rest) > 0 && rest[0] == '}':
			return view, rest[1:], true
		default:
			return nil, nil, false
		}
	}
}

// helloHead starts a hello frame exactly as encoding/json writes ours.
var helloHead = []byte(`{"type":"hello","from":"`)

// fastHello decodes a hello in the exact shape we send (helloFrameLocked)
// without reflection, as fastView does a view: each session of a 64-node
// trust starts with one. ok is false for anything else, which then takes
// the general path with its errors.
func fastHello(b []byte) (*helloMsg, bool) {
	rest, ok := bytes.CutPrefix(b, helloHead)
	if !ok {
		return nil, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return nil, false
	}
	from, err := identity.ParseID(string(rest[:end]))
	if err != nil || from.String() != string(rest[:end]) {
		return nil, false
	}
	rest, ok = bytes.CutPrefix(rest[end+1:], []byte(`,"version":`))
	if !ok {
		return nil, false
	}
	version, rest, ok := fastUint(rest, 1<<20)
	if !ok || version < 1 {
		return nil, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"view":{`)); !ok {
		return nil, false
	}
	view, rest, ok := fastViewBody(rest)
	if !ok {
		return nil, false
	}
	port := 0
	if r, ok := bytes.CutPrefix(rest, []byte(`,"udp_port":`)); ok {
		if port, rest, ok = fastUint(r, 65535); !ok || port == 0 {
			return nil, false
		}
	}
	if string(rest) != "}" {
		return nil, false
	}
	return &helloMsg{From: from, Version: version, View: view, UDPPort: port}, true
}

// fastUint reads a decimal in json.Marshal's form (no sign, no leading
// zero) up to limit.
func fastUint(b []byte, limit int) (n int, rest []byte, ok bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		if n > limit {
			return 0, nil, false
		}
		i++
	}
	if i == 0 || (b[0] == '0' && i > 1) {
		return 0, nil, false
	}
	return n, b[i:], true
}

// knownStatus returns the status constant b spells, "" if none.
func knownStatus(b []byte) string {
	for _, st := range [...]string{state.Authenticated, state.Unknown, state.Unreachable, state.Untrusted} {
		if string(b) == st {
			return st
		}
	}
	return ""
}

// checkView validates a peer's view: orchestrator IDs to one of the four
// statuses. It returns the view with canonical IDs (nil stays nil).
func checkView(v map[string]string) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	out := make(map[string]string, len(v))
	for k, st := range v {
		id, err := identity.ParseID(k)
		if err != nil {
			return nil, err
		}
		switch st {
		case state.Authenticated, state.Unknown, state.Unreachable, state.Untrusted:
		default:
			return nil, fmt.Errorf("status %q for %s is not one of Authenticated, Unknown, Unreachable, Untrusted", st, id)
		}
		out[id.String()] = st
	}
	return out, nil
}

func decodeCert(b []byte) (*certMsg, error) {
	var w wireCert
	if err := unmarshal(b, &w); err != nil {
		return nil, err
	}
	if w.Type != typeCert {
		return nil, protof("expected cert, got %q", w.Type)
	}
	c, err := identity.ParseCertificatePEM([]byte(w.PEM))
	if err != nil {
		return nil, protof("cert: %v", err)
	}
	return &certMsg{Cert: c, PEM: []byte(w.PEM)}, nil
}

func decodeHave(b []byte) (*haveMsg, error) {
	var w wireHave
	if err := unmarshal(b, &w); err != nil {
		return nil, err
	}
	if w.Keys == nil {
		return nil, protof("have: missing keys")
	}
	if len(w.Keys) > maxHave {
		return nil, protof("have: %d keys, at most %d", len(w.Keys), maxHave)
	}
	keys := make(map[string]bool, len(w.Keys))
	for _, k := range w.Keys {
		if len(k) != records.KeyLen {
			return nil, protof("have: key %.40q is not %d characters", k, records.KeyLen)
		}
		keys[k] = true
	}
	return &haveMsg{Keys: keys}, nil
}

func decodeRecords(b []byte) (*recordsMsg, error) {
	var w wireRecords
	if err := unmarshal(b, &w); err != nil {
		return nil, err
	}
	if len(w.Records) == 0 || len(w.Records) > recordsPerFrame {
		return nil, protof("records: %d records, expected 1 to %d", len(w.Records), recordsPerFrame)
	}
	return &recordsMsg{Records: w.Records}, nil
}
