package agent

// providerSecrets returns the sealed store provider secrets live in
// (a.secrets), or nil when this daemon has none.
func (a *Agent) providerSecrets() providerSecrets {
	if testSecrets != nil {
		return testSecrets
	}
	if a.secrets != nil {
		return a.secrets
	}
	return nil
}
