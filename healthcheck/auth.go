package healthcheck

import (
	"fmt"
	"strings"

	"github.com/orchd/orchd/state"
)

var authTest = Test{
	Name: "Maestro Orchestrator Authentication",
	Description: "every expected peer orchestrator is Authenticated over its sync port " +
		"(each non-authenticated peer with the reason and the command that fixes it), " +
		"and no certificate involved is expired, expiring within 30 days or failing renewal",
	Run: runAuth,
}

func runAuth(env *Env) Result {
	if r, ok := freshState(env); !ok {
		return r
	}
	f := env.State
	var fs []Finding
	if len(f.Peers) == 0 {
		fs = append(fs, Finding{Severity: Passed, Subject: f.Orchestrator.ID,
			Text: "no other orchestrator is expected (single-orchestrator topology)"})
	}
	for _, p := range f.Peers {
		fs = append(fs, peerFinding(env, p))
	}
	fs = append(fs, certFindings(env, false)...)
	return resultOf(fs...)
}

// Commands the remedies name, exactly as clish takes them (DESIGN §3).
const (
	showFingerprint = `clish -c "show maestro authentication fingerprint"`
	showBlocked     = `clish -c "show maestro authentication blocked"`
)

func trustCmd(id, fp string, force bool) string {
	cmd := "set maestro authentication trust orchestrators " + id
	if force {
		cmd += " force"
	}
	if fp != "" {
		cmd += " fingerprints " + id + "=" + fp
	}
	return `clish -c "` + cmd + `"`
}

func peerFinding(env *Env, p state.Peer) Finding {
	reason := p.Reason
	if reason == "" {
		reason = "no reason given"
	}
	text := fmt.Sprintf("%s over the %s sync port: %s", p.Status, p.Port, reason)
	if p.Address != "" {
		text += " (address " + p.Address + ")"
	}
	if !p.Since.IsZero() {
		text += " since " + stamp(p.Since)
	}
	f := Finding{Severity: Failed, Subject: p.ID, Text: text}
	switch p.Status {
	case state.Authenticated:
		f.Severity = Passed
	case state.Unreachable:
		f.Remedy = unreachableRemedy(env, p)
	case state.Untrusted:
		f.Text, f.Remedy = untrusted(p, text)
	case state.Unknown:
		f.Remedy = fmt.Sprintf("the status is not settled yet: wait a few seconds and run the test again; "+
			"if %s stays Unknown, check the clishd logs (journalctl -u clishd, or %s)", p.ID, env.Layout.LogDir())
	default:
		f.Remedy = fmt.Sprintf("status %q is not one hcp knows (%s, %s, %s, %s): run hcp and clishd from the same orchd release",
			p.Status, state.Authenticated, state.Unknown, state.Unreachable, state.Untrusted)
	}
	return f
}

// unreachableRemedy names the sync interface the peer is reached over, and
// puts our own port first when it is the cause.
func unreachableRemedy(env *Env, p state.Peer) string {
	var port *state.SyncPort
	for i := range env.State.SyncPorts {
		if env.State.SyncPorts[i].Role == p.Port {
			port = &env.State.SyncPorts[i]
		}
	}
	if port == nil {
		return fmt.Sprintf("this orchestrator reports no %s sync port: set config key sync.%s.interface (%s) and restart clishd; orch_stat -Av shows the ports",
			p.Port, p.Port, env.Layout.ConfigFile())
	}
	base := fmt.Sprintf("check the %s sync link and cabling on interface %s (state: %s); orch_stat -Av shows the port",
		p.Port, port.Interface, port.State)
	switch {
	case port.State != state.PortUp:
		return fmt.Sprintf("this orchestrator's own %s sync interface %s is %s, which alone makes every %s peer Unreachable: %s; then %s",
			p.Port, port.Interface, port.State, p.Port, portRemedy(env, *port), base)
	case port.Error != "":
		return fmt.Sprintf("this orchestrator's own %s sync interface %s failed: %s; %s", p.Port, port.Interface, port.Error, base)
	}
	return fmt.Sprintf("%s; if the link is fine, check that clishd runs on %s (hcp -r Daemon there)", base, p.ID)
}

// untrusted words the finding for an Untrusted peer by its reason: blocked,
// key mismatch, or simply not trusted yet.
func untrusted(p state.Peer, text string) (string, string) {
	// What the peer presents (unverified: anyone can present anything)
	// is what the admin must check on the peer itself before naming it.
	id, fp := p.ID, p.PresentedFingerprint
	if fp == "" {
		fp = p.Fingerprint
	}
	verify := fmt.Sprintf("%s on %s itself", showFingerprint, id)
	reason := strings.ToLower(p.Reason)
	switch {
	case strings.Contains(reason, "blocked"):
		if fp == "" {
			return text, fmt.Sprintf("a fingerprint of %s is blocked (list: %s): unblock only if you trust it again: "+
				`clish -c "delete maestro authentication block fingerprint <FP>" with the fingerprint %s shows (%s), then establish trust: %s`,
				id, showBlocked, id, verify, trustCmd(id, "<FP>", false))
		}
		return text, fmt.Sprintf(`unblock only if you trust it again: clish -c "delete maestro authentication block fingerprint %s", then establish trust: %s`,
			fp, trustCmd(id, fp, false))
	case strings.Contains(reason, "does not match"):
		shown := fp
		if shown == "" {
			shown = "a new key"
		}
		loud := fmt.Sprintf("@@@ REMOTE ORCHESTRATOR IDENTIFICATION HAS CHANGED! @@@ %s now presents %s, not the key trusted for it. "+
			"IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY (a man-in-the-middle), or %s was reinstalled or replaced. %s",
			id, shown, id, text)
		if fp == "" {
			return loud, fmt.Sprintf("the key of %s changed: read its new fingerprint on %s (%s), then replace the trusted key: %s",
				id, id, verify, trustCmd(id, "<FP>", true))
		}
		return loud, fmt.Sprintf("the key of %s changed: verify that %s (presented, unverified) is %s's fingerprint (%s); only if it is, replace the trusted key: %s",
			id, fp, id, verify, trustCmd(id, fp, true))
	case fp == "":
		return text, fmt.Sprintf("%s has presented no fingerprint: read it on %s first (%s), then establish trust: %s and confirm that fingerprint when asked",
			id, id, verify, trustCmd(id, "", false))
	}
	return text, fmt.Sprintf("verify that %s (presented, unverified) is %s's fingerprint (%s), then establish trust: %s",
		fp, id, verify, trustCmd(id, fp, false))
}
