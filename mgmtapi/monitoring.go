package mgmtapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
)

// MaxBody is the largest request body the API reads.
const MaxBody = 64 << 10

// Monitoring is the configuration a manager pushes with PUT
// /api/v1/monitoring: what it polls, how often, what it alerts on. The
// orchestrator stores and serves it; the manager does the polling.
type Monitoring struct {
	IntervalSeconds int               `json:"interval_seconds"`
	Checks          []string          `json:"checks"`
	AlertOn         []string          `json:"alert_on,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
}

var (
	validChecks  = []string{"state", "health", "audit"}
	validAlertOn = []string{"Authenticated", "Unknown", "Unreachable", "Untrusted", "WARNING", "FAILED", "ERROR"}
)

// DefaultMonitoring is served until a manager pushes one.
func DefaultMonitoring() Monitoring {
	return Monitoring{IntervalSeconds: 60, Checks: []string{"state", "health"}, AlertOn: []string{"Unreachable", "Untrusted", "FAILED"}}
}

// DecodeMonitoring parses and validates one monitoring document: a single
// JSON object, no unknown keys, each value in range. Errors name the key.
func DecodeMonitoring(b []byte) (Monitoring, error) {
	var m Monitoring
	if len(b) > MaxBody {
		return m, fmt.Errorf("document of %d bytes: expected at most %d", len(b), MaxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return m, errors.New("empty body: expected a JSON object such as {\"interval_seconds\": 60, \"checks\": [\"state\"]}")
		}
		return m, fmt.Errorf("not a monitoring document: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return m, errors.New("data after the JSON object: expected exactly one object")
	}
	if m.IntervalSeconds < 10 || m.IntervalSeconds > 86400 {
		return m, fmt.Errorf("interval_seconds %d: expected 10-86400", m.IntervalSeconds)
	}
	if len(m.Checks) == 0 {
		return m, fmt.Errorf("checks is empty: expected some of %v", validChecks)
	}
	if err := oneOf("checks", m.Checks, validChecks); err != nil {
		return m, err
	}
	if err := oneOf("alert_on", m.AlertOn, validAlertOn); err != nil {
		return m, err
	}
	if len(m.Labels) > 32 {
		return m, fmt.Errorf("labels: %d entries: expected at most 32", len(m.Labels))
	}
	keys := make([]string, 0, len(m.Labels))
	for k := range m.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" || len(k) > 64 || len(m.Labels[k]) > 256 {
			return m, fmt.Errorf("label %q: expected a name of 1-64 characters and a value of at most 256", clip(k))
		}
	}
	return m, nil
}

func oneOf(key string, got, valid []string) error {
	seen := map[string]bool{}
	for _, g := range got {
		if !slices.Contains(valid, g) {
			return fmt.Errorf("%s: unknown value %q: expected some of %v", key, clip(g), valid)
		}
		if seen[g] {
			return fmt.Errorf("%s: %q listed twice", key, g)
		}
		seen[g] = true
	}
	return nil
}
