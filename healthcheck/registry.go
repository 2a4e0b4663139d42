package healthcheck

import (
	"fmt"
	"strings"
)

// Test is one named health test.
type Test struct {
	// Name is what hcp -r takes, e.g. "Maestro Orchestrator Authentication".
	Name        string
	Description string
	Run         func(*Env) Result
}

// All is the keyword hcp -r takes to run every test.
const All = "all"

// Tests returns every test, in report order.
func Tests() []Test {
	return []Test{daemonTest, authTest, syncTest, certTest, configTest, loginsTest}
}

// UnknownTestError is a test name that is not in the registry.
type UnknownTestError struct {
	Name  string
	Valid []string
}

func (e *UnknownTestError) Error() string {
	return fmt.Sprintf("unknown test %q: valid names are %q or %q", e.Name, e.Valid, All)
}

// Lookup finds a test by its name, ignoring case.
func Lookup(name string) (Test, error) {
	for _, t := range Tests() {
		if strings.EqualFold(t.Name, name) {
			return t, nil
		}
	}
	var valid []string
	for _, t := range Tests() {
		valid = append(valid, t.Name)
	}
	return Test{}, &UnknownTestError{Name: name, Valid: valid}
}

// Select returns the tests hcp -r NAME runs: one, or every test for "all".
func Select(name string) ([]Test, error) {
	if strings.EqualFold(name, All) {
		return Tests(), nil
	}
	t, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return []Test{t}, nil
}
