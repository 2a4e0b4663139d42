package peers

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// Liveness datagrams (BFD-style, asynchronous mode): once a TLS session is
// up, each side sends the other a small authenticated UDP datagram every
// heartbeat interval, on the sync port number over UDP. The TLS session then
// carries only events (views, certificates, notices), and a manager-wide
// tick sends and drains every session's datagrams at once: one wakeup per
// interval for the whole mesh instead of several per session (see
// bench/RESULTS.md, "where the CPU goes").
//
// A datagram is 36 bytes:
//
//	"OLV1" | tag (8) | counter (8, big-endian) | MAC (16)
//
// tag names the session; MAC is HMAC-SHA256 over the first 20 bytes,
// truncated to 16, under the key of the sending direction. The tag and both
// keys come from the session's TLS exporter (RFC 8446 §7.5), so only the two
// ends of that TLS session can make or check them, and they die with it.
// The counter only grows: a replayed or reflected datagram proves nothing.
// Its top bit is the slow flag (protocol version 3): the sender is in a
// trust storm and sends only every slowInterval, so the receiver judges
// that session with strainedDeadAfter until an unflagged datagram comes.
// During the storm, every node judges its own peers that way anyway; the
// flag covers the peer whose storm ended first.

const (
	liveMagic    = "OLV1"
	liveTagLen   = 8
	liveMACLen   = 16
	livePktLen   = len(liveMagic) + liveTagLen + 8 + liveMACLen
	liveExporter = "EXPORTER-orchd-liveness-v1"
	liveKeyLen   = 32
	liveSlowBit  = uint64(1) << 63
)

type liveTag [liveTagLen]byte

// liveKeys are one session's liveness secrets.
type liveKeys struct {
	tag liveTag
	// send and recv are HMACs keyed for our direction and the peer's; used
	// only by the manager's tick goroutine.
	send, recv hash.Hash
	sendCtr    uint64
	recvCtr    uint64 // highest counter accepted
	// sentSlow: our last datagram carried the slow flag; peerSlow: the
	// peer's last accepted one did (judge it as under strain).
	sentSlow, peerSlow bool
	// sinceSend counts full ticks since our last datagram; slowOK: the
	// peer speaks version 3 (understands the slow flag).
	sinceSend int
	slowOK    bool
	// sum is scratch for the MACs: a local array would escape through
	// hash.Hash and cost an allocation per datagram (garbage, and a GC
	// cycle stalls the tick on a busy host).
	sum [sha256.Size]byte
	// phase picks the ticks this session sends on (tick.go).
	phase int
}

// deriveLiveKeys exports the liveness secrets from a finished TLS session.
// lower says whether this side has the lower orchestrator ID: the lower
// side sends with the first key, the higher with the second.
func deriveLiveKeys(cs tls.ConnectionState, lower bool) (*liveKeys, error) {
	km, err := cs.ExportKeyingMaterial(liveExporter, nil, liveTagLen+2*liveKeyLen)
	if err != nil {
		return nil, fmt.Errorf("exporting liveness keys: %w", err)
	}
	k := &liveKeys{}
	copy(k.tag[:], km)
	k.phase = int(km[0] & 1)
	lo, hi := km[liveTagLen:liveTagLen+liveKeyLen], km[liveTagLen+liveKeyLen:]
	if !lower {
		lo, hi = hi, lo
	}
	k.send, k.recv = hmac.New(sha256.New, lo), hmac.New(sha256.New, hi)
	return k, nil
}

// appendDatagram appends the next datagram to dst, flagged slow or not.
func (k *liveKeys) appendDatagram(dst []byte, slow bool) []byte {
	k.sendCtr++
	k.sentSlow = slow
	ctr := k.sendCtr
	if slow {
		ctr |= liveSlowBit
	}
	start := len(dst)
	dst = append(dst, liveMagic...)
	dst = append(dst, k.tag[:]...)
	dst = binary.BigEndian.AppendUint64(dst, ctr)
	k.send.Reset()
	k.send.Write(dst[start:])
	return append(dst, k.send.Sum(k.sum[:0])[:liveMACLen]...)
}

// accept checks a parsed datagram of this session; it reports whether the
// datagram is authentic and new.
func (k *liveKeys) accept(d liveDatagram) bool {
	k.recv.Reset()
	k.recv.Write(d.signed)
	if !hmac.Equal(k.recv.Sum(k.sum[:0])[:liveMACLen], d.mac) || d.counter <= k.recvCtr {
		return false
	}
	k.recvCtr = d.counter
	k.peerSlow = d.slow
	return true
}

// liveDatagram is a parsed, not yet authenticated datagram.
type liveDatagram struct {
	tag     liveTag
	counter uint64 // without the slow flag
	slow    bool
	signed  []byte // the bytes the MAC covers
	mac     []byte
}

var errLiveDatagram = errors.New("not a liveness datagram")

// parseDatagram splits b (which it keeps referencing) into its fields.
func parseDatagram(b []byte) (liveDatagram, error) {
	if len(b) != livePktLen {
		return liveDatagram{}, fmt.Errorf("%w: %d bytes, expected %d", errLiveDatagram, len(b), livePktLen)
	}
	if string(b[:len(liveMagic)]) != liveMagic {
		return liveDatagram{}, fmt.Errorf("%w: bad magic", errLiveDatagram)
	}
	var d liveDatagram
	p := len(liveMagic)
	copy(d.tag[:], b[p:p+liveTagLen])
	p += liveTagLen
	ctr := binary.BigEndian.Uint64(b[p : p+8])
	d.counter, d.slow = ctr&^liveSlowBit, ctr&liveSlowBit != 0
	p += 8
	d.signed, d.mac = b[:p], b[p:]
	return d, nil
}
