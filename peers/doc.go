// Package peers owns the sync sessions between orchestrators (DESIGN §5.3,
// §5.4): one mutual-TLS 1.3 session per expected peer, authenticated by the
// pinned Ed25519 key, carrying heartbeats, each side's view of the mesh,
// certificate renewals and signed revocation records; and the status machine
// that turns what happens to those sessions into Authenticated, Untrusted,
// Unreachable or Unknown with a human reason.
//
// # One session per pair
//
// The side with the lower ID (site, then member) dials and the other
// accepts, so two orchestrators never open crossing connections. The higher
// side meanwhile probes the lower one's port with a bare TCP connect (no
// handshake) to tell Unreachable from "waiting for it to dial", and dials
// once itself when its link comes back up or its trust store newly trusts
// the lower one (Reconcile), so neither waits out the other's backoff.
// Should two sessions for a pair meet, both sides keep the one dialed by the
// lower ID. A trust command holds each target's dials (Hold) until the
// member it would dial pins it too, so nobody dials into a refusal while
// the pins of a 64-node mesh spread; and while the sessions with newly
// trusted peers are being set up, silence is judged as under strain
// (tick.go).
//
// # Trust
//
// crypto/tls checks that the peer holds the key of the certificate it
// presents; verify then requires that the certificate name an expected
// orchestrator (the one dialed, when dialing), that its key be the pinned
// one and not blocked, and that it be within its validity. Both sides record
// a refusal as the peer's status (Untrusted: it is reachable), except while
// a working session with that peer exists, so an impostor cannot disturb it.
// No message adds trust: pins change only through the trust store.
//
// # Wire format
//
// After the handshake, each frame is a 4-byte big-endian length (1 to
// 65536) and one JSON object:
//
//	{"type":"hello","from":"1_2","version":2,"view":{"1_1":"Authenticated",...},
//	 "udp_port":7443}                                           first, both ways (udp_port: we take liveness datagrams there)
//	{"type":"heartbeat"}                                        every Heartbeat the session sent nothing else, until udp-ok
//	{"type":"udp-ok"}                                           once: "your liveness datagrams reach me"
//	{"type":"view","view":{...}}                                on change (at most every 2 s), on the first tick and every 30 s
//	{"type":"cert","pem":"-----BEGIN CERTIFICATE-----..."}      after our certificate was renewed
//	{"type":"have","keys":["<22 chars>",...]}                  after hello (version 2): the records we hold
//	{"type":"records","records":[{record},...]}                 what the other side lacked, or a new record relayed
//
// A record (package records) is {"kind":"revoke"|"remove","issuer","id",
// "fingerprint","issued_at","nonce","signature"}, signed by its issuer and
// verified against the key pinned for the issuer, never the sender's: any
// holder relays it. A record new to us is relayed to every other live
// session before it is applied, so the orchestrator it revokes still hears
// it; duplicates are not relayed again. A renewed cert
// must carry the session's (pinned) key. Unknown fields are ignored, unknown
// types, empty or oversize frames and bad values close the session.
//
// # Failure detection
//
// Silence for DeadAfter closes a session (Unreachable, "no heartbeat ...").
// Evidence of life is any frame, or an authentic liveness datagram
// (livewire.go: BFD-style, keyed from the TLS exporter, sent and drained by
// one manager-wide tick every Heartbeat, tick.go). A datagram counts from
// its arrival (the kernel's receive timestamp), and a silence that reaches
// DeadAfter between two ticks is judged at that moment. Sockets set
// TCP_NODELAY and TCP_USER_TIMEOUT (10 s) for data left unacknowledged; TCP
// keepalive is off (the tick is the liveness check). Reconnection backs off
// exponentially from 100 ms to 2 s with ±20% jitter (10 s after a trust
// refusal, which does not heal by itself); a session that lasted resets it.
package peers
