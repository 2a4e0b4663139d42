package shell

import (
	"strings"
	"testing"
)

func TestComplete(t *testing.T) {
	e, _ := testEngine(t)
	tests := []struct {
		line    string
		want    string // candidates joined by |
		replace int
	}{
		{"", "add |delete |exit |help |quit |save |set |show ", 0},
		{"sh", "show ", 2},
		{"show ", "commands |config-state |configuration |maestro |orchestrator |user |users ", 0},
		{"sh co", "commands |config-state |configuration ", 2},
		{"sh maes auth ", "blocked |fingerprint ", 0},
		{"sh maes auth f", "fingerprint ", 1},
		{"show maestro authentication fingerprint ", "", 0},
		{"set maes auth trust orch ", "1_2|2_1|2_2|all ", 0},
		{"set maes auth trust orch 2", "2_1|2_2", 1},
		{"set maes auth trust orch 1_2,", "1_2,2_1|1_2,2_2", 4},
		{"set maes auth trust orch 1_2,2_", "1_2,2_1|1_2,2_2", 6},
		{"set maes auth trust orch all ", "fingerprints |force ", 0},
		{"set maes auth trust orch all force ", "fingerprints ", 0},
		{"set maes auth trust orch all fingerprints ", "1_2=|2_1=|2_2=", 0},
		{"set maes auth trust orch all fingerprints 1_2=", "", 0},
		{"set user ", "admin |monitor ", 0},
		{"set user admin role m", "monitorRole ", 1},
		{"add rba user bob roles adminRole,", "adminRole,monitorRole", 10},
		{"set banner state ", "off |on ", 0},
		{"add aaa provider r1 type ", "ldap |radius |tacacs ", 0},
		{"set ssh port ", "", 0},
		{"show bogus ", "", 0},
		{`set hostname "a`, "", 0},
	}
	for _, tt := range tests {
		got, n := e.Complete(tt.line)
		if strings.Join(got, "|") != tt.want || (tt.want != "" && n != tt.replace) {
			t.Errorf("Complete(%q) = %q, %d; want %q, %d", tt.line, got, n, tt.want, tt.replace)
		}
	}
}

func TestCompleterForReadline(t *testing.T) {
	e, _ := testEngine(t)
	got, n := completer{e}.Do([]rune("sh maes au"), len("sh maes au"))
	if n != 2 || len(got) != 1 || string(got[0]) != "thentication " {
		t.Errorf("Do = %q, %d", got, n)
	}
	// The cursor in the middle of the line completes what is before it.
	got, _ = completer{e}.Do([]rune("sh us admin"), len("sh us"))
	if len(got) != 2 || string(got[0]) != "er " || string(got[1]) != "ers " {
		t.Errorf("Do mid-line = %q", got)
	}
}

func TestHelp(t *testing.T) {
	e, _ := testEngine(t)
	tests := []struct {
		line string
		want []string // lines expected in HelpText, in order
		not  []string
	}{
		{"", []string{"add", "exit    end this session", "set     change settings", "show    display settings and status"}, []string{"<CR>"}},
		{"sh", []string{"show  display settings and status"}, []string{"change settings"}},
		{"show ", []string{"commands", "list every command", "maestro", "3 commands", "users", "all users"}, []string{"<CR>"}},
		{"sh maes auth ", []string{"blocked      blocked fingerprints", "fingerprint  this orchestrator's ID", "<CR>         run: peers, status"}, nil},
		{"set maes auth trust orch ", []string{"<targets>  all, or orchestrator IDs", "(known: 1_2, 2_1, 2_2)"}, []string{"<CR>"}},
		{"set maes auth trust orch all ", []string{"fingerprints  option: fingerprints <fps>", "force", "<CR>", "run: establish trust"}, nil},
		{"set user admin role ", []string{"<role>  a role: one of adminRole, monitorRole"}, nil},
		{"set ssh port ", []string{"<n>  an integer 1-65535"}, nil},
		{"show bogus ", []string{`unknown word "bogus" after "show"`}, nil},
		{"sh zz", []string{"(nothing matches)"}, nil},
	}
	for _, tt := range tests {
		got := e.HelpText(tt.line)
		rest := got
		for _, w := range tt.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("HelpText(%q) lacks %q (in order):\n%s", tt.line, w, got)
				break
			}
			rest = rest[i+len(w):]
		}
		for _, w := range tt.not {
			if strings.Contains(got, w) {
				t.Errorf("HelpText(%q) has %q:\n%s", tt.line, w, got)
			}
		}
	}
}

func TestDescribeAndShowCommands(t *testing.T) {
	e := NewEngine()
	e.Register(Command{Syntax: "set x <v:number:1-9> [force]", Help: "set x", Describe: map[string]string{"v": "how many", "force": "even if busy"},
		Run: func(*Ctx, Args) error { return nil }})
	if got := e.HelpText("set x "); !strings.Contains(got, "<v>  how many") {
		t.Errorf("param help:\n%s", got)
	}
	if got := e.HelpText("set x 1 "); !strings.Contains(got, "force  even if busy") {
		t.Errorf("option help:\n%s", got)
	}
	out := &strings.Builder{}
	s := NewSession(e, SessionOptions{Out: out})
	if code := s.Exec(t.Context(), "show commands"); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"exit", "help", "quit", "set x <v:number:1-9> [force]  set x", "show commands"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show commands lacks %q:\n%s", want, out)
		}
	}
}
