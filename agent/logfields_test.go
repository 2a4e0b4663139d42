package agent

import (
	"io"
	"testing"

	"github.com/orchd/orchd/identity"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

func TestPartLogfNamesThePeer(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	hook := test.NewLocal(log)
	a := &Agent{log: log}
	id, err := identity.ParseID("1_2")
	if err != nil {
		t.Fatal(err)
	}
	a.partLogf("peers")("peers: %s %s → %s: %s", id, "Unknown", "Authenticated", "session up")
	a.partLogf("peers")("peers: listening on %s", "198.18.1.1:7443")
	es := hook.AllEntries()
	if len(es) != 2 {
		t.Fatalf("%d entries", len(es))
	}
	if es[0].Data["part"] != "peers" || es[0].Data["peer"] != "1_2" {
		t.Errorf("fields %v, want part=peers peer=1_2", es[0].Data)
	}
	if _, ok := es[1].Data["peer"]; ok || es[1].Data["part"] != "peers" {
		t.Errorf("fields %v, want part=peers and no peer", es[1].Data)
	}
}
