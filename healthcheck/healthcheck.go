package healthcheck

import (
	"fmt"
	"time"

	"github.com/orchd/orchd/paths"
	"github.com/orchd/orchd/state"
)

// Status is a test's verdict, and a finding's severity.
type Status string

// The statuses, from best to worst.
const (
	Passed  Status = "PASSED"
	Warning Status = "WARNING"
	Failed  Status = "FAILED"
	Error   Status = "ERROR" // the test could not run
)

func (s Status) rank() int {
	switch s {
	case Passed:
		return 0
	case Warning:
		return 1
	case Failed:
		return 2
	}
	return 3
}

// Finding is one observation of a test.
type Finding struct {
	Severity Status `json:"severity"`
	// Subject is what the finding is about: a peer ID, an interface, "clishd".
	Subject string `json:"subject"`
	Text    string `json:"text"`
	// Remedy says what to run or check; "" only when Severity is PASSED.
	Remedy string `json:"remedy"`
}

// Result is what a test returns.
type Result struct {
	Status   Status
	Findings []Finding
}

// resultOf makes the result whose status is the worst of fs.
func resultOf(fs ...Finding) Result {
	r := Result{Status: Passed, Findings: fs}
	for _, f := range fs {
		if f.Severity.rank() > r.Status.rank() {
			r.Status = f.Severity
		}
	}
	return r
}

// Env is what a test sees: the state file as read at Now, and the layout
// for local probes.
type Env struct {
	Layout paths.Layout
	Now    time.Time
	// State is nil when StateErr is set.
	State    *state.File
	StateErr error
	// Stale is State.Staleness(), computed once.
	Stale string
}

// NewEnv reads the state file of l at now.
func NewEnv(l paths.Layout, now time.Time) *Env {
	e := &Env{Layout: l, Now: now}
	e.State, e.StateErr = state.Read(l.StateFile(), now)
	if e.StateErr == nil {
		e.Stale = e.State.Staleness()
	}
	return e
}

// freshState returns an ERROR result and false when the state file cannot
// be believed, so tests that judge its content do not run on it.
func freshState(env *Env) (Result, bool) {
	const see = `; "hcp -r Daemon" tells more`
	switch {
	case env.StateErr != nil:
		return resultOf(Finding{Severity: Error, Subject: "state file",
			Text:   fmt.Sprintf("cannot run: %v", env.StateErr),
			Remedy: startClishd + see}), false
	case env.Stale != "":
		return resultOf(Finding{Severity: Error, Subject: "state file",
			Text:   fmt.Sprintf("cannot run: the state file cannot be believed: %s", env.Stale),
			Remedy: restartClishd + see}), false
	}
	return Result{}, true
}

const (
	startClishd   = "start clishd: systemctl start clishd (or clishd run)"
	restartClishd = "restart clishd: systemctl restart clishd (or clishd run); its logs: journalctl -u clishd"
)

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// within says how far t is from now in words: "in 10 days", "3 hours ago".
func within(t, now time.Time) string {
	d := t.Sub(now)
	ago := d < 0
	if ago {
		d = -d
	}
	var s string
	switch {
	case d >= 48*time.Hour:
		s = fmt.Sprintf("%d days", int((d+12*time.Hour)/(24*time.Hour)))
	case d >= 2*time.Hour:
		s = fmt.Sprintf("%d hours", int(d/time.Hour))
	default:
		s = d.Round(time.Second).String()
	}
	if ago {
		return s + " ago"
	}
	return "in " + s
}
