package healthcheck

import (
	"encoding/json"
	"fmt"
	"time"
)

// Report is the outcome of one hcp run; its JSON form is documented in the
// package comment.
type Report struct {
	GeneratedAt  time.Time    `json:"generated_at"`
	Orchestrator string       `json:"orchestrator"`
	Tests        []TestReport `json:"tests"`
	Summary      Summary      `json:"summary"`
}

// TestReport is one test's result in a report.
type TestReport struct {
	Name     string    `json:"name"`
	Status   Status    `json:"status"`
	Findings []Finding `json:"findings"`
}

// Summary counts the tests of a report by status.
type Summary struct {
	Passed  int `json:"passed"`
	Warning int `json:"warning"`
	Failed  int `json:"failed"`
	Error   int `json:"error"`
}

// Run runs tests against env. A test that panics is reported as ERROR.
func Run(env *Env, tests []Test) *Report {
	r := &Report{GeneratedAt: env.Now.UTC().Truncate(time.Second), Tests: []TestReport{}}
	if env.State != nil {
		r.Orchestrator = env.State.Orchestrator.ID
	}
	for _, t := range tests {
		res := runOne(env, t)
		if res.Findings == nil {
			res.Findings = []Finding{}
		}
		r.Tests = append(r.Tests, TestReport{Name: t.Name, Status: res.Status, Findings: res.Findings})
		switch res.Status {
		case Passed:
			r.Summary.Passed++
		case Warning:
			r.Summary.Warning++
		case Failed:
			r.Summary.Failed++
		default:
			r.Summary.Error++
		}
	}
	return r
}

func runOne(env *Env, t Test) (res Result) {
	defer func() {
		if p := recover(); p != nil {
			res = resultOf(Finding{Severity: Error, Subject: t.Name,
				Text:   fmt.Sprintf("the test crashed: %v", p),
				Remedy: "this is a bug in hcp: report it with the state file (orch_stat --json)"})
		}
	}()
	return t.Run(env)
}

// OK reports whether no test FAILED or ERRORed: hcp's exit status 0.
func (r *Report) OK() bool { return r.Summary.Failed == 0 && r.Summary.Error == 0 }

// MarshalIndented is the report's JSON, as hcp --json prints it.
func (r *Report) MarshalIndented() []byte {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		// Only plain strings, ints and a time: cannot fail.
		panic(fmt.Sprintf("healthcheck: encoding report: %v", err))
	}
	return append(b, '\n')
}

// DecodeReport parses a report written by MarshalIndented.
func DecodeReport(b []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decoding hcp report: %w", err)
	}
	return &r, nil
}
