package syncport

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// decodeLinkMessage is what the link subscription does with one rtnetlink
// message from the kernel: the library's deserializer, then our reduction.
func decodeLinkMessage(msgType uint16, data []byte) (Event, bool) {
	hdr := unix.NlMsghdr{Len: uint32(unix.SizeofNlMsghdr + len(data)), Type: msgType}
	l, err := netlink.LinkDeserialize(&hdr, data)
	if err != nil {
		return Event{}, false
	}
	return linkEvent(msgType, l)
}

func linkMessage(index int32, flags uint32, name string, oper uint8) []byte {
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = index
	msg.Flags = flags
	b := msg.Serialize()
	b = append(b, nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)).Serialize()...)
	return append(b, nl.NewRtAttr(unix.IFLA_OPERSTATE, []byte{oper}).Serialize()...)
}

func TestDecodeLinkMessage(t *testing.T) {
	tests := []struct {
		typ  uint16
		data []byte
		want Event
		ok   bool
	}{
		{unix.RTM_NEWLINK, linkMessage(7, unix.IFF_UP|unix.IFF_LOWER_UP, "sync-int", uint8(netlink.OperUp)), Event{Kind: LinkChanged, Index: 7, Name: "sync-int"}, true},
		{unix.RTM_DELLINK, linkMessage(8, 0, "sync-ext", uint8(netlink.OperDown)), Event{Kind: LinkRemoved, Index: 8, Name: "sync-ext"}, true},
		{unix.RTM_NEWADDR, linkMessage(7, 0, "sync-int", 0), Event{}, false},
	}
	for _, tt := range tests {
		got, ok := decodeLinkMessage(tt.typ, tt.data)
		if ok != tt.ok || got != tt.want {
			t.Errorf("decode(%d, %x) = %+v, %v; want %+v, %v", tt.typ, tt.data, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzDecodeLinkMessage feeds well-formed messages with arbitrary field
// values, as the kernel would send them. Arbitrary bytes are out of scope:
// the library's deserializer trusts the kernel's framing and panics on
// malformed attributes (netlink v1.3.1), which no kernel sends.
func FuzzDecodeLinkMessage(f *testing.F) {
	f.Add(uint16(unix.RTM_NEWLINK), int32(7), uint32(unix.IFF_UP|unix.IFF_LOWER_UP), "sync-int", uint8(netlink.OperUp))
	f.Add(uint16(unix.RTM_DELLINK), int32(8), uint32(0), "sync-ext", uint8(netlink.OperDown))
	f.Add(uint16(unix.RTM_NEWLINK), int32(1), uint32(unix.IFF_UP|unix.IFF_LOOPBACK), "lo", uint8(netlink.OperUnknown))
	f.Add(uint16(unix.RTM_NEWADDR), int32(-1), uint32(0xffffffff), "", uint8(255))
	f.Fuzz(func(t *testing.T, typ uint16, index int32, flags uint32, name string, oper uint8) {
		if len(name) > 255 {
			return
		}
		ev, ok := decodeLinkMessage(typ, linkMessage(index, flags, name, oper))
		if wantOK := typ == unix.RTM_NEWLINK || typ == unix.RTM_DELLINK; ok != wantOK {
			t.Fatalf("message type %d: ok = %v, want %v", typ, ok, wantOK)
		}
		if !ok {
			return
		}
		if want := map[bool]EventKind{true: LinkChanged, false: LinkRemoved}[typ == unix.RTM_NEWLINK]; ev.Kind != want {
			t.Errorf("message type %d decoded to %v, want %v", typ, ev.Kind, want)
		}
		if ev.Index != int(index) || ev.Name != name || ev.Addr.IsValid() || ev.Err != nil {
			t.Errorf("got %+v for index %d name %q", ev, index, name)
		}
	})
}

func TestAddrEvent(t *testing.T) {
	v4 := func(s string) net.IPNet {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		ip, _, _ := net.ParseCIDR(s)
		n.IP = ip.To4()
		return *n
	}
	tests := []struct {
		u    netlink.AddrUpdate
		want Event
		ok   bool
	}{
		{netlink.AddrUpdate{LinkAddress: v4("198.18.1.1/16"), LinkIndex: 7, NewAddr: true}, Event{Kind: AddrAdded, Index: 7, Addr: netip.MustParsePrefix("198.18.1.1/16")}, true},
		{netlink.AddrUpdate{LinkAddress: v4("198.18.1.1/16"), LinkIndex: 7}, Event{Kind: AddrRemoved, Index: 7, Addr: netip.MustParsePrefix("198.18.1.1/16")}, true},
		// A 16-byte form of an IPv4 address with a 16-byte mask.
		{netlink.AddrUpdate{LinkAddress: net.IPNet{IP: net.ParseIP("198.18.1.1"), Mask: net.CIDRMask(96+24, 128)}, LinkIndex: 3, NewAddr: true}, Event{Kind: AddrAdded, Index: 3, Addr: netip.MustParsePrefix("198.18.1.1/24")}, true},
		{netlink.AddrUpdate{LinkAddress: net.IPNet{IP: net.ParseIP("fe80::1"), Mask: net.CIDRMask(64, 128)}, LinkIndex: 7, NewAddr: true}, Event{}, false},
		{netlink.AddrUpdate{LinkAddress: net.IPNet{IP: net.IP{198, 18, 1, 1}, Mask: net.IPMask{255, 0, 255, 0}}, LinkIndex: 7}, Event{}, false},
		{netlink.AddrUpdate{}, Event{}, false},
	}
	for _, tt := range tests {
		got, ok := addrEvent(tt.u)
		if ok != tt.ok || got != tt.want {
			t.Errorf("addrEvent(%+v) = %+v, %v; want %+v, %v", tt.u, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzAddrEvent(f *testing.F) {
	f.Add([]byte{198, 18, 1, 1}, []byte{255, 255, 0, 0}, 7, true)
	f.Add([]byte(net.ParseIP("198.18.1.1").To16()), []byte(net.CIDRMask(120, 128)), 3, false)
	f.Add([]byte(net.ParseIP("fe80::1").To16()), []byte(net.CIDRMask(64, 128)), 7, true)
	f.Add([]byte{}, []byte{}, 0, false)
	f.Fuzz(func(t *testing.T, ip, mask []byte, index int, added bool) {
		ev, ok := addrEvent(netlink.AddrUpdate{LinkAddress: net.IPNet{IP: ip, Mask: mask}, LinkIndex: index, NewAddr: added})
		if !ok {
			return
		}
		if !ev.Addr.IsValid() || !ev.Addr.Addr().Is4() || ev.Addr.Bits() < 0 || ev.Addr.Bits() > 32 {
			t.Errorf("decoded to invalid IPv4 prefix %v", ev.Addr)
		}
		if want := map[bool]EventKind{true: AddrAdded, false: AddrRemoved}[added]; ev.Kind != want || ev.Index != index {
			t.Errorf("got %+v for index %d added=%v", ev, index, added)
		}
		// What we publish must parse back to the same prefix.
		if p, err := netip.ParsePrefix(ev.Addr.String()); err != nil || p != ev.Addr {
			t.Errorf("prefix %v does not round-trip: %v %v", ev.Addr, p, err)
		}
	})
}

func TestRetryInterrupted(t *testing.T) {
	calls := 0
	v, err := retryInterrupted(func() (int, error) {
		calls++
		if calls < 3 {
			return 0, netlink.ErrDumpInterrupted
		}
		return 42, nil
	})
	if v != 42 || err != nil || calls != 3 {
		t.Errorf("got %d, %v after %d calls; want 42, nil after 3", v, err, calls)
	}
	calls = 0
	_, err = retryInterrupted(func() (int, error) { calls++; return 0, netlink.ErrDumpInterrupted })
	if !errors.Is(err, netlink.ErrDumpInterrupted) || calls != dumpAttempts {
		t.Errorf("got %v after %d calls; want ErrDumpInterrupted after %d", err, calls, dumpAttempts)
	}
}
