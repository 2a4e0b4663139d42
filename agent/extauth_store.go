package agent

// providerSecrets returns the sealed store provider secrets live in, or
// nil when this daemon has none yet (the secrets workstream wires
// a.secrets; until then external logins say the store is sealed).
func (a *Agent) providerSecrets() providerSecrets {
	if testSecrets != nil {
		return testSecrets
	}
	return nil
}
