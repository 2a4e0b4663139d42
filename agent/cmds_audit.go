package agent

import (
	"errors"
	"fmt"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/shell"
	"github.com/sirupsen/logrus"
)

// openAudit opens the audit log and mirrors every record to the daemon's
// log (journald under systemd), as DESIGN §8.6 asks.
func openAudit(path string, log *logrus.Logger) (*audit.Log, error) {
	l, err := audit.Open(path)
	if err != nil {
		return nil, err
	}
	l.Notify = func(r audit.Record) {
		f := logrus.Fields{"part": "audit", "audit_seq": r.Seq, "event": r.Type}
		for k, v := range map[string]string{"user": r.User, "domain": r.Domain, "provider": r.Provider, "source": r.Source,
			"command": r.Command, "result": r.Result, "reason": r.Reason} {
			if v != "" {
				f[k] = v
			}
		}
		for k, v := range r.Fields {
			f[k] = v
		}
		log.WithFields(f).Info("audit")
	}
	return l, nil
}

// record writes an audit event; a failure to write is loud but does not
// undo what was done (the event already happened).
func (a *Agent) record(e audit.Event) {
	if err := a.audit.Record(e); err != nil {
		a.log.WithError(err).Error("audit log write failed")
	}
}

func (a *Agent) registerAuditCommands(e *shell.Engine) {
	e.Register(shell.Command{Syntax: "show audit [last <n:number:1-10000>]", Help: "the newest audit records (default 20), newest last",
		Feature: aaa.FeatureAudit, Run: func(c *shell.Ctx, x shell.Args) error {
			n := 20
			if x.Has("n") {
				n = x.Int("n")
			}
			lines, err := audit.Tail(a.audit.Path(), n)
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Fprintln(c.Out, l)
			}
			return nil
		}})
	e.Register(shell.Command{Syntax: "audit verify", Help: "check the audit log's hash chain",
		Feature: aaa.FeatureAudit, Run: func(c *shell.Ctx, _ shell.Args) error {
			n, err := audit.VerifyFile(a.audit.Path())
			var be *audit.BreakError
			if errors.As(err, &be) {
				return fmt.Errorf("audit log NOT intact: %d records verified, then line %d: %s", n, be.Line, be.Reason)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "audit log intact: %d records\n", n)
			return nil
		}})
}
