package healthcheck

import (
	"fmt"

	"github.com/orchd/orchd/state"
)

var loginsTest = Test{
	Name: "Administrator Logins",
	Description: "no source address reached the failed-login alarm threshold (failed-alarm-threshold " +
		"failures within failed-lock-duration); locked-out addresses are listed",
	Run: runLogins,
}

func runLogins(env *Env) Result {
	if r, ok := freshState(env); !ok {
		return r
	}
	l := env.State.Logins
	if l == nil {
		return resultOf(Finding{Severity: Passed, Subject: "logins", Text: "clishd reports no login lockout table (an older clishd)"})
	}
	var fs []Finding
	for _, e := range l.Lockouts {
		switch {
		case e.Alarm:
			fs = append(fs, Finding{Severity: Failed, Subject: e.Address,
				Text: fmt.Sprintf("%d failed logins from %s (alarm threshold %d)%s%s: someone may be guessing passwords",
					e.Failures, e.Address, l.AlarmThreshold, lastUser(e.LastUser), lockedText(e.LockedUntil != nil, env, e)),
				Remedy: fmt.Sprintf("find who uses %s (show audit last 50, the clishd log); if it is legitimate, "+
					"unlock it with: delete aaa lockout %s; otherwise block it upstream", e.Address, e.Address)})
		case e.LockedUntil != nil:
			fs = append(fs, Finding{Severity: Warning, Subject: e.Address,
				Text:   fmt.Sprintf("%s is locked out after %d failed logins%s%s", e.Address, e.Failures, lastUser(e.LastUser), lockedText(true, env, e)),
				Remedy: fmt.Sprintf("wait for the lock to end, or unlock it now with: delete aaa lockout %s", e.Address)})
		}
	}
	if len(fs) == 0 {
		text := "no source address is locked out or alarmed"
		if n := len(l.Lockouts); n > 0 {
			text = fmt.Sprintf("%d source address(es) with recent failed logins, none locked out or alarmed", n)
		}
		fs = append(fs, Finding{Severity: Passed, Subject: "logins", Text: text})
	}
	return resultOf(fs...)
}

func lastUser(u string) string {
	if u == "" {
		return ""
	}
	return ", last as user " + u
}

func lockedText(locked bool, env *Env, e state.Lockout) string {
	if !locked || e.LockedUntil == nil {
		return ""
	}
	return fmt.Sprintf("; locked until %s (%s)", stamp(*e.LockedUntil), within(*e.LockedUntil, env.Now))
}
