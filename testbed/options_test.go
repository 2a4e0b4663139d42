package testbed

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/orchd/orchd/identity"
)

func TestLinkNames(t *testing.T) {
	tests := []struct {
		prefix string
		id     identity.ID
		role   byte
		sw, nd string
	}{
		{"orch-", identity.ID{Site: 1, Member: 1}, 'i', "orch-i1_1", "orch-i1_1n"},
		{"orch-", identity.ID{Site: 2, Member: 1}, 'e', "orch-e2_1", "orch-e2_1n"},
		{"orch-", identity.ID{Site: 99, Member: 99}, 'm', "orch-m99_99", "orch-m99_99n"},
		{"tbt-", identity.ID{Site: 11, Member: 1}, 'i', "tbt-i11_1", "tbt-i11_1n"},
		{"tbt-", identity.ID{Site: 1, Member: 11}, 'i', "tbt-i1_11", "tbt-i1_11n"},
	}
	for _, tt := range tests {
		n := names{tt.prefix}
		if sw, nd := n.vethSwitch(tt.role, tt.id), n.vethNode(tt.role, tt.id); sw != tt.sw || nd != tt.nd {
			t.Errorf("%q %s %c: got %s, %s; want %s, %s", tt.prefix, tt.id, tt.role, sw, nd, tt.sw, tt.nd)
		}
		if len(tt.nd) > maxLinkName {
			t.Errorf("%s longer than %d", tt.nd, maxLinkName)
		}
	}
	n := names{"orch-"}
	if got := n.nodeNS(identity.ID{Site: 1, Member: 2}); got != "orch-1_2" {
		t.Errorf("namespace %s, want orch-1_2", got)
	}
	if n.switchNS() != "orch-sw" || n.mgmtBridge() != "orch-mgmt" {
		t.Errorf("switch %s, bridge %s", n.switchNS(), n.mgmtBridge())
	}
}

func TestOptionDefaults(t *testing.T) {
	t.Setenv(EnvDir, "")
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.Sites != 2 || o.PerSite != 2 || o.Prefix != "orch-" || o.Dir != DefaultDir ||
		o.MgmtNet != netip.MustParsePrefix("198.19.128.0/20") || o.BinDir == "" || o.Logf == nil {
		t.Errorf("defaults: %+v", o)
	}
	if got := o.hostMgmt(); got != netip.MustParsePrefix("198.19.128.1/20") {
		t.Errorf("host mgmt %s, want 198.19.128.1/20", got)
	}
	if err := o.validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	t.Setenv(EnvDir, "/tmp/x-testbed")
	o, _ = Options{}.withDefaults()
	if o.Dir != "/tmp/x-testbed" {
		t.Errorf("dir %s, want $%s", o.Dir, EnvDir)
	}
	tb := newTestbed(o, newFakeKernel())
	if err := tb.plan(); err != nil {
		t.Fatal(err)
	}
	n, err := tb.Node("1_1")
	if err != nil {
		t.Fatal(err)
	}
	if n.Mgmt.String() != "198.19.129.1/20" || n.Internal.String() != "198.18.1.1/16" || n.External.String() != "198.19.1.1/17" ||
		n.Namespace != "orch-1_1" || n.Root != "/tmp/x-testbed/nodes/1_1" {
		t.Errorf("node 1_1: %+v", n)
	}
	if _, err := tb.Node("3_1"); err == nil || !strings.Contains(err.Error(), `"3_1": expected one of 1_1, 1_2, 2_1, 2_2`) {
		t.Errorf("unknown node error: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		o    Options
		want string // "" = valid
	}{
		{Options{Sites: 15, PerSite: 99}, ""},
		{Options{Sites: 16}, "falls outside network 198.19.128.0/20"},
		{Options{Sites: 200, MgmtNet: netip.MustParsePrefix("198.18.0.0/16")}, "overlaps the sync network"},
		{Options{Sites: -1}, "sites -1: expected 1 to 254"},
		{Options{PerSite: 255}, "orchestrators per site 255: expected 1 to 254"},
		{Options{Prefix: "a/b"}, `prefix "a/b": expected letters`},
		{Options{Prefix: "orchestra-"}, ""}, // orchestra-i2_2n: 15 characters
		{Options{Prefix: "orchestras-"}, `prefix "orchestras-" too long: link name "orchestras-i2_2n" has 16 characters`},
		{Options{Prefix: "orchestra-", Sites: 10}, `link name "orchestra-i10_2n" has 16 characters`},
		{Options{MgmtNet: netip.MustParsePrefix("10.0.0.0/20")}, "expected an IPv4 network of at least 4 addresses inside 198.18.0.0/15"},
		{Options{MgmtNet: netip.MustParsePrefix("198.0.0.0/8")}, "inside 198.18.0.0/15"},
		{Options{MgmtNet: netip.MustParsePrefix("198.19.160.0/20")}, ""},
	}
	for _, tt := range tests {
		tt.o.BinDir = "/bin"
		err := tt.o.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.o, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%+v: got %v, want error containing %q", tt.o, err, tt.want)
		}
	}
}
