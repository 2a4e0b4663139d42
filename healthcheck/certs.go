package healthcheck

import (
	"fmt"
	"time"
)

// CertWarnWithin is how close to expiry a certificate makes a WARNING.
const CertWarnWithin = 30 * 24 * time.Hour

var certTest = Test{
	Name: "Certificates",
	Description: "this orchestrator's certificate and those its peers presented are valid " +
		"for more than 30 days, and automatic renewal has not failed",
	Run: runCerts,
}

func runCerts(env *Env) Result {
	if r, ok := freshState(env); !ok {
		return r
	}
	return resultOf(certFindings(env, true)...)
}

// certFindings judges every certificate the state file names. With verbose,
// valid certificates and an unreported own expiry are findings too.
func certFindings(env *Env, verbose bool) []Finding {
	me := env.State.Orchestrator
	var fs []Finding
	add := func(f Finding) {
		if verbose || f.Severity != Passed {
			fs = append(fs, f)
		}
	}
	subject := me.ID + " certificate"
	switch {
	case me.CertNotAfter.IsZero():
		if verbose {
			add(Finding{Severity: Warning, Subject: subject, Text: "clishd does not report this orchestrator's certificate expiry",
				Remedy: showFingerprint + " shows it; if it stays unreported, " + restartClishd})
		}
	default:
		add(certFinding(env, subject, "this orchestrator's certificate", me.CertNotAfter,
			"clishd renews it automatically (config key auth.renew_before, default 30 days before expiry): "+
				"check the clock (timedatectl) and the renewal errors in the clishd logs, then "+restartClishd+
				" to renew; the key, and so every trust, stays the same"))
	}
	if me.CertRenewalError != "" {
		fs = append(fs, Finding{Severity: Warning, Subject: me.ID + " certificate renewal",
			Text: "the last automatic certificate renewal failed: " + me.CertRenewalError,
			Remedy: fmt.Sprintf("fix the cause the error names, then %s to retry; the current certificate is valid until %s",
				restartClishd, stamp(me.CertNotAfter))})
	}
	for _, p := range env.State.Peers {
		if p.CertNotAfter == nil {
			continue
		}
		add(certFinding(env, p.ID+" certificate", "the certificate "+p.ID+" presented", *p.CertNotAfter,
			fmt.Sprintf("on %s: run hcp -r Certificates there; its clishd renews automatically: check its clock (timedatectl) and logs, and restart it (systemctl restart clishd)", p.ID)))
	}
	return fs
}

func certFinding(env *Env, subject, what string, notAfter time.Time, remedy string) Finding {
	left := notAfter.Sub(env.Now)
	switch {
	case left <= 0:
		return Finding{Severity: Failed, Subject: subject,
			Text:   fmt.Sprintf("%s expired on %s (%s): peers refuse sync sessions with it", what, stamp(notAfter), within(notAfter, env.Now)),
			Remedy: remedy}
	case left < CertWarnWithin:
		return Finding{Severity: Warning, Subject: subject,
			Text:   fmt.Sprintf("%s expires on %s (%s), within 30 days, and has not been renewed", what, stamp(notAfter), within(notAfter, env.Now)),
			Remedy: remedy}
	}
	return Finding{Severity: Passed, Subject: subject,
		Text: fmt.Sprintf("%s is valid until %s (%s)", what, stamp(notAfter), within(notAfter, env.Now))}
}
