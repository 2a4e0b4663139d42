package shell

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fingerprints in the right shape for tests.
var (
	fpA = "SHA256:" + base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	fpB = "SHA256:" + base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
)

// ran records what test commands ran.
type ran struct {
	mu    sync.Mutex
	lines []string
}

func (r *ran) add(s string) {
	r.mu.Lock()
	r.lines = append(r.lines, s)
	r.mu.Unlock()
}

func (r *ran) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// describe renders a parsed line as "name k=v ... +flag" for comparisons.
func describe(p *Parsed) string {
	var parts []string
	for name, prm := range p.Args.cmd.params {
		if p.Args.Has(name) {
			parts = append(parts, name+"="+p.Args.String(prm.name))
		}
	}
	for _, g := range p.Args.cmd.groups {
		if p.Args.Has(g[0].word) {
			parts = append(parts, "+"+g[0].word)
		}
	}
	sort.Strings(parts)
	return strings.TrimSpace(p.Name + " " + strings.Join(parts, " "))
}

// testEngine builds an engine shaped like the daemon's. Each command
// prints "ran <describe>" and records it.
func testEngine(t testing.TB) (*Engine, *ran) {
	t.Helper()
	e := NewEngine()
	r := &ran{}
	ids := func() []string { return []string{"1_2", "2_1", "2_2"} }
	users := func() []string { return []string{"admin", "monitor"} }
	roles := func() []string { return []string{"adminRole", "monitorRole"} }
	reg := func(syntax, help string, write bool, comp map[string]Completer) {
		e.Register(Command{Syntax: syntax, Help: help, Write: write, Complete: comp, Run: func(c *Ctx, a Args) error {
			p := &Parsed{Name: c.Name, Args: a}
			d := describe(p)
			r.add(d)
			fmt.Fprintf(c.Out, "ran %s\n", d)
			return nil
		}})
	}
	reg("show maestro authentication", "peers, status, port, fingerprint, since", false, nil)
	reg("show maestro authentication fingerprint", "this orchestrator's ID, fingerprint, cert expiry", false, nil)
	reg("show maestro authentication blocked", "blocked fingerprints", false, nil)
	reg("set maestro authentication trust orchestrators <targets:idlist-all> [force] [fingerprints <fps:id-fp-list>]",
		"establish trust with other orchestrators", true, map[string]Completer{"targets": ids, "fps": ids})
	reg("set maestro authentication revoke orchestrators <targets:idlist-all>", "revoke trust", true, map[string]Completer{"targets": ids})
	reg("set maestro authentication block fingerprint <fp:fingerprint>", "block a fingerprint", true, nil)
	reg("delete maestro authentication block fingerprint <fp:fingerprint>", "unblock a fingerprint", true, nil)
	reg("show orchestrator <id:id>", "one orchestrator", false, map[string]Completer{"id": ids})
	reg("show user <name:user>", "one user", false, map[string]Completer{"name": users})
	reg("show users", "all users", false, nil)
	reg("set user <name:user> role <role:role>", "set a user's role", true, map[string]Completer{"name": users, "role": roles})
	reg("add rba user <name:user> roles <roles:roles>", "give roles", true, map[string]Completer{"roles": roles})
	reg("set ssh port <n:number:1-65535>", "SSH port", true, nil)
	reg("set banner state <state:onoff>", "banner on or off", true, nil)
	reg("set banner message <msg:text:rest>", "banner text", true, nil)
	reg("set hostname <name:text>", "host name", true, nil)
	reg("add aaa provider <name:user> type <type:enum:radius|tacacs|ldap> [port <port:number:1-65535>] [timeout <secs:number:1-60>]",
		"add a provider", true, nil)
	reg("save config", "save the running configuration", true, nil)
	reg("show configuration", "the running configuration", false, nil)
	reg("show config-state", "saved or not", false, nil)
	return e, r
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until cond holds, failing with what was seen otherwise.
func waitFor(t *testing.T, what string, cond func() bool, seen func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; got:\n%q", what, seen())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
