package shell

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	e, _ := testEngine(t)
	tests := []struct {
		line string
		want string // describe() of the result, or "" for a blank line
		err  string // substring of the error, when one is expected
	}{
		// abbreviations
		{line: "show maestro authentication", want: "show maestro authentication"},
		{line: "sh maes auth", want: "show maestro authentication"},
		{line: "  sh   maes auth  ", want: "show maestro authentication"},
		{line: "sh maes auth f", want: "show maestro authentication fingerprint"},
		{line: "sh maes auth bl", want: "show maestro authentication blocked"},
		{line: "sh comm", want: "show commands"},
		{line: "show configuration", want: "show configuration"},
		{line: "sh config-s", want: "show config-state"},
		{line: "", want: ""},
		{line: "   ", want: ""},
		// ambiguity and unknown words
		{line: "s", err: `ambiguous word "s": could be save, set, show`},
		{line: "sh co", err: `ambiguous word "co" after "show": could be commands, config-state, configuration`},
		{line: "show us", err: `ambiguous word "us" after "show": could be user, users`},
		{line: "show maestro xyz", err: `unknown word "xyz" after "show maestro": expected authentication`},
		{line: "xyz", err: `unknown word "xyz": expected one of add, delete, exit, help, quit, save, set, show`},
		{line: "SHOW users", err: `unknown word "SHOW"`},
		// missing pieces
		{line: "sh maes", err: `incomplete command "show maestro": expected authentication`},
		{line: "set maes auth trust orch", err: `missing <targets> after "set maestro authentication trust orchestrators": expected all, or orchestrator IDs separated by commas, such as 1_2,2_1`},
		{line: "set maes auth trust orch all fingerprints", err: `missing <fps> after "set maestro authentication trust orchestrators all fingerprints": expected ID=FP pairs`},
		{line: "add aaa provider r1", err: `incomplete command "add aaa provider r1": expected type`},
		// extra words
		{line: "show users now", err: `extra word "now" after "show users": the command is complete without it`},
		{line: "show maestro authentication extra", err: `unknown word "extra" after "show maestro authentication": expected one of blocked, fingerprint, or the end of the line`},
		{line: "set maes auth trust orch all force force", err: `"force" given twice after "set maestro authentication trust orchestrators all force"`},
		{line: "set maes auth trust orch all bogus", err: `unknown word "bogus" after "set maestro authentication trust orchestrators all": expected one of fingerprints, force, or the end of the line`},
		// optional groups, in any order
		{line: "set maes auth trust orch all", want: "set maestro authentication trust orchestrators targets=all"},
		{line: "set maes auth trust orch 1_2,2_1 force", want: "set maestro authentication trust orchestrators +force targets=1_2,2_1"},
		{line: "set maes auth trust orch 1_2 fi 1_2=" + fpA + " fo", want: "set maestro authentication trust orchestrators +fingerprints +force fps=1_2=" + fpA + " targets=1_2"},
		{line: "add aaa provider r1 type radius timeout 5 port 1812", want: "add aaa provider +port +timeout name=r1 port=1812 secs=5 type=radius"},
		{line: "add aaa provider r1 type ldap", want: "add aaa provider name=r1 type=ldap"},
		// id
		{line: "show orchestrator 1_2", want: "show orchestrator id=1_2"},
		{line: "show orchestrator 1-2", err: `invalid orchestrator ID "1-2": expected S_M such as 1_2`},
		{line: "show orchestrator 0_1", err: `invalid orchestrator ID "0_1"`},
		// idlist and idlist-all
		{line: "set maes auth revoke orch 2_2,1_2", want: "set maestro authentication revoke orchestrators targets=2_2,1_2"},
		{line: "set maes auth revoke orch 1_2,1_2", err: `orchestrator ID 1_2 listed twice in "1_2,1_2"`},
		{line: "set maes auth revoke orch 1_2,", err: `invalid orchestrator ID ""`},
		{line: "set maes auth revoke orch al", err: `invalid orchestrator ID "al"`},
		// fingerprint
		{line: "set maes auth block fingerprint " + fpB, want: "set maestro authentication block fingerprint fp=" + fpB},
		{line: "del maes auth block fing " + fpB, want: "delete maestro authentication block fingerprint fp=" + fpB},
		{line: "set maes auth block fingerprint MD5:aa", err: `invalid fingerprint "MD5:aa": missing SHA256: prefix`},
		{line: "set maes auth block fingerprint SHA256:short", err: `invalid fingerprint "SHA256:short": 5 characters after the prefix`},
		// id-fp-list
		{line: "set maes auth trust orch all fingerprints 1_2=" + fpA + ",2_1=" + fpB, want: "set maestro authentication trust orchestrators +fingerprints fps=1_2=" + fpA + ",2_1=" + fpB + " targets=all"},
		{line: "set maes auth trust orch all fingerprints 1_2", err: `invalid pair "1_2" in "1_2": expected ID=FP (such as 1_2=SHA256:...)`},
		{line: "set maes auth trust orch all fingerprints 1-2=" + fpA, err: `invalid orchestrator ID "1-2"`},
		{line: "set maes auth trust orch all fingerprints 1_2=SHA256:x", err: `fingerprint for 1_2: invalid fingerprint "SHA256:x"`},
		{line: "set maes auth trust orch all fingerprints 1_2=" + fpA + ",1_2=" + fpB, err: `orchestrator ID 1_2 named twice`},
		// user
		{line: "show user admin", want: "show user name=admin"},
		{line: "show user _svc.backup-1", want: "show user name=_svc.backup-1"},
		{line: "show user bl", want: "show user name=bl"},
		{line: "show user Bob", err: `invalid user name "Bob": expected 1-32 characters, a-z or _ first, then a-z, 0-9, _, . or -`},
		{line: "show user 1abc", err: `invalid user name "1abc"`},
		{line: "show user " + strings.Repeat("a", 33), err: `invalid user name`},
		// role and roles
		{line: "set user admin role monitorRole", want: "set user name=admin role=monitorRole"},
		{line: "set user admin role rootRole", err: `unknown role "rootRole": expected one of adminRole, monitorRole`},
		{line: "add rba user bob roles adminRole,monitorRole", want: "add rba user name=bob roles=adminRole,monitorRole"},
		{line: "add rba user bob roles adminRole,x", err: `unknown role "x" in "adminRole,x"`},
		{line: "add rba user bob roles adminRole,adminRole", err: `role "adminRole" listed twice`},
		// number
		{line: "set ssh port 22", want: "set ssh port n=22"},
		{line: "set ssh port 65535", want: "set ssh port n=65535"},
		{line: "set ssh port 0", err: `invalid number "0" for <n>: expected an integer 1-65535`},
		{line: "set ssh port 65536", err: `invalid number "65536" for <n>: expected an integer 1-65535`},
		{line: "set ssh port 2x", err: `invalid number "2x"`},
		// onoff and enum
		{line: "set banner state on", want: "set banner state state=on"},
		{line: "set banner state off", want: "set banner state state=off"},
		{line: "set banner state yes", err: `invalid value "yes" for <state>: expected on or off`},
		{line: "add aaa provider r1 type kerberos", err: `invalid value "kerberos" for <type>: expected one of radius, tacacs, ldap`},
		// text, quoting, rest of line
		{line: "set hostname gw-1", want: "set hostname name=gw-1"},
		{line: `set hostname "gw 1"`, want: "set hostname name=gw 1"},
		{line: `set hostname "say \"hi\" \\o/"`, want: `set hostname name=say "hi" \o/`},
		{line: `set hostname a b`, err: `extra word "b" after "set hostname a"`},
		{line: `set hostname "gw 1`, err: `unterminated quote: expected a closing "`},
		{line: "set banner message Authorized use only", want: "set banner message msg=Authorized use only"},
		{line: `set banner message "quoted"`, want: "set banner message msg=quoted"},
		{line: "set banner message", err: `missing <msg> after "set banner message": expected text up to the end of the line`},
		// a quoted word is a value, never a keyword
		{line: `"show" users`, err: `unknown word "show"`},
	}
	for _, tt := range tests {
		p, err := e.Parse(tt.line)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Parse(%q) error = %v, want one containing %q", tt.line, err, tt.err)
			}
		case err != nil:
			t.Errorf("Parse(%q): %v", tt.line, err)
		case tt.want == "":
			if p != nil {
				t.Errorf("Parse(%q) = %s, want nothing", tt.line, describe(p))
			}
		case p == nil || describe(p) != tt.want:
			got := "nil"
			if p != nil {
				got = describe(p)
			}
			t.Errorf("Parse(%q) = %s, want %s", tt.line, got, tt.want)
		}
	}
}

func TestArgsAccessors(t *testing.T) {
	e, _ := testEngine(t)
	p, err := e.Parse("set maes auth trust orch 1_2,2_1 force fingerprints 2_1=" + fpB)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Args
	if ids := a.IDs("targets"); len(ids) != 2 || ids[0].String() != "1_2" || ids[1].String() != "2_1" {
		t.Errorf("IDs = %v", ids)
	}
	if a.All("targets") || !a.Has("force") || !a.Has("fps") {
		t.Errorf("All=%v Has(force)=%v Has(fps)=%v", a.All("targets"), a.Has("force"), a.Has("fps"))
	}
	if fps := a.IDFingerprints("fps"); len(fps) != 1 || fps[0].ID.String() != "2_1" || fps[0].Fingerprint != fpB {
		t.Errorf("IDFingerprints = %v", fps)
	}

	p, _ = e.Parse("set maes auth trust orch all")
	if !p.Args.All("targets") || p.Args.IDs("targets") != nil || p.Args.Has("force") || p.Args.IDFingerprints("fps") != nil {
		t.Errorf("all: All=%v IDs=%v", p.Args.All("targets"), p.Args.IDs("targets"))
	}
	p, _ = e.Parse("set ssh port 2222")
	if p.Args.Int("n") != 2222 || p.Args.String("n") != "2222" {
		t.Errorf("Int = %d", p.Args.Int("n"))
	}
	p, _ = e.Parse("show orchestrator 2_1")
	if id := p.Args.ID("id"); id.Site != 2 || id.Member != 1 {
		t.Errorf("ID = %v", id)
	}
	p, _ = e.Parse("set banner state on")
	if !p.Args.On("state") {
		t.Error("On = false for on")
	}
	p, _ = e.Parse("add rba user bob roles monitorRole")
	if r := p.Args.Strings("roles"); len(r) != 1 || r[0] != "monitorRole" {
		t.Errorf("Strings = %v", r)
	}

	for name, f := range map[string]func(){
		"undeclared": func() { p.Args.String("nope") },
		"wrong type": func() { p.Args.IDs("name") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestRegisterRejectsBadSyntax(t *testing.T) {
	run := func(*Ctx, Args) error { return nil }
	for syntax, want := range map[string]string{
		"<x:id> show":                  "must start with a keyword",
		"show <x:idd>":                 `unknown type "idd"`,
		"show <x:id> <x:user>":         `param name "x" used twice`,
		"show [a [b]]":                 "do not nest",
		"show [a":                      "unclosed",
		"show a]":                      `without an open "["`,
		"show [<x:id>]":                "must start with a keyword",
		"show [a] b":                   `"b" after an optional group`,
		"show [a] [a <x:id>]":          `two optional groups start with "a"`,
		"show <m:text:rest> more":      "must be the last thing",
		"show x [o <m:text:rest>]":     "inside an optional group",
		"show <n:number:9-1>":          `bad range "9-1"`,
		"show <t:enum>":                "lists no values",
		"show <r:role>":                "needs a Complete func",
		"show <x:id:opt>":              "takes no option",
		"show Bad!":                    `bad keyword "Bad!"`,
		"show <X:id>":                  `bad param "<X:id>"`,
		"show commands":                "same words and types",
		"set maestro authentication x": "", // fine
	} {
		func() {
			defer func() {
				r := recover()
				switch {
				case want == "" && r != nil:
					t.Errorf("Register(%q) panicked: %v", syntax, r)
				case want != "" && (r == nil || !strings.Contains(r.(string), want)):
					t.Errorf("Register(%q) panic = %v, want one containing %q", syntax, r, want)
				}
			}()
			NewEngine().Register(Command{Syntax: syntax, Run: run})
		}()
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "no Run func") {
			t.Errorf("Register without Run: panic = %v", r)
		}
	}()
	NewEngine().Register(Command{Syntax: "show x"})
}
