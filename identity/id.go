// Package identity owns an orchestrator's identity: its ID (S_M), its Ed25519
// key, the SSH-style fingerprint of that key and the self-signed TLS
// certificate that carries it.
package identity

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxSite and MaxMember bound IDs so that derived addresses stay inside one
// octet each.
const (
	MaxSite   = 254
	MaxMember = 254
)

// ID names an orchestrator: site S, member M, written S_M.
type ID struct {
	Site, Member int
}

func (id ID) String() string {
	// Not fmt: a 64-node mesh formats IDs by the thousand per second.
	var b [8]byte
	out := strconv.AppendInt(b[:0], int64(id.Site), 10)
	out = append(out, '_')
	return string(strconv.AppendInt(out, int64(id.Member), 10))
}

// IsZero reports whether id is unset.
func (id ID) IsZero() bool { return id.Site == 0 && id.Member == 0 }

// ParseID parses "S_M" such as "1_2".
func ParseID(s string) (ID, error) {
	bad := func() (ID, error) {
		return ID{}, fmt.Errorf("invalid orchestrator ID %q: expected S_M such as 1_2 (site and member 1-%d)", s, MaxSite)
	}
	a, b, ok := strings.Cut(s, "_")
	if !ok {
		return bad()
	}
	site, err1 := parseSmall(a)
	member, err2 := parseSmall(b)
	if err1 != nil || err2 != nil || site < 1 || site > MaxSite || member < 1 || member > MaxMember {
		return bad()
	}
	return ID{Site: site, Member: member}, nil
}

func parseSmall(s string) (int, error) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("bad number %q", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad number %q", s)
		}
	}
	return strconv.Atoi(s)
}

// ParseIDList parses a comma-separated list without spaces ("1_2,2_1"),
// rejecting duplicates and empty elements.
func ParseIDList(s string) ([]ID, error) {
	if s == "" {
		return nil, fmt.Errorf("empty orchestrator list: expected IDs separated by commas without spaces, such as 1_2,2_1")
	}
	seen := map[ID]bool{}
	var out []ID
	for _, part := range strings.Split(s, ",") {
		id, err := ParseID(part)
		if err != nil {
			return nil, err
		}
		if seen[id] {
			return nil, fmt.Errorf("orchestrator ID %s listed twice in %q", id, s)
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, nil
}

// SortIDs orders IDs by site, then member.
func SortIDs(ids []ID) {
	sort.Slice(ids, func(i, j int) bool { return Less(ids[i], ids[j]) })
}

// Less orders IDs by site, then member.
func Less(a, b ID) bool {
	if a.Site != b.Site {
		return a.Site < b.Site
	}
	return a.Member < b.Member
}
