package healthcheck

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/state"
)

func TestRunReport(t *testing.T) {
	f := healthy()
	f.Peers[1].Status = state.Unreachable
	f.Daemon.ConfigState = "unsaved"
	r := Run(envFor(t, f), Tests())
	if want := (Summary{Passed: 4, Warning: 1, Failed: 1}); r.Summary != want || r.OK() {
		t.Errorf("summary %+v (ok %v), want %+v", r.Summary, r.OK(), want)
	}
	var m map[string]any
	if err := json.Unmarshal(r.MarshalIndented(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"generated_at", "orchestrator", "tests", "summary"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report JSON lacks %q", k)
		}
	}
	if m["orchestrator"] != "1_1" || m["generated_at"] != "2026-11-23T12:00:00Z" {
		t.Errorf("header: %v %v", m["orchestrator"], m["generated_at"])
	}
	tf := m["tests"].([]any)[1].(map[string]any)
	fd := tf["findings"].([]any)[0].(map[string]any)
	for _, k := range []string{"severity", "subject", "text", "remedy"} {
		if _, ok := fd[k]; !ok {
			t.Errorf("finding JSON lacks %q: %v", k, fd)
		}
	}
	var b bytes.Buffer
	WriteSummary(&b, r, false)
	for _, w := range []string{"TEST", "Maestro Orchestrator Authentication  FAILED   2_1: Unreachable", "Summary: 4 passed, 1 warning, 1 failed, 0 error"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, b.String())
		}
	}
	if strings.Contains(b.String(), "\x1b[") {
		t.Errorf("colour without a terminal")
	}
	b.Reset()
	WriteSummary(&b, r, true)
	if !strings.Contains(b.String(), "\x1b[31mFAILED\x1b[0m ") {
		t.Errorf("no colour:\n%q", b.String())
	}
}

func TestRunRecoversPanic(t *testing.T) {
	boom := Test{Name: "Boom", Description: "panics", Run: func(*Env) Result { panic("kaboom") }}
	r := Run(envFor(t, healthy()), []Test{boom})
	if r.Tests[0].Status != Error || !strings.Contains(r.Tests[0].Findings[0].Text, "kaboom") {
		t.Errorf("%+v", r.Tests[0])
	}
}

func TestDiff(t *testing.T) {
	fd := func(sev Status, subj, text string) Finding {
		return Finding{Severity: sev, Subject: subj, Text: text, Remedy: "x"}
	}
	prev := &Report{Tests: []TestReport{
		{Name: "A", Status: Failed, Findings: []Finding{fd(Failed, "1_2", "Unreachable"), fd(Passed, "2_1", "ok 1s")}},
		{Name: "B", Status: Passed},
		{Name: "C", Status: Warning, Findings: []Finding{fd(Warning, "cfg", "unsaved")}},
	}}
	last := &Report{Tests: []TestReport{
		{Name: "A", Status: Failed, Findings: []Finding{fd(Failed, "1_2", "Untrusted"), fd(Failed, "1_3", "Unknown"), fd(Passed, "2_1", "ok 2s")}},
		{Name: "B", Status: Warning, Findings: []Finding{fd(Warning, "sync-int", "no address")}},
		{Name: "D", Status: Passed},
	}}
	got := strings.Join(Diff(prev, last), "\n")
	want := strings.Join([]string{
		"A: finding changed: [FAILED] 1_2: Untrusted (was: Unreachable)",
		"A: new finding [FAILED] 1_3: Unknown",
		"B: status changed from PASSED to WARNING",
		"B: new finding [WARNING] sync-int: no address",
		"D: not in the previous run, now PASSED",
		"C: not run this time (was WARNING)",
	}, "\n")
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if d := Diff(last, last); len(d) != 0 {
		t.Errorf("no change gave %q", d)
	}
	resolved := Diff(last, prev)
	if !strings.Contains(strings.Join(resolved, "\n"), "A: resolved [FAILED] 1_3: Unknown") {
		t.Errorf("resolved: %q", resolved)
	}
}

func TestStoreKeepsPrevious(t *testing.T) {
	env := envFor(t, healthy())
	s := NewStore(env.Layout)
	if _, err := s.Last(); err == nil {
		t.Fatal("last report before any run")
	}
	first := Run(env, Tests())
	if err := s.Save(first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Previous(); err == nil {
		t.Fatal("previous report after one run")
	}
	f := healthy()
	f.Peers[0].Status = state.Unreachable
	env2 := envFor(t, f)
	env2.Now = now.Add(time.Minute)
	second := Run(env2, Tests())
	if err := s.Save(second); err != nil {
		t.Fatal(err)
	}
	last, err := s.Last()
	if err != nil || !last.GeneratedAt.Equal(second.GeneratedAt) {
		t.Fatalf("last: %v, %v", last, err)
	}
	prev, err := s.Previous()
	if err != nil || !prev.GeneratedAt.Equal(first.GeneratedAt) {
		t.Fatalf("previous: %v, %v", prev, err)
	}
	txt, err := os.ReadFile(filepath.Join(s.LastDir(), ReportText))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"HealthCheck Point report: orchestrator 1_1", "Remedy: check the internal sync link",
		"Maestro Orchestrator Authentication: status changed from PASSED to FAILED"} {
		if !strings.Contains(string(txt), w) {
			t.Errorf("report.txt lacks %q:\n%s", w, txt)
		}
	}
	if _, err := os.Stat(filepath.Join(s.PreviousDir(), ReportText)); err != nil {
		t.Error(err)
	}
}
