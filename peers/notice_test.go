package peers

import (
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/records"
	"github.com/orchd/orchd/state"
)

// An orchestrator revoked while it was down still pins the others, and
// every member refuses it: the member holding the revocation completes
// the handshake only to hand it the record (DESIGN §5.5: the revoked one,
// told by the record, drops its pins), whichever side dials. No session
// is attached, and a blocked key is told nothing.
func TestRevocationNotice(t *testing.T) {
	for _, tc := range []struct {
		name            string
		issuer, revoked string // the lower ID dials
		block           bool
	}{
		{"revoked side dials", "1_2", "1_1", false},
		{"issuer dials", "1_1", "1_2", false},
		{"blocked key: no notice", "1_1", "1_2", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := newMesh(t, "1_1", "1_2")
			ms.pinAll()
			got := map[string]chan records.Record{}
			ms.withRecords(func(name string) func(records.Record) {
				c := make(chan records.Record, 8)
				got[name] = c
				return func(r records.Record) {
					if name == tc.revoked {
						// What the agent does: drop the pins made before.
						ms.nodes[name].trust.unpin(mustID(tc.issuer))
						ms.nodes[name].m.Reconcile()
					}
					c <- r
				}
			})
			ms.startAll()
			ms.waitStatus(tc.issuer, tc.revoked, state.Authenticated, "", 5*time.Second)

			// Revoked while down: the issuer drops the pin and keeps the
			// record; the revoked one comes back still pinning it.
			ms.stop(tc.revoked)
			in := ms.nodes[tc.issuer]
			rev := ms.nodes[tc.revoked].self.Load()
			rec, err := records.New(records.KindRevoke, in.self.Load().ID, in.self.Load().Key, rev.ID, rev.Fingerprint(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := in.recs.Add(rec); err != nil {
				t.Fatal(err)
			}
			in.trust.unpin(rev.ID)
			if tc.block {
				in.trust.block(rev.Fingerprint())
			}
			ms.m(tc.issuer).Reconcile()
			ms.start(tc.revoked)

			select {
			case r := <-got[tc.revoked]:
				if tc.block {
					t.Errorf("a blocked key was told its revocation: %+v", r)
				} else if r.Key() != rec.Key() {
					t.Errorf("%s got %+v, want the revocation", tc.revoked, r)
				}
			case <-time.After(4 * time.Second):
				if !tc.block {
					t.Fatalf("%s was not told of its revocation", tc.revoked)
				}
			}
			if p := peerOf(ms.m(tc.issuer), tc.revoked); p.Status != state.Untrusted {
				t.Errorf("the issuer's view of %s: %+v, want Untrusted", tc.revoked, p)
			}
			if p := peerOf(ms.m(tc.revoked), tc.issuer); p.Status == state.Authenticated {
				t.Errorf("the revoked one's view of %s: %+v, want no session", tc.issuer, p)
			}
			told := func() (bool, string) {
				return ms.nodes[tc.issuer].log.contains("told " + tc.revoked + " that its key"), ""
			}
			if tc.block {
				if ok, _ := told(); ok {
					t.Error("the issuer told a blocked key of its revocation")
				}
			} else {
				waitFor(t, 2*time.Second, "the issuer logs the notice", told)
				if tc.issuer == "1_1" {
					// The issuer dials: a key it holds revocations of is
					// handshaken again (told again), never only probed.
					mi := ms.m(tc.issuer)
					n0 := mi.testConnects.Load()
					mi.mu.Lock()
					mi.peers[mustID(tc.revoked)].kickLoop(true)
					mi.mu.Unlock()
					waitFor(t, 3*time.Second, "another handshake with the revoked key", func() (bool, string) {
						return mi.testConnects.Load() > n0, ""
					})
				}
				// Its status says who revoked it and what undoes it.
				want := tc.issuer + " revoked this orchestrator's key at "
				waitFor(t, 3*time.Second, "the revoked one's reason names the revocation", func() (bool, string) {
					p := peerOf(ms.m(tc.revoked), tc.issuer)
					return strings.Contains(p.Reason, want) && strings.Contains(p.Reason, "a member's trust command trusts "+tc.revoked+" again"), p.Reason
				})
				// Trusted again, then that pin revoked here: the old
				// revocation of us explains nothing any more.
				rm := ms.nodes[tc.revoked]
				rm.trust.pin(mustID(tc.issuer), in.self.Load().Public())
				rm.m.Reconcile()
				rm.trust.unpin(mustID(tc.issuer))
				rm.m.Reconcile()
				rm.m.mu.Lock()
				r := rm.m.noPinReason(rm.m.peers[mustID(tc.issuer)], "SHA256:x")
				rm.m.mu.Unlock()
				if strings.Contains(r, "revoked this orchestrator's key") || !strings.Contains(r, "revoked at") {
					t.Errorf("after a new trust and a local revoke: %q", r)
				}
			}
		})
	}
}

// An orchestrator that was revoked itself dropped its pins for that
// reason: a record it holds about a peer (an old one, that peer trusted
// again since) is no reason to send the peer a notice. Seen in make test:
// such a notice put the peer in its 30 s refusal backoff, and the mesh was
// not whole after the revoked one was trusted again.
func TestNoNoticeWhileRevoked(t *testing.T) {
	t.Parallel()
	ms := newMesh(t, "1_1", "1_2")
	ms.pin("1_1", "1_2") // 1_1 dials; 1_2 pins nothing
	got := make(chan records.Record, 4)
	ms.withRecords(func(name string) func(records.Record) {
		if name != "1_1" {
			return nil
		}
		return func(r records.Record) { got <- r }
	})
	// 1_2 holds an old revocation of 1_1's key, and 1_2 itself was revoked.
	i11, i12 := ms.nodes["1_1"].self.Load(), ms.nodes["1_2"].self.Load()
	old, err := records.New(records.KindRevoke, i12.ID, i12.Key, i11.ID, i11.Fingerprint(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ms.nodes["1_2"].recs.Add(old); err != nil {
		t.Fatal(err)
	}
	us, err := records.New(records.KindRevoke, i11.ID, i11.Key, i12.ID, i12.Fingerprint(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Kept from before a restart: 1_2 recalls it when it starts.
	if _, err := ms.nodes["1_2"].recs.Add(us); err != nil {
		t.Fatal(err)
	}
	ms.start("1_2")
	ms.start("1_1")
	ms.waitStatus("1_1", "1_2", state.Untrusted, "1_2 refused our certificate", 3*time.Second)
	select {
	case r := <-got:
		t.Errorf("1_1 was told %+v by a revoked orchestrator", r)
	case <-time.After(300 * time.Millisecond):
	}
	if ms.nodes["1_2"].log.contains("told 1_1") {
		t.Error("the revoked 1_2 sent a notice")
	}
	if p := peerOf(ms.m("1_2"), "1_1"); !strings.Contains(p.Reason, "because 1_1 revoked this orchestrator's key at ") {
		t.Errorf("1_2's reason for 1_1 after a restart: %q, want its own revocation", p.Reason)
	}
}
