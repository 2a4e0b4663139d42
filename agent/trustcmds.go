package agent

import (
	"errors"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/shell"
)

// errNoTrust is what the mesh-trust commands say until the trust protocol
// (sync sessions, pins, block list) is built: plainly, not silently.
var errNoTrust = errors.New("not available in this build: mesh trust (sessions, trust, revoke, block) is not implemented yet; peers show Unknown \"no session yet\"")

func (a *Agent) registerTrustCommands(e *shell.Engine, s *adminSession) {
	notYet := func(*shell.Ctx, shell.Args) error { return errNoTrust }
	e.Register(shell.Command{Syntax: "show maestro authentication blocked", Help: "blocked fingerprints", Feature: aaa.FeatureMaestroAuth, Run: notYet})
	e.Register(shell.Command{Syntax: "set maestro authentication trust orchestrators <targets:idlist-all> [force] [fingerprints <fps:id-fp-list>]",
		Help: "establish trust with other orchestrators", Write: true, Feature: aaa.FeatureMaestroAuth, Run: notYet})
	e.Register(shell.Command{Syntax: "set maestro authentication revoke orchestrators <targets:idlist-all>",
		Help: "revoke trust (and tell the other orchestrators)", Write: true, Feature: aaa.FeatureMaestroAuth, Run: notYet})
	e.Register(shell.Command{Syntax: "set maestro authentication block fingerprint <fp:fingerprint>",
		Help: "never trust this fingerprint", Write: true, Feature: aaa.FeatureMaestroAuth, Run: notYet})
	e.Register(shell.Command{Syntax: "delete maestro authentication block fingerprint <fp:fingerprint>",
		Help: "unblock a fingerprint (does not re-trust it)", Write: true, Feature: aaa.FeatureMaestroAuth, Run: notYet})
}
