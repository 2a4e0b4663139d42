// Package paths owns the on-disk layout of an orchestrator below its root
// directory (--root, env CLISHD_ROOT; "/" in production), so that every
// binary agrees where things live.
package paths

import (
	"os"
	"path/filepath"
)

// EnvRoot is the environment variable every binary reads for --root.
const EnvRoot = "CLISHD_ROOT"

// Layout resolves the files of one orchestrator below Root.
type Layout struct{ Root string }

// FromEnv returns the layout for flagRoot, or $CLISHD_ROOT, or "/".
func FromEnv(flagRoot string) Layout {
	r := flagRoot
	if r == "" {
		r = os.Getenv(EnvRoot)
	}
	if r == "" {
		r = "/"
	}
	return Layout{Root: r}
}

func (l Layout) join(p ...string) string { return filepath.Join(append([]string{l.Root}, p...)...) }

func (l Layout) EtcDir() string      { return l.join("etc", "clishd") }
func (l Layout) ConfigFile() string  { return l.join("etc", "clishd", "clishd.yaml") }
func (l Layout) IdentityKey() string { return l.join("etc", "clishd", "identity_ed25519") }
func (l Layout) IdentityPub() string { return l.join("etc", "clishd", "identity_ed25519.pub") }
func (l Layout) Certificate() string { return l.join("etc", "clishd", "identity.crt") }

// BlockedFingerprints is the "do not trust" list: one fingerprint a line.
func (l Layout) BlockedFingerprints() string { return l.join("etc", "clishd", "blocked_fingerprints") }
func (l Layout) LibDir() string              { return l.join("var", "lib", "clishd") }
func (l Layout) TrustStore() string          { return l.join("var", "lib", "clishd", "trust.json") }
func (l Layout) UsersFile() string           { return l.join("var", "lib", "clishd", "users.json") }
func (l Layout) LastLog() string             { return l.join("var", "lib", "clishd", "lastlog.json") }
func (l Layout) SavedConfig() string         { return l.join("var", "lib", "clishd", "config.json") }
func (l Layout) RunDir() string              { return l.join("run", "clishd") }
func (l Layout) StateFile() string           { return l.join("run", "clishd", "state.json") }
func (l Layout) Socket() string              { return l.join("run", "clishd", "clishd.sock") }
func (l Layout) PIDFile() string             { return l.join("run", "clishd", "clishd.pid") }
func (l Layout) LogDir() string              { return l.join("var", "log", "clishd") }
func (l Layout) AuditLog() string            { return l.join("var", "log", "clishd", "audit.jsonl") }
func (l Layout) HCPDir() string              { return l.join("var", "log", "hcp") }

// Revocations keeps the signed revocation records and removal notices
// (DESIGN §5.5).
func (l Layout) Revocations() string { return l.join("var", "lib", "clishd", "revocations.json") }

// Members is the mesh membership (DESIGN §3).
func (l Layout) Members() string { return l.join("var", "lib", "clishd", "members.json") }

// SecretStore is the sealed secret store (package secrets), 0600.
func (l Layout) SecretStore() string { return l.join("var", "lib", "clishd", "secrets.store") }

// UnsealKey is the root-only auto-unseal key (set security auto-unseal on).
func (l Layout) UnsealKey() string { return l.join("etc", "clishd", "unseal.key") }
