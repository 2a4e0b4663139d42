package agent

import (
	"fmt"
	"time"

	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/records"
	"github.com/sirupsen/logrus"
)

// Revocation records and removal notices (DESIGN §3, §5.5): issued by the
// revoke and delete commands, received over the sessions (package peers
// verified them against the issuer's pin), kept in revocations.json and
// applied here. Applying is idempotent, so kept records are applied again
// at every start (a crash between keeping and applying loses nothing).
// Every change is audited (type revoke or membership).

// applyRecord applies r; how says where it came from ("kept", "received",
// "issued").
func (a *Agent) applyRecord(r records.Record, how string) {
	l := a.log.WithFields(logrus.Fields{"record": r.Kind, "issuer": r.Issuer.String(), "subject": r.Subject.String(),
		"fingerprint": r.Fingerprint, "issued_at": r.IssuedAt.UTC().Format(time.RFC3339Nano), "how": how})
	if how == "received" {
		if why := a.signedWhileRevoked(r); why != "" {
			l.Warnf("ignoring record: %s", why)
			return
		}
		if _, err := a.records.Add(r); err != nil {
			// Still applied: it verified, and taking trust away is the
			// safe direction; peers offer it again at the next session.
			l.WithError(err).Error("keeping record")
		}
	}
	switch r.Kind {
	case records.KindRevoke:
		if r.Subject == a.cfg.ID {
			if r.Fingerprint != a.identity().Fingerprint() {
				return // an older key of ours
			}
			// Part 2 of the documented procedure, done for the admin: the
			// revoked orchestrator stops trusting the rest.
			dropped, err := a.trust.DropPinsBefore(r.IssuedAt)
			if err != nil {
				l.WithError(err).Error("dropping our pins after being revoked")
			} else if len(dropped) > 0 {
				l.WithField("dropped", joinIDs(dropped)).Warn("this orchestrator was revoked: dropped its pins of the others")
				a.record(audit.Event{Type: "revoke", Source: "record from " + r.Issuer.String(), Result: "ok",
					Reason: fmt.Sprintf("this orchestrator was revoked by %s: dropped its pins of %s", r.Issuer, joinIDs(dropped)), Fields: recordFields(r, how)})
			}
			return
		}
		removed, err := a.trust.RevokeKey(r.Subject, r.Fingerprint, r.IssuedAt)
		if err != nil {
			l.WithError(err).Error("applying revocation")
		} else if removed {
			l.Warn("trust revoked by record")
			a.record(audit.Event{Type: "revoke", Source: "record from " + r.Issuer.String(), Result: "ok",
				Reason: fmt.Sprintf("%s revoked %s (key %s)", r.Issuer, r.Subject, r.Fingerprint), Fields: recordFields(r, how)})
		}
	case records.KindRemove:
		if r.Subject == a.cfg.ID {
			return
		}
		if _, err := a.trust.DropPinBefore(r.Subject, r.IssuedAt); err != nil {
			l.WithError(err).Error("applying removal (pin)")
		}
		ok, err := a.members.Remove(r.Subject, fmt.Sprintf("removal notice from %s", r.Issuer), r.IssuedAt)
		if err != nil {
			l.WithError(err).Error("applying removal")
		} else if ok {
			l.Warn("membership: orchestrator removed from the mesh")
			a.record(audit.Event{Type: "membership", Source: "record from " + r.Issuer.String(), Result: "removed",
				Reason: fmt.Sprintf("%s removed %s from the mesh", r.Issuer, r.Subject), Fields: recordFields(r, how)})
			a.membersChanged()
		}
	}
}

// signedWhileRevoked says why r carries no authority: its issuer's key had
// been revoked when r was issued, and this orchestrator has not trusted it
// again since (a revoked orchestrator running "revoke all", part 2 of the
// procedure, must not take the rest of the mesh apart). "" means r stands.
func (a *Agent) signedWhileRevoked(r records.Record) string {
	if r.Issuer == a.cfg.ID {
		return ""
	}
	pin, ok := a.trust.Pin(r.Issuer)
	if !ok {
		return fmt.Sprintf("%s is not trusted here", r.Issuer)
	}
	for _, h := range a.records.All() {
		if h.Kind != records.KindRevoke || h.Subject != r.Issuer || h.Fingerprint != pin.Fingerprint || h.IssuedAt.After(r.IssuedAt) {
			continue
		}
		if pin.AddedAt.After(h.IssuedAt) && pin.AddedAt.Before(r.IssuedAt) {
			continue // trusted again before it issued r
		}
		return fmt.Sprintf("issued by %s with key %s after %s revoked that key (%s)", r.Issuer, pin.Fingerprint, h.Issuer, h.IssuedAt.UTC().Format(time.RFC3339))
	}
	return ""
}

// revoke issues a revocation record for the pinned key of each of ids,
// keeps it, sends it to every live session (the revoked one included, so
// it drops its own pins) and then removes the pins. It returns the IDs
// revoked and how many sessions were told.
func (a *Agent) revoke(ids []identity.ID, user string) ([]identity.ID, int, error) {
	me := a.identity()
	var recs []records.Record
	for _, id := range ids {
		pin, ok := a.trust.Pin(id)
		if !ok {
			continue
		}
		r, err := records.New(records.KindRevoke, me.ID, me.Key, id, pin.Fingerprint, time.Now())
		if err != nil {
			return nil, 0, err
		}
		if _, err := a.records.Add(r); err != nil {
			return nil, 0, fmt.Errorf("revoking %s: %w", id, err)
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		return nil, 0, nil
	}
	told := a.mesh.Publish(recs)
	var done []identity.ID
	for _, r := range recs {
		removed, err := a.trust.RevokeKey(r.Subject, r.Fingerprint, r.IssuedAt)
		if err != nil {
			return done, told, fmt.Errorf("revoking %s: %w", r.Subject, err)
		}
		if removed {
			done = append(done, r.Subject)
		}
		a.log.WithFields(logrus.Fields{"user": user, "revoked": r.Subject.String(), "fingerprint": r.Fingerprint}).Warn("trust revoked")
		a.record(audit.Event{Type: "revoke", User: user, Result: "ok", Reason: fmt.Sprintf("revoked %s (key %s); record issued", r.Subject, r.Fingerprint), Fields: recordFields(r, "issued")})
	}
	return done, told, nil
}

// removeMember issues a removal notice for id after checking that nothing
// this orchestrator can see still trusts it.
func (a *Agent) removeMember(id identity.ID, user string) (int, error) {
	if id == a.cfg.ID {
		return 0, fmt.Errorf("%s is this orchestrator: remove it from another member", id)
	}
	if !a.members.Has(id) {
		return 0, fmt.Errorf("%s is not a member of this mesh (show maestro orchestrators)", id)
	}
	if _, ok := a.trust.Pin(id); ok {
		return 0, fmt.Errorf("%s is still trusted here: revoke it first (set maestro authentication revoke orchestrators %s)", id, id)
	}
	for peer, view := range a.mesh.Mesh() {
		if view[id.String()] == "Authenticated" {
			return 0, fmt.Errorf("%s is still trusted by %s (it reports %s Authenticated): revoke it first (set maestro authentication revoke orchestrators %s)", id, peer, id, id)
		}
	}
	me := a.identity()
	r, err := records.New(records.KindRemove, me.ID, me.Key, id, "", time.Now())
	if err != nil {
		return 0, err
	}
	if _, err := a.records.Add(r); err != nil {
		return 0, fmt.Errorf("removing %s: %w", id, err)
	}
	told := a.mesh.Publish([]records.Record{r})
	a.log.WithFields(logrus.Fields{"user": user, "removed": id.String()}).Warn("membership: orchestrator removed from the mesh")
	if ok, err := a.members.Remove(id, "delete maestro orchestrator by "+user, r.IssuedAt); err != nil {
		return told, fmt.Errorf("removing %s: %w", id, err)
	} else if ok {
		a.record(audit.Event{Type: "membership", User: user, Result: "removed", Reason: fmt.Sprintf("removed %s from the mesh; notice issued", id), Fields: recordFields(r, "issued")})
		a.membersChanged()
	}
	return told, nil
}

func recordFields(r records.Record, how string) map[string]string {
	f := map[string]string{"record": r.Kind, "issuer": r.Issuer.String(), "id": r.Subject.String(),
		"issued_at": r.IssuedAt.UTC().Format(time.RFC3339Nano), "how": how}
	if r.Fingerprint != "" {
		f["fingerprint"] = r.Fingerprint
	}
	return f
}
