package logging

import (
	"errors"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/sirupsen/logrus"
)

func TestJournalKey(t *testing.T) {
	for in, want := range map[string]string{
		"part": "PART", "peer": "PEER", "user": "USER", "from": "SOURCE", "source": "SOURCE",
		"sync-port": "SYNC_PORT", "ID2": "ID2", "not_after": "NOT_AFTER",
		"message": "ORCHD_MESSAGE", "priority": "ORCHD_PRIORITY", "_pid": "ORCHD__PID", "2fa": "ORCHD_2FA", "": "ORCHD_",
	} {
		if got := journalKey(in); got != want {
			t.Errorf("journalKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJournalVars(t *testing.T) {
	got := journalVars(logrus.Fields{"part": "peers", "peer": "1_2", "user": "admin", "from": "127.0.0.1:5000", "error": errors.New("boom"), "n": 3})
	want := map[string]string{"SYSLOG_IDENTIFIER": "clishd", "PART": "peers", "PEER": "1_2", "USER": "admin",
		"SOURCE": "127.0.0.1:5000", "ERROR": "boom", "N": "3"}
	if len(got) != len(want) {
		t.Errorf("journalVars = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("journal field %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestPriority(t *testing.T) {
	for l, want := range map[logrus.Level]journal.Priority{
		logrus.PanicLevel: journal.PriEmerg, logrus.FatalLevel: journal.PriCrit, logrus.ErrorLevel: journal.PriErr,
		logrus.WarnLevel: journal.PriWarning, logrus.InfoLevel: journal.PriInfo, logrus.DebugLevel: journal.PriDebug, logrus.TraceLevel: journal.PriDebug,
	} {
		if got := priority(l); got != want {
			t.Errorf("priority(%s) = %d, want %d", l, got, want)
		}
	}
}
