package peers

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestArrivalStamp: a datagram read long after it arrived carries its
// arrival time, not the read's.
func TestArrivalStamp(t *testing.T) {
	u, err := listenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.close()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(u.local))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first socket to ask for timestamps turns them on machine-wide
	// from a kernel work queue; until then datagrams are stamped when read.
	// A loaded machine may take a while: try a few times.
	for attempt := 1; ; attempt++ {
		before := time.Now().UnixNano()
		for range 3 {
			if _, err := c.Write([]byte("liveness")); err != nil {
				t.Fatal(err)
			}
		}
		sent := time.Now().UnixNano()
		time.Sleep(100 * time.Millisecond)
		read := time.Now().UnixNano()
		var got []int64
		if err := u.recvBatch(10, func(b []byte, at int64) {
			if string(b) != "liveness" {
				t.Errorf("read %q", b)
			}
			got = append(got, at)
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("read %d datagrams, want 3", len(got))
		}
		if got[0] >= read && attempt < 20 {
			continue // stamped on reading: timestamps not on yet
		}
		for _, at := range got {
			// The kernel's clock is coarser than ours by at most a tick.
			if at < before-int64(10*time.Millisecond) || at > sent+int64(10*time.Millisecond) || at >= read {
				t.Errorf("arrival %d: want between %d and %d (sent), read at %d", at, before, sent, read)
			}
		}
		return
	}
}

func TestArrivalParse(t *testing.T) {
	if got := arrival(make([]byte, ctrlLen), 0); got != 0 {
		t.Errorf("no control message: %d, want 0", got)
	}
	if got := arrival(make([]byte, ctrlLen), ctrlLen); got != 0 {
		t.Errorf("zeroed control message: %d, want 0", got)
	}
	if got := arrival(make([]byte, 4), 4); got != 0 {
		t.Errorf("short control message: %d, want 0", got)
	}
}
