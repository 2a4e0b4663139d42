package shell

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary lines to the parser, completion and help, which
// see every keystroke of every session: they must never panic, and a line
// that parses must parse the same way again.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"show maestro authentication",
		"sh maes auth f",
		"set maestro authentication trust orchestrators all force fingerprints 1_2=" + fpA,
		"set maes auth trust orch 1_2,2_1 fi 1_2=" + fpA + ",2_1=" + fpB + " fo",
		"set maes auth trust orch 1_2,,2_1",
		"set maes auth trust orch all force force",
		"set maes auth trust orch all fingerprints 1_2==SHA256:",
		"set maes auth block fingerprint SHA256:",
		"show orchestrator 999_999",
		"show user \xff\xfe",
		`set hostname "unterminated`,
		`set hostname "a \" b" extra`,
		`set hostname "\\`,
		"set banner message ? what \"\" ",
		"add aaa provider r1 type radius port 99999 timeout",
		"add rba user bob roles ,",
		"set ssh port -1",
		"set ssh port 99999999999999999999",
		"s",
		"   \t  ",
		"[ ] < > <x:id>",
		"show\x00users",
		"exit extra",
	} {
		f.Add(seed)
	}
	e, _ := testEngine(f)
	f.Fuzz(func(t *testing.T, line string) {
		p, err := e.Parse(line)
		if err == nil && p != nil { // describe reads every param back through Args
			again, err := e.Parse(line)
			if err != nil || describe(again) != describe(p) {
				t.Fatalf("Parse(%q) not stable: %v", line, err)
			}
		}
		if err != nil && err.Error() == "" {
			t.Fatalf("Parse(%q): empty error", line)
		}
		cands, n := e.Complete(line)
		if n > len(line) {
			t.Fatalf("Complete(%q) replaces %d bytes", line, n)
		}
		for _, c := range cands {
			if !strings.HasPrefix(c, line[len(line)-n:]) {
				t.Fatalf("Complete(%q) candidate %q does not extend %q", line, c, line[len(line)-n:])
			}
		}
		_ = e.HelpText(line)
	})
}
