// Package trustproto is the wire format of the orchd-trust SSH subsystem,
// the only way trust is ever added (DESIGN §5.2): the initiating
// orchestrator, logged in with an administrator's credentials over SSH on
// the sync network, sends one request naming the verified members; the
// target pins them and answers with a result per member. One JSON object
// per line each way.
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

	"github.com/orchd/orchd/identity"
)

// Subsystem is the SSH subsystem name.
const Subsystem = "orchd-trust"

// Version of the request format.
const Version = 1

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
	// Force accepts a changed key for a member the target already pins.
	Force bool `json:"force"`
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

// Parse validates the request and decodes its members.
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
