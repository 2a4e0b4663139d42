package state

import "encoding/json"

// Mesh is each peer's last reported view: peer ID → (other ID → status).
// It decodes the shape the daemon writes without reflection: orch_stat
// reads 4,032 entries with 63 peers, and the general decoder spent most of
// orch_stat's time on them. Anything else takes the general path.
type Mesh map[string]map[string]string

// UnmarshalJSON implements json.Unmarshaler.
func (m *Mesh) UnmarshalJSON(b []byte) error {
	if v, ok := fastMesh(b); ok {
		if v != nil {
			*m = v
		}
		return nil
	}
	var g map[string]map[string]string
	if err := json.Unmarshal(b, &g); err != nil {
		return err
	}
	if g != nil {
		*m = g
	}
	return nil
}

// meshScanner reads the JSON subset the daemon writes: objects, plain
// strings (printable ASCII, no escapes) and null, with any whitespace.
type meshScanner struct {
	b  []byte
	ok bool
}

func (s *meshScanner) ws() {
	for len(s.b) > 0 && (s.b[0] == ' ' || s.b[0] == '\n' || s.b[0] == '\t' || s.b[0] == '\r') {
		s.b = s.b[1:]
	}
}

// peek skips whitespace and returns the next byte (0 at the end).
func (s *meshScanner) peek() byte {
	s.ws()
	if len(s.b) == 0 {
		return 0
	}
	return s.b[0]
}

func (s *meshScanner) eat(c byte) bool {
	if !s.ok || s.peek() != c {
		s.ok = false
		return false
	}
	s.b = s.b[1:]
	return true
}

func (s *meshScanner) str() string {
	if !s.eat('"') {
		return ""
	}
	for i, c := range s.b {
		switch {
		case c == '"':
			v := string(s.b[:i])
			s.b = s.b[i+1:]
			return v
		case c < 0x20 || c > 0x7e || c == '\\':
			s.ok = false // escapes, control bytes, UTF-8: the general path
			return ""
		}
	}
	s.ok = false
	return ""
}

func (s *meshScanner) null() bool {
	if s.peek() == 'n' && len(s.b) >= 4 && string(s.b[:4]) == "null" {
		s.b = s.b[4:]
		return true
	}
	return false
}

// members reads an object's members, calling each with its key.
func (s *meshScanner) members(each func(key string)) {
	if !s.eat('{') {
		return
	}
	if s.peek() == '}' {
		s.b = s.b[1:]
		return
	}
	for s.ok {
		k := s.str()
		if !s.eat(':') {
			return
		}
		each(k)
		if !s.ok {
			return
		}
		switch s.peek() {
		case ',':
			s.b = s.b[1:]
		case '}':
			s.b = s.b[1:]
			return
		default:
			s.ok = false
		}
	}
}

func fastMesh(b []byte) (Mesh, bool) {
	s := &meshScanner{b: b, ok: true}
	if s.null() {
		s.ws()
		return nil, len(s.b) == 0
	}
	m := Mesh{}
	s.members(func(from string) {
		if s.null() {
			m[from] = nil
			return
		}
		view := make(map[string]string, 64)
		s.members(func(to string) { view[to] = s.str() })
		m[from] = view // a repeated key replaces, as in encoding/json
	})
	s.ws()
	return m, s.ok && len(s.b) == 0
}
