package config

import "fmt"

// FileID returns the orchestrator ID a config document names ("" when it
// names none, as in the default file the .deb installs), without validating
// the rest: `clishd init` uses it to tell that template from a configured
// orchestrator.
func FileID(doc []byte) (string, error) {
	m, err := parseYAML(doc)
	if err != nil {
		return "", err
	}
	switch v := m["id"].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("config key id: expected an ID S_M such as 1_1, not a %T", v)
	}
}
