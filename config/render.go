package config

import (
	"bytes"
	"fmt"
	"text/template"
)

// InitValues are what `clishd init` writes into a fresh config file.
type InitValues struct {
	ID            string
	Orchestrators string // comma-separated, "" = just ourselves
	MgmtAddress   string
	SSHPort       int
	CertValidity  string
	RenewBefore   string
}

var fileTmpl = template.Must(template.New("cfg").Parse(`# clishd configuration (written by clishd init).
# Every key can also come from the environment as CLISHD_<KEY> with dots as
# underscores (CLISHD_SSH_PORT=2222) or from a flag of the same name.

# This orchestrator's ID, site_member.
id: "{{.ID}}"

topology:
  # Every orchestrator expected in the mesh, this one included.
  orchestrators: "{{.Orchestrators}}"

sync:
  # TCP port of the mutual-TLS sync sessions.
  port: 7443
  internal:
    interface: sync-int
    network: 198.18.0.0/16
    # Empty: derived from the ID as network + site*256 + member.
    address: ""
  external:
    interface: sync-ext
    network: 198.19.0.0/17
    address: ""

mgmt:
  # Management address the SSH server listens on; empty = all addresses.
  address: "{{.MgmtAddress}}"

ssh:
  port: {{.SSHPort}}

auth:
  cert_validity: {{.CertValidity}}
  renew_before: {{.RenewBefore}}

peers:
  heartbeat: 250ms
  dead_after: 750ms

log:
  level: info
  # auto: text on a terminal, JSON otherwise, journald under systemd.
  format: auto

state:
  refresh: 1s
`))

// Render produces the text of a config file for v.
func Render(v InitValues) ([]byte, error) {
	if v.SSHPort == 0 {
		v.SSHPort = Defaults["ssh.port"].(int)
	}
	if v.CertValidity == "" {
		v.CertValidity = Defaults["auth.cert_validity"].(string)
	}
	if v.RenewBefore == "" {
		v.RenewBefore = Defaults["auth.renew_before"].(string)
	}
	var b bytes.Buffer
	if err := fileTmpl.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("rendering config: %w", err)
	}
	return b.Bytes(), nil
}
