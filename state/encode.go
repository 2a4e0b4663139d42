package state

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// Encode returns f exactly as json.MarshalIndent(f, "", "  ") would, but
// writes the mesh matrix by hand: with 63 peers it is 4,032 entries, and
// reflection over nested maps (sorting every inner map's keys) made each
// state-file write cost ~10 ms while a large mesh converged. The small
// parts still go through encoding/json. TestEncodeMatchesMarshalIndent
// keeps the two identical, also when File gains a field.
func Encode(f *File) ([]byte, error) {
	return AppendEncode(make([]byte, 0, encodedSize(f)), f)
}

// encodedSize estimates the encoded length of f from above, so that one
// allocation holds it (a 63-peer file is ~144 KB).
func encodedSize(f *File) int {
	n := len(f.Peers) + 1
	return 4096 + 512*n + 48*n*n
}

// AppendEncode appends Encode(f) to b.
func AppendEncode(b []byte, f *File) ([]byte, error) {
	return appendEncode(b, f, nil)
}

// encodedRow is a view's encoding in the mesh matrix, kept with the view
// itself so that its address cannot be reused by another map while cached.
type encodedRow struct {
	view map[string]string
	b    []byte
}

// appendEncode is AppendEncode; rows, if not nil, caches the encoded mesh
// rows by view (see Writer).
func appendEncode(b []byte, f *File, rows map[string]encodedRow) ([]byte, error) {
	b = append(b, "{\n  \"schema\": "...)
	b = fmt.Appendf(b, "%d", f.Schema)
	var err error
	field := func(key string, v any) {
		if err != nil {
			return
		}
		var x []byte
		if x, err = json.MarshalIndent(v, "  ", "  "); err != nil {
			err = fmt.Errorf("encoding %s: %w", key, err)
			return
		}
		b = append(b, ",\n  \""...)
		b = append(b, key...)
		b = append(b, "\": "...)
		b = append(b, x...)
	}
	field("orchestrator", f.Orchestrator)
	field("sync_ports", f.SyncPorts)
	if err != nil {
		return nil, err
	}
	b = append(b, ",\n  \"peers\": "...)
	if b, err = appendPeers(b, f.Peers); err != nil {
		return nil, err
	}
	b = append(b, ",\n  \"mesh\": "...)
	if rows != nil {
		b = appendMeshCached(b, f.Mesh, rows)
	} else {
		b = appendMesh(b, f.Mesh)
	}
	field("state_age_seconds", f.StateAgeSeconds)
	field("daemon", f.Daemon)
	if f.Logins != nil {
		field("logins", f.Logins)
	}
	if err != nil {
		return nil, err
	}
	return append(b, "\n}"...), nil
}

// appendPeers writes the peers list at the file's second level of
// indentation, as MarshalIndent would. By hand: 63 peers through
// reflection (MarshalIndent marshals, then indents a second pass) were 40 %
// of each state-file write while a 64-node mesh formed.
func appendPeers(b []byte, ps []Peer) ([]byte, error) {
	switch {
	case ps == nil:
		return append(b, "null"...), nil
	case len(ps) == 0:
		return append(b, "[]"...), nil
	}
	var err error
	b = append(b, '[')
	for i := range ps {
		p := &ps[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    {"...)
		b = appendPeerField(b, "id", p.ID, true)
		b = appendPeerField(b, "status", p.Status, false)
		b = appendPeerField(b, "fingerprint", p.Fingerprint, false)
		b = appendPeerField(b, "reason", p.Reason, false)
		b = append(b, ",\n      \"since\": "...)
		if b, err = appendTime(b, p.Since); err != nil {
			return nil, err
		}
		b = appendPeerField(b, "port", p.Port, false)
		if p.Address != "" {
			b = appendPeerField(b, "address", p.Address, false)
		}
		if p.CertNotAfter != nil {
			b = append(b, ",\n      \"cert_not_after\": "...)
			if b, err = appendTime(b, *p.CertNotAfter); err != nil {
				return nil, err
			}
		}
		if p.PresentedFingerprint != "" {
			b = appendPeerField(b, "presented_fingerprint", p.PresentedFingerprint, false)
		}
		b = append(b, "\n    }"...)
	}
	return append(b, "\n  ]"...), nil
}

func appendPeerField(b []byte, key, v string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, "\n      \""...)
	b = append(b, key...)
	b = append(b, "\": "...)
	return appendString(b, v)
}

// appendTime writes t as time.Time's MarshalJSON does (strict RFC 3339
// with nanoseconds, the same errors).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, fmt.Errorf("encoding peers: %w", err)
	}
	return append(b, '"'), nil
}

// appendMesh writes the mesh at the file's second level of indentation.
func appendMesh(b []byte, mesh map[string]map[string]string) []byte {
	if mesh == nil {
		return append(b, "null"...)
	}
	if len(mesh) == 0 {
		return append(b, "{}"...)
	}
	// Every view names (nearly) the same orchestrators: sort their union
	// once instead of each view's keys (64 sorts were most of the cost).
	union := map[string]struct{}{}
	for _, view := range mesh {
		for k := range view {
			union[k] = struct{}{}
		}
	}
	all := sortedKeys(union)
	b = append(b, '{')
	for i, from := range sortedKeys(mesh) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRow(b, from, mesh[from], all)
	}
	return append(b, "\n  }"...)
}

// appendMeshCached is appendMesh reusing the encoding of every view that is
// the same map as at the last call: one status change rewrites the file,
// and re-encoding 63 unchanged views of 63 entries each made that write
// take 100-270 ms at 63 nodes at once when a peer died (each waited for
// CPU), delaying the Unreachable that admins and scripts read.
func appendMeshCached(b []byte, mesh map[string]map[string]string, rows map[string]encodedRow) []byte {
	if len(mesh) == 0 {
		clear(rows)
		return appendMesh(b, mesh)
	}
	b = append(b, '{')
	for i, from := range sortedKeys(mesh) {
		if i > 0 {
			b = append(b, ',')
		}
		view := mesh[from]
		if r, ok := rows[from]; ok && view != nil && reflect.ValueOf(r.view).UnsafePointer() == reflect.ValueOf(view).UnsafePointer() {
			b = append(b, r.b...)
			continue
		}
		start := len(b)
		b = appendRow(b, from, view, sortedKeys(view))
		if view != nil {
			rows[from] = encodedRow{view: view, b: slices.Clone(b[start:])}
		}
	}
	for from := range rows {
		if _, ok := mesh[from]; !ok {
			delete(rows, from)
		}
	}
	return append(b, "\n  }"...)
}

// appendRow writes the view of from, its entries in the order of keys
// (sorted; those the view lacks are skipped).
func appendRow(b []byte, from string, view map[string]string, keys []string) []byte {
	b = append(b, "\n    "...)
	b = appendString(b, from)
	b = append(b, ": "...)
	switch {
	case view == nil:
		return append(b, "null"...)
	case len(view) == 0:
		return append(b, "{}"...)
	}
	b = append(b, '{')
	j := 0
	for _, to := range keys {
		st, ok := view[to]
		if !ok {
			continue
		}
		if j > 0 {
			b = append(b, ',')
		}
		j++
		b = append(b, "\n      "...)
		b = appendString(b, to)
		b = append(b, ": "...)
		b = appendString(b, st)
	}
	return append(b, "\n    }"...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // encoding/json sorts map keys by their bytes too
	return keys
}

// appendString quotes s as encoding/json does: plain printable ASCII
// directly, anything else (escapes, HTML-unsafe characters, UTF-8) by
// encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			x, _ := json.Marshal(s)
			return append(b, x...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
