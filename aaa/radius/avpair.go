package radius

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"layeh.com/radius"
)

// Cisco's vendor ID and its AV-pair sub-attribute (Cisco-AVPair).
const (
	VendorCisco    = 9
	CiscoAVPairTyp = 1
	typeVendorSpec = 26
)

// CiscoAVPairs returns every Cisco-AVPair value in p's Vendor-Specific
// attributes, in order. Vendor-Specific attributes of other vendors are
// skipped; a malformed Cisco one is an error.
func CiscoAVPairs(p *radius.Packet) ([]string, error) {
	var out []string
	for _, avp := range p.Attributes {
		if avp.Type != typeVendorSpec {
			continue
		}
		vals, err := ParseCiscoVSA(avp.Attribute)
		if err != nil {
			return nil, err
		}
		out = append(out, vals...)
	}
	return out, nil
}

// ParseCiscoVSA parses the value of one Vendor-Specific attribute (vendor
// ID, then vendor-type/vendor-length/data sub-attributes) and returns its
// Cisco-AVPair strings; nil for another vendor.
func ParseCiscoVSA(b []byte) ([]string, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("vendor-specific attribute of %d bytes: expected at least a 4-byte vendor ID", len(b))
	}
	if binary.BigEndian.Uint32(b[:4]) != VendorCisco {
		return nil, nil
	}
	var out []string
	rest := b[4:]
	if len(rest) == 0 {
		return nil, fmt.Errorf("cisco vendor-specific attribute with no sub-attribute")
	}
	for len(rest) > 0 {
		if len(rest) < 2 || int(rest[1]) < 2 || int(rest[1]) > len(rest) {
			return nil, fmt.Errorf("cisco vendor-specific attribute: malformed sub-attribute (%d bytes left)", len(rest))
		}
		typ, val := rest[0], rest[2:rest[1]]
		rest = rest[rest[1]:]
		if typ != CiscoAVPairTyp {
			continue
		}
		if !utf8.Valid(val) {
			return nil, fmt.Errorf("cisco-avpair is not UTF-8 text")
		}
		out = append(out, string(val))
	}
	return out, nil
}

// CiscoVSA builds a Vendor-Specific attribute holding one Cisco-AVPair
// (tests and the bench's in-process server use it).
func CiscoVSA(value string) (radius.Attribute, error) {
	if len(value) > 247 {
		return nil, fmt.Errorf("cisco-avpair of %d bytes: expected at most 247", len(value))
	}
	sub := append([]byte{CiscoAVPairTyp, byte(len(value) + 2)}, value...)
	return radius.NewVendorSpecific(VendorCisco, sub)
}
