// Package trustproto is the wire format of the orchd-trust SSH subsystem,
// the only way trust is ever added (DESIGN §5.2): the initiating
// orchestrator, logged in with an administrator's credentials over SSH on
// the sync network, sends one request naming the verified members; the
// target pins them and answers with a result per member, then hears which
// members pin it in turn (Ready) until the initiator closes. One JSON
// object per line each way.
package trustproto

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/orchd/orchd/identity"
)

// Subsystem is the SSH subsystem name.
const Subsystem = "orchd-trust"

// Version of the request format. Version 2 signs the request with the
// initiator's identity key and names the IDs whose key may be replaced.
const Version = 2

// MaxSkew is how far a request's issued_at may be from the target's clock.
const MaxSkew = 5 * time.Minute

// MaxLine bounds one message.
const MaxLine = 256 << 10

// Member is an orchestrator whose key the initiator verified (or is).
type Member struct {
	ID        string `json:"id"`
	PublicKey string `json:"public_key"` // base64 of the raw Ed25519 key
}

// Request asks the target to trust Members (the initiator first).
type Request struct {
	Op      string   `json:"op"` // "trust"
	Version int      `json:"version"`
	From    string   `json:"from"`
	Members []Member `json:"members"`
	// Replace lists the members whose changed key the admin named with
	// force: only those may replace a key the target already pins.
	Replace []string `json:"replace,omitempty"`
	// Target is the orchestrator the request is for, IssuedAt when it was
	// made (RFC 3339): both are signed, so a captured request cannot be
	// replayed to another target or much later.
	Target   string `json:"target"`
	IssuedAt string `json:"issued_at"`
	// Signature (base64) by the initiator's identity key over Signed():
	// the initiator proves it holds the key it asks the target to pin.
	Signature string `json:"signature"`
}

// Signed is the canonical text the initiator signs.
func (r *Request) Signed() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "orchd trust request v2\nop=%s\nfrom=%s\ntarget=%s\nissued_at=%s\n", r.Op, r.From, r.Target, r.IssuedAt)
	for _, m := range r.Members {
		fmt.Fprintf(&b, "member=%s %s\n", m.ID, m.PublicKey)
	}
	for _, id := range r.Replace {
		fmt.Fprintf(&b, "replace=%s\n", id)
	}
	return []byte(b.String())
}

// Sign fills Target, IssuedAt and Signature.
func (r *Request) Sign(key ed25519.PrivateKey, target identity.ID, now time.Time) {
	r.Target = target.String()
	r.IssuedAt = now.UTC().Format(time.RFC3339Nano)
	r.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, r.Signed()))
}

// Response is the target's answer.
type Response struct {
	OK bool   `json:"ok"`
	ID string `json:"id"`
	// Error is set when the request as a whole was refused.
	Error string `json:"error,omitempty"`
	// Results maps each member ID to "trusted", "already trusted" or
	// "error: ...".
	Results map[string]string `json:"results,omitempty"`
}

// ParsedMember is a validated member.
type ParsedMember struct {
	ID  identity.ID
	Key ed25519.PublicKey
}

// NewMember encodes a member.
func NewMember(id identity.ID, key ed25519.PublicKey) Member {
	return Member{ID: id.String(), PublicKey: base64.StdEncoding.EncodeToString(key)}
}

// Parsed is a validated request.
type Parsed struct {
	From    identity.ID
	Members []ParsedMember
	Replace map[identity.ID]bool
}

// Verify validates the request for target at now: its form, and that it is
// signed by the key it names for the initiator.
func (r *Request) Verify(target identity.ID, now time.Time) (*Parsed, error) {
	from, members, err := r.Parse()
	if err != nil {
		return nil, err
	}
	if r.Target != target.String() {
		return nil, fmt.Errorf("request is for %q, not %s", r.Target, target)
	}
	at, err := time.Parse(time.RFC3339Nano, r.IssuedAt)
	if err != nil {
		return nil, fmt.Errorf("issued_at %q: expected an RFC 3339 time", r.IssuedAt)
	}
	if d := now.Sub(at); d > MaxSkew || d < -MaxSkew {
		return nil, fmt.Errorf("request issued at %s, more than %s from this orchestrator's clock", at.UTC().Format(time.RFC3339), MaxSkew)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(r.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("signature: expected %d bytes of base64", ed25519.SignatureSize)
	}
	var key ed25519.PublicKey
	for _, m := range members {
		if m.ID == from {
			key = m.Key
		}
	}
	if !ed25519.Verify(key, r.Signed(), sig) {
		return nil, fmt.Errorf("request not signed by the key %s it asks to pin for %s: nothing trusted", identity.Fingerprint(key), from)
	}
	p := &Parsed{From: from, Members: members, Replace: map[identity.ID]bool{}}
	in := map[identity.ID]bool{}
	for _, m := range members {
		in[m.ID] = true
	}
	for _, s := range r.Replace {
		id, err := identity.ParseID(s)
		if err != nil {
			return nil, fmt.Errorf("replace: %w", err)
		}
		if !in[id] {
			return nil, fmt.Errorf("replace names %s, which is not a member of the request", id)
		}
		p.Replace[id] = true
	}
	return p, nil
}

// Parse validates the request's form and decodes its members.
func (r *Request) Parse() (identity.ID, []ParsedMember, error) {
	if r.Op != "trust" {
		return identity.ID{}, nil, fmt.Errorf("unknown op %q: expected trust", r.Op)
	}
	if r.Version != Version {
		return identity.ID{}, nil, fmt.Errorf("request version %d, this orchestrator speaks %d", r.Version, Version)
	}
	from, err := identity.ParseID(r.From)
	if err != nil {
		return identity.ID{}, nil, fmt.Errorf("from: %w", err)
	}
	if len(r.Members) == 0 || len(r.Members) > 1024 {
		return identity.ID{}, nil, fmt.Errorf("%d members: expected 1 to 1024", len(r.Members))
	}
	seen := map[identity.ID]bool{}
	var out []ParsedMember
	hasFrom := false
	for _, m := range r.Members {
		id, err := identity.ParseID(m.ID)
		if err != nil {
			return identity.ID{}, nil, fmt.Errorf("member: %w", err)
		}
		if seen[id] {
			return identity.ID{}, nil, fmt.Errorf("member %s listed twice", id)
		}
		seen[id] = true
		k, err := base64.StdEncoding.DecodeString(m.PublicKey)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return identity.ID{}, nil, fmt.Errorf("member %s: public key is not a base64 Ed25519 key", id)
		}
		if id == from {
			hasFrom = true
		}
		out = append(out, ParsedMember{ID: id, Key: ed25519.PublicKey(k)})
	}
	if !hasFrom {
		return identity.ID{}, nil, fmt.Errorf("the initiator %s is not among the members", from)
	}
	return from, out, nil
}

// Ready follows a successful Response, from the initiator, any number of
// times: the members it names now pin the target, so the target may open
// its sessions with them (dialing one that does not pin it yet only earns
// a refusal). The initiator closes the session once every target answered,
// and the target then dials the rest. Only timing: trust comes from the
// signed request alone.
type Ready struct {
	Op      string   `json:"op"` // "ready"
	Members []string `json:"members"`
}

// ReadyOp is Ready's op.
const ReadyOp = "ready"

// IDs parses Members.
func (r *Ready) IDs() ([]identity.ID, error) {
	if r.Op != ReadyOp {
		return nil, fmt.Errorf("op %q: expected %q", r.Op, ReadyOp)
	}
	ids := make([]identity.ID, 0, len(r.Members))
	for _, m := range r.Members {
		id, err := identity.ParseID(m)
		if err != nil {
			return nil, fmt.Errorf("ready: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Write sends one message as a JSON line.
func Write(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Read reads one JSON line into v.
func Read(r *bufio.Reader, v any) error {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return err
		}
		line = append(line, chunk...)
		if len(line) > MaxLine {
			return errors.New("message too long")
		}
		if !isPrefix {
			break
		}
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding message: %w", err)
	}
	return nil
}
