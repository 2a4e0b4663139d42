package healthcheck

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orchd/orchd/state"
)

var daemonTest = Test{
	Name:        "Daemon",
	Description: "clishd is running and keeps the shared state file fresh (every other test reads that file)",
	Run:         runDaemon,
}

func runDaemon(env *Env) Result {
	const subject = "clishd"
	switch {
	case errors.Is(env.StateErr, state.ErrMissing):
		return resultOf(Finding{Severity: Failed, Subject: subject,
			Text:   fmt.Sprintf("clishd has never run under this root: %v", env.StateErr),
			Remedy: startClishd})
	case env.StateErr != nil:
		return resultOf(Finding{Severity: Failed, Subject: subject,
			Text:   fmt.Sprintf("the state file is unreadable: %v", env.StateErr),
			Remedy: "clishd rewrites it at least every second: " + restartClishd})
	case strings.Contains(env.Stale, "not running"):
		return resultOf(Finding{Severity: Failed, Subject: subject, Text: env.Stale, Remedy: startClishd})
	case env.Stale != "":
		return resultOf(Finding{Severity: Failed, Subject: subject, Text: env.Stale,
			Remedy: fmt.Sprintf("clishd (pid %d) is stuck: save its logs (journalctl -u clishd), then %s", env.State.Daemon.PID, restartClishd)})
	}
	d := env.State.Daemon
	text := fmt.Sprintf("running as pid %d, state written %s ago", d.PID,
		time.Duration(env.State.StateAgeSeconds*float64(time.Second)).Round(100*time.Millisecond))
	if d.Version != "" {
		text += ", version " + d.Version
	}
	return resultOf(Finding{Severity: Passed, Subject: subject, Text: text})
}

var configTest = Test{
	Name:        "Configuration Saved",
	Description: "the running configuration has been saved, so it survives a reboot",
	Run:         runConfig,
}

func runConfig(env *Env) Result {
	if r, ok := freshState(env); !ok {
		return r
	}
	const subject = "configuration"
	switch cs := env.State.Daemon.ConfigState; cs {
	case "saved":
		return resultOf(Finding{Severity: Passed, Subject: subject, Text: "the running configuration is saved"})
	case "unsaved":
		return resultOf(Finding{Severity: Warning, Subject: subject,
			Text:   "the running configuration has changes that are not saved: a reboot loses them",
			Remedy: `review them with clish -c "show configuration", then save: clish -c "save config"`})
	case "":
		return resultOf(Finding{Severity: Passed, Subject: subject,
			Text: `clishd does not report whether the configuration is saved; clish -c "show config-state" tells`})
	default:
		return resultOf(Finding{Severity: Warning, Subject: subject,
			Text:   fmt.Sprintf("clishd reports config state %q, which hcp does not know (saved, unsaved)", cs),
			Remedy: `clish -c "show config-state" tells; run hcp and clishd from the same orchd release`})
	}
}
