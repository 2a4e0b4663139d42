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
	vars := map[string]string{"SYSLOG_IDENTIFIER": "clishd"}
	for k, v := range e.Data {
		vars[journalKey(k)] = formatValue(v)
	}
	return journal.Send(e.Message, priority(e.Level), vars)
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

// journalKey maps a logrus field to a valid journal field name
// (uppercase letters, digits, underscores, not starting with _).
func journalKey(k string) string {
	b := []byte("ORCHD_")
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
	return string(b)
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
