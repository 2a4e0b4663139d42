package agent

import "github.com/orchd/orchd/identity"

// partLogf is the Logf handed to a part: its entries carry the part's name
// and, when an argument is an orchestrator ID, that ID as the "peer" field
// (PART= and PEER= in the journal, so `journalctl PEER=1_2` finds them).
func (a *Agent) partLogf(part string) func(format string, args ...any) {
	return func(format string, args ...any) {
		e := a.log.WithField("part", part)
		for _, x := range args {
			if id, ok := x.(identity.ID); ok {
				e = e.WithField("peer", id.String())
				break
			}
		}
		e.Infof(format, args...)
	}
}
