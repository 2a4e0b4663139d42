// Package logging builds clishd's logrus logger: text on a terminal, JSON
// otherwise, and straight to journald when systemd connected our output to
// the journal. Secrets must never be passed to it; callers log names, IDs
// and fingerprints only.
package logging

import (
	"fmt"
	"io"
	"os"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/sirupsen/logrus"
	"golang.org/x/term"
)

// New returns a logger at level ("debug".."error") in format "auto", "text"
// or "json", writing to w (normally os.Stderr).
func New(level, format string, w *os.File) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(w)
	if lv, err := logrus.ParseLevel(level); err == nil {
		l.SetLevel(lv)
	}
	onJournal, _ := journal.StderrIsJournalStream()
	switch {
	case format == "auto" && onJournal && journal.Enabled():
		// journald keeps structure natively; formatting it twice is noise.
		l.AddHook(journalHook{})
		l.SetOutput(io.Discard)
	case format == "json" || (format == "auto" && !term.IsTerminal(int(w.Fd()))):
		l.SetFormatter(&logrus.JSONFormatter{})
	default:
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	}
	return l
}

type journalHook struct{}

func (journalHook) Levels() []logrus.Level { return logrus.AllLevels }

func (journalHook) Fire(e *logrus.Entry) error {
	return journal.Send(e.Message, priority(e.Level), journalVars(e.Data))
}

// journalVars turns logrus fields into journal fields, so that
// `journalctl PEER=1_2` or `journalctl USER=admin` finds the entries.
func journalVars(data logrus.Fields) map[string]string {
	vars := map[string]string{"SYSLOG_IDENTIFIER": "clishd"}
	for k, v := range data {
		vars[journalKey(k)] = formatValue(v)
	}
	return vars
}

func priority(l logrus.Level) journal.Priority {
	switch l {
	case logrus.PanicLevel:
		return journal.PriEmerg
	case logrus.FatalLevel:
		return journal.PriCrit
	case logrus.ErrorLevel:
		return journal.PriErr
	case logrus.WarnLevel:
		return journal.PriWarning
	case logrus.InfoLevel:
		return journal.PriInfo
	}
	return journal.PriDebug
}

// fieldAliases name the journal fields of the logrus fields whose name
// differs: the sessions' "from" is the source address.
var fieldAliases = map[string]string{"from": "SOURCE"}

// reserved are the journal's own user fields: a logrus field that maps to
// one gets the ORCHD_ prefix instead of overriding it.
var reserved = map[string]bool{
	"MESSAGE": true, "MESSAGE_ID": true, "PRIORITY": true, "CODE_FILE": true, "CODE_LINE": true,
	"CODE_FUNC": true, "ERRNO": true, "INVOCATION_ID": true, "USER_INVOCATION_ID": true,
	"SYSLOG_FACILITY": true, "SYSLOG_IDENTIFIER": true, "SYSLOG_PID": true, "SYSLOG_TIMESTAMP": true,
	"SYSLOG_RAW": true, "DOCUMENTATION": true, "TID": true, "UNIT": true, "USER_UNIT": true,
	"OBJECT_PID": true, "COREDUMP_UNIT": true, "COREDUMP_USER_UNIT": true,
}

// journalKey maps a logrus field to a journal field name: uppercase
// letters, digits and underscores (part → PART, peer → PEER, user → USER,
// from → SOURCE). Names the journal would reject or reserves for itself
// (leading digit or underscore, MESSAGE, PRIORITY...) get the ORCHD_ prefix.
func journalKey(k string) string {
	if a, ok := fieldAliases[k]; ok {
		return a
	}
	b := make([]byte, 0, len(k))
	for _, c := range []byte(k) {
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	s := string(b)
	if s == "" || s[0] == '_' || (s[0] >= '0' && s[0] <= '9') || reserved[s] {
		s = "ORCHD_" + s
	}
	if len(s) > 64 { // the journal's limit on field names
		s = s[:64]
	}
	return s
}

func formatValue(v any) string {
	if err, ok := v.(error); ok {
		return err.Error()
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}
