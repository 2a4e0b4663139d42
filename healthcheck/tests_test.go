package healthcheck

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/paths"
	"github.com/orchd/orchd/state"
)

const deadPID = 1 << 30

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const (
	fp12 = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1+2/"
	fp21 = "SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB2+1/"
)

// healthy is a fresh state of 1_1 with every peer Authenticated.
func healthy() *state.File {
	later := now.Add(200 * 24 * time.Hour)
	return &state.File{
		Orchestrator: state.Orchestrator{ID: "1_1", Site: 1, Member: 1, Fingerprint: "SHA256:me", CertNotAfter: now.Add(300 * 24 * time.Hour)},
		SyncPorts: []state.SyncPort{
			{Role: "internal", Interface: "sync-int", State: state.PortUp, Addresses: []string{"198.18.1.1/16"}, Since: now},
			{Role: "external", Interface: "sync-ext", State: state.PortUp, Addresses: []string{"198.19.1.1/17"}, Since: now},
		},
		Peers: []state.Peer{
			{ID: "1_2", Status: state.Authenticated, Fingerprint: fp12, Reason: "session up", Port: "internal", Since: now, CertNotAfter: &later},
			{ID: "2_1", Status: state.Authenticated, Fingerprint: fp21, Reason: "session up", Port: "external", Since: now, CertNotAfter: &later},
		},
		Daemon: state.Daemon{PID: os.Getpid(), StartedAt: now, UpdatedAt: now.Add(-400 * time.Millisecond), RefreshSeconds: 1, ConfigState: "saved"},
	}
}

// envFor writes f (nil: no state file) under a fresh root and reads it back.
func envFor(t *testing.T, f *state.File) *Env {
	t.Helper()
	l := paths.Layout{Root: t.TempDir()}
	if f != nil {
		if err := state.Write(l.StateFile(), f); err != nil {
			t.Fatal(err)
		}
	}
	return NewEnv(l, now)
}

type healthCase struct {
	name   string
	edit   func(f *state.File) *state.File // nil result: no state file
	status Status
	want   []string // substrings of the findings' subjects, texts and remedies
}

func runCases(t *testing.T, test Test, cases []healthCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := healthy()
			if tc.edit != nil {
				f = tc.edit(f)
			}
			res := test.Run(envFor(t, f))
			var all strings.Builder
			for _, fd := range res.Findings {
				all.WriteString(fd.Subject + ": " + fd.Text + " => " + fd.Remedy + "\n")
				if fd.Severity != Passed && fd.Remedy == "" {
					t.Errorf("%s finding without a remedy: %+v", fd.Severity, fd)
				}
			}
			if res.Status != tc.status {
				t.Errorf("status %s, want %s; findings:\n%s", res.Status, tc.status, all.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(all.String(), w) {
					t.Errorf("missing %q in findings:\n%s", w, all.String())
				}
			}
		})
	}
}

func missing(*state.File) *state.File { return nil }

func stale(f *state.File) *state.File { f.Daemon.PID = deadPID; return f }

func peer(id string, edit func(p *state.Peer)) func(*state.File) *state.File {
	return func(f *state.File) *state.File {
		for i := range f.Peers {
			if f.Peers[i].ID == id {
				edit(&f.Peers[i])
			}
		}
		return f
	}
}

func port(role string, edit func(p *state.SyncPort)) func(*state.File) *state.File {
	return func(f *state.File) *state.File {
		for i := range f.SyncPorts {
			if f.SyncPorts[i].Role == role {
				edit(&f.SyncPorts[i])
			}
		}
		return f
	}
}

func TestAuthentication(t *testing.T) {
	runCases(t, authTest, []healthCase{
		{"all authenticated", nil, Passed, []string{"1_2: Authenticated over the internal sync port", "2_1: Authenticated"}},
		{"missing state", missing, Error, []string{"does not exist", "systemctl start clishd"}},
		{"stale", stale, Error, []string{"cannot be believed", "not running", "systemctl restart clishd"}},
		{"unreachable", peer("2_1", func(p *state.Peer) {
			p.Status, p.Reason, p.Address = state.Unreachable, "no TCP connection", "198.19.2.1"
		}), Failed, []string{
			"2_1: Unreachable over the external sync port: no TCP connection (address 198.19.2.1)",
			"check the external sync link and cabling on interface sync-ext (state: up); orch_stat -Av shows the port",
		}},
		{"unreachable, own port down", func(f *state.File) *state.File {
			f = port("internal", func(p *state.SyncPort) { p.State = state.PortDown })(f)
			return peer("1_2", func(p *state.Peer) { p.Status = state.Unreachable })(f)
		}, Failed, []string{
			"=> this orchestrator's own internal sync interface sync-int is down",
			"ip link show sync-int",
			"then check the internal sync link and cabling on interface sync-int (state: down)",
		}},
		{"untrusted with fingerprint", peer("1_2", func(p *state.Peer) {
			p.Status, p.Reason = state.Untrusted, "no trusted key for 1_2"
		}), Failed, []string{
			`clish -c "show maestro authentication fingerprint" on 1_2 itself`,
			`clish -c "set maestro authentication trust orchestrators 1_2 fingerprints 1_2=` + fp12 + `"`,
		}},
		{"untrusted without fingerprint", peer("1_2", func(p *state.Peer) {
			p.Status, p.Reason, p.Fingerprint = state.Untrusted, "no trusted key for 1_2", ""
		}), Failed, []string{
			"read it on 1_2 first",
			`clish -c "set maestro authentication trust orchestrators 1_2" and confirm`,
		}},
		{"blocked", peer("1_2", func(p *state.Peer) {
			p.Status, p.Reason = state.Untrusted, "fingerprint is blocked"
		}), Failed, []string{
			`unblock only if you trust it again: clish -c "delete maestro authentication block fingerprint ` + fp12 + `"`,
			`clish -c "set maestro authentication trust orchestrators 1_2 fingerprints 1_2=` + fp12 + `"`,
		}},
		{"key mismatch", peer("2_1", func(p *state.Peer) {
			p.Status, p.Reason = state.Untrusted, "presented key does not match the trusted fingerprint"
		}), Failed, []string{
			"REMOTE ORCHESTRATOR IDENTIFICATION HAS CHANGED",
			"the key of 2_1 changed",
			`clish -c "set maestro authentication trust orchestrators 2_1 force fingerprints 2_1=` + fp21 + `"`,
		}},
		{"unknown", peer("1_2", func(p *state.Peer) { p.Status, p.Reason = state.Unknown, "no session yet" }), Failed,
			[]string{"wait a few seconds", "journalctl -u clishd"}},
		{"own cert expiring", func(f *state.File) *state.File {
			f.Orchestrator.CertNotAfter = now.Add(10 * 24 * time.Hour)
			return f
		}, Warning, []string{"1_1 certificate: this orchestrator's certificate expires on", "(in 10 days)"}},
		{"peer cert expired", peer("1_2", func(p *state.Peer) {
			past := now.Add(-time.Hour)
			p.CertNotAfter = &past
		}), Failed, []string{"1_2 certificate: the certificate 1_2 presented expired"}},
		{"renewal failed", func(f *state.File) *state.File {
			f.Orchestrator.CertRenewalError = "writing identity.crt: read-only file system"
			return f
		}, Warning, []string{"renewal failed: writing identity.crt"}},
		{"failure beats warning", func(f *state.File) *state.File {
			f.Orchestrator.CertNotAfter = now.Add(10 * 24 * time.Hour)
			f.Peers[0].Status = state.Unreachable
			return f
		}, Failed, nil},
	})
}

func TestSyncInterfaces(t *testing.T) {
	runCases(t, syncTest, []healthCase{
		{"all up", nil, Passed, []string{"sync-int: internal sync interface is up, 198.18.1.1/16"}},
		{"missing state", missing, Error, nil},
		{"stale", stale, Error, nil},
		{"missing", port("external", func(p *state.SyncPort) { p.State, p.Addresses = state.PortMissing, nil }), Failed,
			[]string{"sync-ext: external sync interface is missing", "not present on this host", "sync.external.interface"}},
		{"down", port("internal", func(p *state.SyncPort) { p.State = state.PortDown }), Failed,
			[]string{"ip link show sync-int", "cabling"}},
		{"error", port("internal", func(p *state.SyncPort) { p.Error = "adding address: permission denied" }), Failed,
			[]string{"up, 198.18.1.1/16, since 2026-11-23T12:00:00Z: adding address: permission denied", "fix what the error names"}},
		{"no address", port("internal", func(p *state.SyncPort) { p.Addresses = nil }), Warning,
			[]string{"up, no address", "sync.internal.address"}},
		{"no ports", func(f *state.File) *state.File { f.SyncPorts = nil; return f }, Warning, []string{"no sync port"}},
	})
}

func TestCertificates(t *testing.T) {
	runCases(t, certTest, []healthCase{
		{"valid", nil, Passed, []string{"valid until", "1_2 certificate", "2_1 certificate"}},
		{"missing state", missing, Error, nil},
		{"expiring in 10 days", func(f *state.File) *state.File {
			f.Orchestrator.CertNotAfter = now.Add(10 * 24 * time.Hour)
			return f
		}, Warning, []string{"in 10 days", "auth.renew_before"}},
		{"expired", func(f *state.File) *state.File {
			f.Orchestrator.CertNotAfter = now.Add(-3 * 24 * time.Hour)
			return f
		}, Failed, []string{"expired on", "3 days ago"}},
		{"peer expiring", peer("2_1", func(p *state.Peer) {
			soon := now.Add(5 * 24 * time.Hour)
			p.CertNotAfter = &soon
		}), Warning, []string{"2_1 certificate", "on 2_1: run hcp -r Certificates there"}},
		{"renewal error", func(f *state.File) *state.File { f.Orchestrator.CertRenewalError = "disk full"; return f }, Warning,
			[]string{"renewal failed: disk full"}},
		{"not reported", func(f *state.File) *state.File { f.Orchestrator.CertNotAfter = time.Time{}; return f }, Warning,
			[]string{"does not report"}},
	})
}

func TestConfigurationSaved(t *testing.T) {
	set := func(s string) func(*state.File) *state.File {
		return func(f *state.File) *state.File { f.Daemon.ConfigState = s; return f }
	}
	runCases(t, configTest, []healthCase{
		{"saved", nil, Passed, []string{"is saved"}},
		{"unsaved", set("unsaved"), Warning, []string{`clish -c "save config"`}},
		{"not reported", set(""), Passed, []string{"does not report", "show config-state"}},
		{"odd value", set("dirty"), Warning, []string{`"dirty"`}},
		{"missing state", missing, Error, nil},
	})
}

func TestDaemon(t *testing.T) {
	runCases(t, daemonTest, []healthCase{
		{"fresh", nil, Passed, []string{"running as pid", "400ms ago"}},
		{"missing", missing, Failed, []string{"never run", "systemctl start clishd", "clishd run"}},
		{"dead", stale, Failed, []string{"is not running", "systemctl start clishd"}},
		{"stuck", func(f *state.File) *state.File { f.Daemon.UpdatedAt = now.Add(-time.Minute); return f }, Failed,
			[]string{"is stuck", "systemctl restart clishd"}},
	})
}

func TestDaemonUnreadableState(t *testing.T) {
	l := paths.Layout{Root: t.TempDir()}
	if err := os.MkdirAll(l.RunDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.StateFile(), []byte("{torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := NewEnv(l, now)
	if r := runDaemon(env); r.Status != Failed || !strings.Contains(r.Findings[0].Text, "unreadable") {
		t.Errorf("daemon: %+v", r)
	}
	if r := runAuth(env); r.Status != Error {
		t.Errorf("auth: %+v", r)
	}
}

func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range Tests() {
		if tc.Name == "" || tc.Description == "" || tc.Run == nil || seen[tc.Name] {
			t.Errorf("bad registry entry %+v", tc)
		}
		seen[tc.Name] = true
	}
	if got, err := Lookup("maestro orchestrator authentication"); err != nil || got.Name != "Maestro Orchestrator Authentication" {
		t.Errorf("case-insensitive lookup: %v, %v", got.Name, err)
	}
	if ts, err := Select("ALL"); err != nil || len(ts) != len(Tests()) {
		t.Errorf("select all: %d, %v", len(ts), err)
	}
	_, err := Select("Maestro")
	if err == nil || !strings.Contains(err.Error(), `"Sync Interfaces"`) {
		t.Errorf("unknown name: %v", err)
	}
}
