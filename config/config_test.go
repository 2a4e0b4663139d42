package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/spf13/pflag"
)

func writeCfg(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "clishd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string
		wantKey string // "" = valid
	}{
		{"minimal", `id: "1_1"`, ""},
		{"topology list", "id: 1_2\ntopology:\n  orchestrators: [1_1, 1_2, 2_1]", ""},
		{"topology string", "id: 1_2\ntopology:\n  orchestrators: 1_1,1_2", ""},
		{"missing id", `log: {level: info}`, "id"},
		{"bad id", `id: "1-2"`, "id"},
		{"topology without self", "id: 1_1\ntopology: {orchestrators: \"1_2,2_1\"}", "topology.orchestrators"},
		{"topology bad id", "id: 1_1\ntopology: {orchestrators: [1_1, x]}", "topology.orchestrators"},
		{"bad network", "id: 1_1\nsync: {internal: {network: 198.18.0.0/33}}", "sync.internal.network"},
		{"network not masked", "id: 1_1\nsync: {internal: {network: 198.18.0.1/16}}", "sync.internal.network"},
		{"network too small", "id: 3_1\nsync: {internal: {network: 198.18.0.0/24}}", "sync.internal.network"},
		{"bad override", "id: 1_1\nsync: {external: {address: banana}}", "sync.external.address"},
		{"good override", "id: 1_1\nsync: {external: {address: 198.19.9.9/17}}", ""},
		{"bad iface", "id: 1_1\nsync: {internal: {interface: a/b}}", "sync.internal.interface"},
		{"long iface", "id: 1_1\nsync: {internal: {interface: abcdefghijklmnop}}", "sync.internal.interface"},
		{"same ifaces", "id: 1_1\nsync: {external: {interface: sync-int}}", "sync.external.interface"},
		{"ssh port range", "id: 1_1\nssh: {port: 70000}", "ssh.port"},
		{"ssh port text", "id: 1_1\nssh: {port: ssh}", "ssh.port"},
		{"bad duration", "id: 1_1\nauth: {renew_before: soon}", "auth.renew_before"},
		{"renew after validity", "id: 1_1\nauth: {cert_validity: 1h, renew_before: 2h}", "auth.renew_before"},
		{"dead before heartbeat", "id: 1_1\npeers: {heartbeat: 1s, dead_after: 500ms}", "peers.dead_after"},
		{"bad level", "id: 1_1\nlog: {level: loud}", "log.level"},
		{"unknown key", "id: 1_1\nsync: {prot: 1}", "sync.prot"},
		{"bad mgmt", "id: 1_1\nmgmt: {address: 1.2.3}", "mgmt.address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeCfg(t, tc.yaml), nil)
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ke *KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("got %v, %v; want a KeyError for %s", c, err, tc.wantKey)
			}
			if ke.Key != tc.wantKey {
				t.Fatalf("error names key %q, want %q (%v)", ke.Key, tc.wantKey, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "expected") || strings.Contains(msg, "\n") {
				t.Fatalf("error %q should be one line saying what is expected", msg)
			}
		})
	}
}

func TestLayering(t *testing.T) {
	p := writeCfg(t, "id: 1_1\nssh: {port: 2022}\nlog: {level: warn}")
	t.Setenv("CLISHD_SSH_PORT", "2200")
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.String("log.level", "", "")
	if err := fs.Parse([]string{"--log.level=debug"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p, fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.SSHPort != 2200 {
		t.Errorf("env should override file: ssh port %d", c.SSHPort)
	}
	if c.LogLevel != "debug" {
		t.Errorf("flag should override file: level %q", c.LogLevel)
	}
	if c.CertValidity != 365*24*time.Hour || c.File != p {
		t.Errorf("defaults: validity %v file %q", c.CertValidity, c.File)
	}
}

func TestRenderRoundTrip(t *testing.T) {
	b, err := Render(InitValues{ID: "2_1", Orchestrators: "1_1,1_2,2_1,2_2", MgmtAddress: "198.19.130.1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(writeCfg(t, string(b)), nil)
	if err != nil {
		t.Fatalf("rendered config does not load: %v\n%s", err, b)
	}
	if c.ID != (identity.ID{Site: 2, Member: 1}) || len(c.Peers()) != 3 || c.MgmtAddress.String() != "198.19.130.1" {
		t.Fatalf("round trip: %+v", c)
	}
	if got := c.PeerPort(identity.ID{Site: 2, Member: 2}).Role; got != RoleInternal {
		t.Errorf("same-site peer over %s", got)
	}
	if got := c.PeerPort(identity.ID{Site: 1, Member: 2}).Role; got != RoleExternal {
		t.Errorf("other-site peer over %s", got)
	}
}

func TestDeriveAddress(t *testing.T) {
	for _, tc := range []struct {
		net, want string
		id        identity.ID
	}{
		{"198.18.0.0/16", "198.18.1.2/16", identity.ID{Site: 1, Member: 2}},
		{"198.19.0.0/17", "198.19.2.1/17", identity.ID{Site: 2, Member: 1}},
		{"198.19.128.0/20", "198.19.131.4/20", identity.ID{Site: 3, Member: 4}},
		{"198.18.0.0/24", "", identity.ID{Site: 1, Member: 1}},
	} {
		got, err := DeriveAddress(netip.MustParsePrefix(tc.net), tc.id)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s %s: want error, got %s", tc.net, tc.id, got)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("%s %s = %s, %v; want %s", tc.net, tc.id, got, err, tc.want)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("id: 1_1\n")
	f.Add("id: 1_2\ntopology:\n  orchestrators: [1_1, 1_2]\nsync: {port: 1}\n")
	f.Add("id: [\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(body), 0o644)
		Load(p, nil)
	})
}

func TestSetKey(t *testing.T) {
	base, _ := Render(InitValues{ID: "1_1"})
	out, err := SetKey(base, "auth.cert_validity", "10m")
	if err != nil {
		t.Fatal(err)
	}
	if out, err = SetKey(out, "auth.renew_before", "2m"); err != nil {
		t.Fatal(err)
	}
	out, err = SetKey(out, "topology.orchestrators", "1_1,1_2")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(writeCfg(t, string(out)), nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if c.CertValidity != 10*time.Minute || len(c.Orchestrators) != 2 {
		t.Fatalf("SetKey did not apply: %+v", c)
	}
	if !strings.Contains(string(out), "# This orchestrator's ID") {
		t.Fatalf("comments lost:\n%s", out)
	}
	if _, err := SetKey(base, "auth.nope", "1"); err == nil {
		t.Fatal("unknown key accepted")
	}
}
