package healthcheck

import (
	"fmt"
	"strings"

	"github.com/orchd/orchd/state"
)

var syncTest = Test{
	Name:        "Sync Interfaces",
	Description: "the internal and external sync interfaces exist, are up, have their address and no configuration error",
	Run:         runSync,
}

func runSync(env *Env) Result {
	if r, ok := freshState(env); !ok {
		return r
	}
	ports := env.State.SyncPorts
	if len(ports) == 0 {
		return resultOf(Finding{Severity: Warning, Subject: "sync ports",
			Text: "clishd reports no sync port",
			Remedy: fmt.Sprintf("check config keys sync.internal.interface and sync.external.interface (%s), then %s",
				env.Layout.ConfigFile(), restartClishd)})
	}
	var fs []Finding
	for _, p := range ports {
		fs = append(fs, portFinding(env, p))
	}
	return resultOf(fs...)
}

func portFinding(env *Env, p state.SyncPort) Finding {
	addrs := "no address"
	if len(p.Addresses) > 0 {
		addrs = strings.Join(p.Addresses, ", ")
	}
	text := fmt.Sprintf("%s sync interface is %s, %s", p.Role, p.State, addrs)
	if !p.Since.IsZero() {
		text += ", since " + stamp(p.Since)
	}
	if p.Error != "" {
		text += ": " + p.Error
	}
	f := Finding{Severity: Failed, Subject: p.Interface, Text: text, Remedy: portRemedy(env, p)}
	switch {
	case p.State == state.PortUp && p.Error == "" && len(p.Addresses) == 0:
		f.Severity = Warning
	case p.State == state.PortUp && p.Error == "":
		f.Severity, f.Remedy = Passed, ""
	}
	return f
}

// portRemedy says how to fix a sync port that is not up with an address.
func portRemedy(env *Env, p state.SyncPort) string {
	key := "sync." + p.Role
	switch p.State {
	case state.PortMissing:
		return fmt.Sprintf("interface %s is not present on this host: check config key %s.interface (%s) against ip link show, and the cabling",
			p.Interface, key, env.Layout.ConfigFile())
	case state.PortDown:
		return fmt.Sprintf("ip link show %s; check the cabling and the switch port; bring it up: ip link set %s up", p.Interface, p.Interface)
	case state.PortUp:
		if p.Error != "" {
			break
		}
		return fmt.Sprintf("clishd assigns the address from config keys %s.address / %s.network (%s): check ip addr show %s and the clishd logs (journalctl -u clishd)",
			key, key, env.Layout.ConfigFile(), p.Interface)
	default:
		return fmt.Sprintf("state %q is not one hcp knows (up, down, missing): run hcp and clishd from the same orchd release; ip link show %s", p.State, p.Interface)
	}
	return fmt.Sprintf("fix what the error names (config keys %s.interface, %s.address, %s.network in %s; ip addr show %s), then %s",
		key, key, key, env.Layout.ConfigFile(), p.Interface, restartClishd)
}
