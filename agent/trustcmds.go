package agent

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/shell"
	"github.com/orchd/orchd/trustproto"
	"golang.org/x/crypto/ssh"
)

func (a *Agent) registerTrustCommands(e *shell.Engine, s *adminSession) {
	a.registerMeshCommands(e, s)
	ids := func() []string {
		out := []string{"all"}
		for _, id := range a.members.Peers() {
			out = append(out, id.String())
		}
		return out
	}
	e.Register(shell.Command{Syntax: "show maestro authentication blocked", Help: "blocked fingerprints", Feature: aaa.FeatureMaestroAuth,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			l := a.trust.BlockedList()
			if len(l) == 0 {
				fmt.Fprintln(c.Out, "no blocked fingerprints")
			}
			for _, fp := range l {
				fmt.Fprintln(c.Out, fp)
			}
			return nil
		}})
	e.Register(shell.Command{Syntax: "set maestro authentication trust orchestrators <targets:idlist-all> [force] [fingerprints <fps:id-fp-list>]",
		Help: "establish trust with other orchestrators", Write: true, Feature: aaa.FeatureMaestroAuth,
		Complete: map[string]shell.Completer{"targets": ids},
		Describe: map[string]string{"force": "accept a changed key (name the new fingerprint too)"},
		Run:      func(c *shell.Ctx, x shell.Args) error { return a.trustCommand(c, s, x) }})
	e.Register(shell.Command{Syntax: "set maestro authentication revoke orchestrators <targets:idlist-all>",
		Help: "revoke trust here and on every other authenticated orchestrator", Write: true, Feature: aaa.FeatureMaestroAuth,
		Complete: map[string]shell.Completer{"targets": ids},
		Run: func(c *shell.Ctx, x shell.Args) error {
			targets, _, err := a.targets(x, false)
			if err != nil {
				return err
			}
			removed, n, err := a.revoke(targets, s.user)
			if err != nil {
				return err
			}
			if len(removed) == 0 {
				fmt.Fprintln(c.Out, "nothing to revoke: none of them was trusted")
				return nil
			}
			fmt.Fprintf(c.Out, "revoked %s; signed revocation record kept and sent to %d connected orchestrator(s); the others get it when they next connect to any member\n", joinIDs(removed), n)
			return nil
		}})
	e.Register(shell.Command{Syntax: "set maestro authentication block fingerprint <fp:fingerprint>",
		Help: "never trust this fingerprint", Write: true, Feature: aaa.FeatureMaestroAuth,
		Run: func(c *shell.Ctx, x shell.Args) error {
			fp := x.String("fp")
			if err := a.trust.Block(fp); err != nil {
				return err
			}
			a.log.WithField("user", s.user).WithField("fingerprint", fp).Warn("fingerprint blocked")
			fmt.Fprintf(c.Out, "blocked %s\n", fp)
			return nil
		}})
	e.Register(shell.Command{Syntax: "delete maestro authentication block fingerprint <fp:fingerprint>",
		Help: "unblock a fingerprint (does not re-trust it)", Write: true, Feature: aaa.FeatureMaestroAuth,
		Complete: map[string]shell.Completer{"fp": a.trust.BlockedList},
		Run: func(c *shell.Ctx, x shell.Args) error {
			fp := x.String("fp")
			if err := a.trust.Unblock(fp); err != nil {
				return err
			}
			a.log.WithField("user", s.user).WithField("fingerprint", fp).Warn("fingerprint unblocked")
			fmt.Fprintf(c.Out, "unblocked %s (trust is not re-established by itself)\n", fp)
			return nil
		}})
}

// targets resolves all|ID,... against the membership. With allowNew (trust),
// an ID that is not a member yet is a new orchestrator joining the mesh:
// it comes back in fresh too.
func (a *Agent) targets(x shell.Args, allowNew bool) (ids, fresh []identity.ID, err error) {
	if x.All("targets") {
		return a.members.Peers(), nil, nil
	}
	var names []string
	for _, id := range a.members.Peers() {
		names = append(names, id.String())
	}
	for _, id := range x.IDs("targets") {
		switch {
		case id == a.cfg.ID:
			return nil, nil, fmt.Errorf("%s is this orchestrator: expected other orchestrators (%s)", id, strings.Join(names, ", "))
		case a.members.Has(id):
		case !allowNew:
			return nil, nil, fmt.Errorf("%s is not an orchestrator of this mesh: expected one of %s", id, strings.Join(names, ", "))
		default:
			if _, err := a.peerSpec(id); err != nil {
				return nil, nil, fmt.Errorf("%s cannot join this mesh: %w", id, err)
			}
			fresh = append(fresh, id)
		}
	}
	return x.IDs("targets"), fresh, nil
}

func joinIDs(ids []identity.ID) string {
	var s []string
	for _, id := range ids {
		s = append(s, id.String())
	}
	return strings.Join(s, ",")
}

// target is one orchestrator of a trust command and how it fared.
type target struct {
	id        identity.ID
	role      string
	addr      string
	presented ed25519.PublicKey
	named     string // fingerprint the admin named, if any
	implicit  bool   // a member not named, told about the new ones
	replace   bool   // force, and the admin named this changed key
	verified  bool
	result    string
	failed    bool
	// release ends the trust session, which a target holds open so its
	// dials wait for the others (serveTrustSubsystem); nil when runTrust
	// closed it already (a failure before the answer).
	release func()
}

func (t *target) fail(format string, args ...any) {
	t.failed, t.result = true, fmt.Sprintf(format, args...)
}

// errProbed ends a probe connection once the host key is known.
var errProbed = errors.New("host key captured")

// trustCommand establishes trust (DESIGN §5.2): probe each target's key
// over SSH on the sync network, check it against what the admin verified,
// then log in with the administrator's password and run the trust
// subsystem, handing every target the full verified member list.
//
// Trusting an ID that is not a member yet grows the mesh (DESIGN §3): the
// members this orchestrator trusts are told too, and every target gets the
// full list, so one command completes the mesh.
func (a *Agent) trustCommand(c *shell.Ctx, s *adminSession, x shell.Args) error {
	ids, fresh, err := a.targets(x, true)
	if err != nil {
		return err
	}
	force := x.Has("force")
	named := map[identity.ID]string{}
	fps := x.IDFingerprints("fps")
	if extra, ok := s.answers["fingerprints"]; ok && len(fps) == 0 {
		if fps, err = parseFingerprintAnswer(extra); err != nil {
			return err
		}
	}
	inTargets := map[identity.ID]bool{}
	for _, id := range ids {
		inTargets[id] = true
	}
	for _, f := range fps {
		if !inTargets[f.ID] {
			return fmt.Errorf("fingerprint named for %s, which is not a target of this command: expected only %s", f.ID, joinIDs(ids))
		}
		named[f.ID] = f.Fingerprint
	}
	ts := make([]*target, 0, len(ids))
	for _, id := range ids {
		ts = append(ts, &target{id: id, named: named[id]})
	}
	full := x.All("targets") || len(fresh) > 0
	if len(fresh) > 0 {
		for _, id := range a.members.Peers() {
			if _, pinned := a.trust.Pin(id); pinned && !inTargets[id] {
				ts = append(ts, &target{id: id, implicit: true})
			}
		}
	}
	ctx := c.Context

	// 1. What key does each target present?
	parallel(ts, func(t *target) { a.probe(ctx, t) })

	// 2. Decide per target. A key nobody named is confirmed only by a
	// person at a terminal: a piped "yes" is not a person's word.
	me := a.identity()
	var unconfirmed []string
	for _, t := range ts {
		if t.failed {
			continue
		}
		fp := identity.Fingerprint(t.presented)
		pinnedFP := ""
		if pin, ok := a.trust.Pin(t.id); ok {
			pinnedFP = pin.Fingerprint
		}
		v, why := decide(t.id, fp, t.named, pinnedFP, a.trust.Blocked(fp), force)
		switch {
		case v == verdictVerified:
			t.verified = true
			t.replace = force && t.named == fp && pinnedFP != "" && pinnedFP != fp
		case v == verdictRefused:
			t.fail("%s", why)
		case t.implicit:
			t.fail("not told about %s: it is not trusted here", joinIDs(fresh))
		case !c.Terminal():
			t.fail("presents %s: verify it on %s and re-run with fingerprints %s=%s", fp, t.id, t.id, fp)
			unconfirmed = append(unconfirmed, t.id.String()+"="+fp)
		default:
			ok, err := c.ConfirmKey("confirm_"+t.id.String(), fmt.Sprintf("%s presents fingerprint %s\nIs this the fingerprint shown on %s?", t.id, fp, t.id))
			if err != nil {
				return err
			}
			if ok {
				t.verified = true
			} else {
				t.fail("fingerprint %s not confirmed: nothing trusted", fp)
			}
		}
	}
	if len(unconfirmed) > 0 {
		// Nothing at all: half a mesh from a script that did not name
		// every key is not what its author meant.
		for _, t := range ts {
			if t.verified {
				t.verified = false
				t.fail("not attempted: the command trusts nothing while a fingerprint is unconfirmed")
			}
		}
	}
	var verified []*target
	members := []trustproto.Member{trustproto.NewMember(a.cfg.ID, me.Public())}
	var replace []string
	for _, t := range ts {
		if t.verified {
			verified = append(verified, t)
			members = append(members, trustproto.NewMember(t.id, t.presented))
			if t.replace {
				replace = append(replace, t.id.String())
			}
		}
	}

	// 3. Log in on each verified target and run the trust subsystem.
	if len(verified) > 0 {
		who, err := trustLoginFor(s.user, s.domain)
		if err != nil {
			return err
		}
		pw, err := c.Prompt("password", "Administrator password on the other orchestrators: ", true)
		if err != nil {
			return err
		}
		codes, err := newTrustCodes(c, s.answers)
		if err != nil {
			return err
		}
		var relay *readyRelay
		if full {
			// Every target pins every member: tell each which others
			// pin it already, so it dials those while slower logins go on.
			relay = newReadyRelay()
			stop := make(chan struct{})
			go relay.run(stop)
			defer close(stop)
		}
		parallel(verified, func(t *target) {
			ms, rep := members, replace
			if !full {
				// A listed target trusts us; the whole mesh is for `all`
				// and for growth.
				ms = []trustproto.Member{members[0], trustproto.NewMember(t.id, t.presented)}
				rep = nil
				if t.replace {
					rep = []string{t.id.String()}
				}
			}
			a.runTrust(ctx, t, who, pw, codes, trustproto.Request{Op: "trust", Version: trustproto.Version, From: a.cfg.ID.String(), Members: ms, Replace: rep}, me, relay)
		})
		var mine []judgedPin
		repl := map[identity.ID]bool{}
		for _, t := range verified {
			if !t.failed {
				mine = append(mine, judgedPin{id: t.id, key: t.presented})
				repl[t.id] = t.replace
			}
		}
		how := fmt.Sprintf("%s via trust command on %s (%s)", s.user, a.cfg.ID, s.from)
		results := a.pinMembers(mine, repl, how)
		var joined []identity.ID
		for _, t := range verified {
			if t.failed {
				continue
			}
			if r := results[t.id.String()]; strings.HasPrefix(r, "error: ") {
				t.fail("%s", strings.TrimPrefix(r, "error: "))
			} else {
				if t.result == "" {
					t.result = r
				}
				joined = append(joined, t.id)
			}
		}
		a.addMembers(joined, how)
		// Every target holds its pins, and so do we: let them all dial,
		// at once (closing one SSH session waits for its peer).
		var wg sync.WaitGroup
		for _, t := range verified {
			if t.release != nil {
				wg.Go(t.release)
			}
		}
		wg.Wait()
	}

	// 4. Report per ID.
	sort.Slice(ts, func(i, j int) bool { return identity.Less(ts[i].id, ts[j].id) })
	failed := 0
	for _, t := range ts {
		if t.failed {
			failed++
		}
		fmt.Fprintf(c.Out, "%s: %s\n", t.id, t.result)
	}
	if len(unconfirmed) > 0 {
		// The command to re-run names every key: those already named and
		// those presented.
		for id, fp := range named {
			unconfirmed = append(unconfirmed, id.String()+"="+fp)
		}
		sort.Strings(unconfirmed)
		fmt.Fprintf(c.Out, "Nothing was trusted. A fingerprint is confirmed only at a terminal (ssh -t, or clish) or by naming it.\n"+
			"Verify each on its orchestrator (show maestro authentication fingerprint), then name them:\n"+
			"  %s fingerprints %s\n"+
			"or pass {\"fingerprints\": \"%s\"} with clish --input-json.\n",
			strings.TrimSpace(strings.SplitN(c.Line, " fingerprints ", 2)[0]), strings.Join(unconfirmed, ","), strings.Join(unconfirmed, ","))
	}
	a.log.WithField("user", s.user).WithField("targets", joinIDs(ids)).WithField("failed", failed).Warn("trust command")
	if failed > 0 {
		return fmt.Errorf("trust not established with %d of %d orchestrators", failed, len(ts))
	}
	return nil
}

// addMembers makes ids members (trust reached them) and starts their
// sessions.
func (a *Agent) addMembers(ids []identity.ID, by string) {
	added, err := a.members.Add(ids, by, time.Now())
	if err != nil {
		a.log.WithError(err).Error("membership: adding trusted orchestrators")
		return
	}
	if len(added) > 0 {
		a.log.WithField("added", joinIDs(added)).WithField("by", by).Warn("membership: orchestrators joined the mesh")
		a.record(audit.Event{Type: "membership", Source: by, Result: "added", Reason: "trust added " + joinIDs(added) + " to the mesh",
			Fields: map[string]string{"ids": joinIDs(added)}})
		a.membersChanged()
	}
}

type verdict int

const (
	verdictVerified verdict = iota // the admin's word covers this key
	verdictRefused                 // never trust it (the reason says why)
	verdictAsk                     // nothing named: the admin must confirm
)

// decide judges the key a target presented (fingerprint fp) against what
// the admin named, the current pin and the block list. There is no silent
// trust on first use: an unnamed, unpinned key is verdictAsk.
func decide(id identity.ID, fp, named, pinned string, blocked, force bool) (verdict, string) {
	switch {
	case blocked:
		return verdictRefused, fmt.Sprintf("fingerprint %s is blocked (delete maestro authentication block fingerprint %s to unblock)", fp, fp)
	case named != "" && named != fp:
		return verdictRefused, fmt.Sprintf("presented key %s does not match the fingerprint you named %s: nothing trusted", fp, named)
	case pinned != "" && pinned != fp && !(force && named == fp):
		return verdictRefused, fmt.Sprintf("\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"+
			"@    WARNING: ORCHESTRATOR IDENTIFICATION HAS CHANGED!     @\n"+
			"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"+
			"%s now presents %s, but the trusted key is %s.\n"+
			"Someone could be impersonating it, or it was reinstalled. Verify on %s\n"+
			"(show maestro authentication fingerprint) and, only if it matches, re-run with:\n"+
			"  set maestro authentication trust orchestrators %s force fingerprints %s=%s",
			id, fp, pinned, id, id, id, fp)
	case named == fp || pinned == fp:
		return verdictVerified, ""
	}
	return verdictAsk, ""
}

// trustParallel bounds the logins (and probes) a trust command runs at
// once. It covers a 64-node mesh: every target then pins at about the same
// moment. At 16, the first targets pinned and stormed each other with
// sessions (and with refusals from targets not yet pinned, which back off)
// while the later logins waited for CPU: 16-21 s for 63 targets.
const trustParallel = 64

func parallel(ts []*target, fn func(*target)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, trustParallel)
	for _, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fn(t)
		}()
	}
	wg.Wait()
}

// dial opens TCP to t's SSH server over the sync port, from our address there.
func (a *Agent) dial(ctx context.Context, t *target) (net.Conn, error) {
	remote, local, role, err := a.syncAddrPort(t.id)
	t.role, t.addr = role, remote.String()
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: trustDialTimeout, LocalAddr: &net.TCPAddr{IP: local.AsSlice()}}
	conn, err := d.DialContext(ctx, "tcp", remote.String())
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return conn, nil
}

func (a *Agent) probe(ctx context.Context, t *target) {
	conn, err := a.dial(ctx, t)
	if err != nil {
		t.fail("unreachable over %s sync (%s): %v", t.role, t.addr, unwrapNet(err))
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(trustDialTimeout))
	cfg := &ssh.ClientConfig{User: "probe", HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if ck, ok := key.(ssh.CryptoPublicKey); ok {
				if pub, ok := ck.CryptoPublicKey().(ed25519.PublicKey); ok {
					t.presented = pub
				}
			}
			return errProbed
		}}
	_, _, _, err = ssh.NewClientConn(conn, t.addr, cfg)
	if t.presented == nil {
		t.fail("no Ed25519 host key from %s over %s sync: %v", t.addr, t.role, err)
	}
}

func (a *Agent) runTrust(ctx context.Context, t *target, who trustUser, password string, codes *trustCodes, req trustproto.Request, me *identity.Identity, relay *readyRelay) {
	conn, err := a.dial(ctx, t)
	if err != nil {
		t.fail("unreachable over %s sync (%s): %v", t.role, t.addr, unwrapNet(err))
		return
	}
	var closers []io.Closer
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i].Close()
		}
	}
	defer func() {
		if t.release == nil {
			closeAll()
		}
	}()
	closers = append(closers, conn)
	// Generous: the target pins the whole mesh and a loaded 64-node
	// testbed answers in seconds, not milliseconds.
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	login := &trustClient{}
	cfg := login.config(who, password, codes.keyboardInteractive(t.id, password), fixedKey(t.presented))
	sc, chans, reqs, err := ssh.NewClientConn(conn, t.addr, cfg)
	if err != nil {
		if why := codes.refusal(t.id, who.User); why != "" {
			t.fail("%s", why)
		} else if errors.Is(err, errPasswordRefused) || strings.Contains(err.Error(), "unable to authenticate") {
			t.fail("%s", trustLoginRefused(who, login.refusal))
		} else {
			t.fail("SSH to %s over %s sync failed: %v", t.addr, t.role, err)
		}
		return
	}
	client := ssh.NewClient(sc, chans, reqs)
	closers = append(closers, client)
	sess, err := client.NewSession()
	if err != nil {
		t.fail("opening SSH session: %v", err)
		return
	}
	closers = append(closers, sess)
	in, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	if err := sess.RequestSubsystem(trustproto.Subsystem); err != nil {
		t.fail("trust subsystem refused: %v", err)
		return
	}
	// Signed with our identity key: the target pins it only from someone
	// who holds it.
	req.Sign(me.Key, t.id, time.Now())
	if err := trustproto.Write(in, req); err != nil {
		t.fail("sending trust request: %v", err)
		return
	}
	var resp trustproto.Response
	if err := trustproto.Read(bufio.NewReader(out), &resp); err != nil {
		t.fail("reading trust answer: %v", err)
		return
	}
	if !resp.OK {
		t.fail("refused: %s", resp.Error)
		return
	}
	t.release = closeAll
	// What the target did with us, and with the others for `all`.
	var notes []string
	for id, r := range resp.Results {
		if strings.HasPrefix(r, "error: ") {
			notes = append(notes, fmt.Sprintf("%s could not trust %s: %s", t.id, id, strings.TrimPrefix(r, "error: ")))
		}
	}
	sort.Strings(notes)
	if mine := resp.Results[a.cfg.ID.String()]; strings.HasPrefix(mine, "error: ") {
		t.fail("%s", strings.Join(notes, "; "))
		return
	}
	if len(notes) > 0 {
		t.fail("partly: %s", strings.Join(notes, "; "))
		return
	}
	if relay != nil {
		relay.answered(t.id, in)
	}
}

// readyRelay tells each target that answered which other targets pin it
// by now (trustproto.Ready), at most every readyEvery.
type readyRelay struct {
	mu     sync.Mutex
	pinned []string
	outs   []*readyOut
	wake   chan struct{}
}

type readyOut struct {
	id     string
	w      io.Writer
	sent   int // of pinned; only run touches it
	broken bool
}

const readyEvery = 100 * time.Millisecond

func newReadyRelay() *readyRelay { return &readyRelay{wake: make(chan struct{}, 1)} }

// answered records that id pins every member now; w reaches it.
func (r *readyRelay) answered(id identity.ID, w io.Writer) {
	r.mu.Lock()
	r.pinned = append(r.pinned, id.String())
	r.outs = append(r.outs, &readyOut{id: id.String(), w: w})
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run relays until stop. A target that does not read (an older version
// returns after its answer) only fails its own writes.
func (r *readyRelay) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-r.wake:
		}
		r.mu.Lock()
		pinned, outs := r.pinned, append([]*readyOut(nil), r.outs...)
		r.mu.Unlock()
		for _, o := range outs {
			var ids []string
			for _, id := range pinned[o.sent:] {
				if id != o.id {
					ids = append(ids, id)
				}
			}
			o.sent = len(pinned)
			if len(ids) == 0 || o.broken {
				continue
			}
			if err := trustproto.Write(o.w, trustproto.Ready{Op: trustproto.ReadyOp, Members: ids}); err != nil {
				o.broken = true
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(readyEvery):
		}
	}
}

func fixedKey(want ed25519.PublicKey) ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		if ck, ok := key.(ssh.CryptoPublicKey); ok {
			if pub, ok := ck.CryptoPublicKey().(ed25519.PublicKey); ok && pub.Equal(want) {
				return nil
			}
		}
		return fmt.Errorf("host key changed between probe and login")
	}
}

func unwrapNet(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// parseFingerprintAnswer reads "ID=FP,ID=FP" from --input-json's
// "fingerprints" key.
func parseFingerprintAnswer(s string) ([]shell.IDFingerprint, error) {
	var out []shell.IDFingerprint
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("--input-json fingerprints: %q: expected ID=FP (such as 1_2=SHA256:...)", part)
		}
		id, err := identity.ParseID(k)
		if err != nil {
			return nil, fmt.Errorf("--input-json fingerprints: %w", err)
		}
		fp, err := identity.ParseFingerprint(v)
		if err != nil {
			return nil, fmt.Errorf("--input-json fingerprints: %w", err)
		}
		out = append(out, shell.IDFingerprint{ID: id, Fingerprint: fp})
	}
	return out, nil
}
