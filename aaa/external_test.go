package aaa

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitLogin(t *testing.T) {
	for _, tt := range []struct{ in, dom, user string }{
		{`RAD\alice`, "RAD", "alice"},
		{"alice@RAD", "RAD", "alice"},
		{"alice", "", "alice"},
		{"a@b@RAD", "RAD", "a@b"},
		{`Local\admin`, "Local", "admin"},
	} {
		if d, u := SplitLogin(tt.in); d != tt.dom || u != tt.user {
			t.Errorf("SplitLogin(%q) = %q, %q; want %q, %q", tt.in, d, u, tt.dom, tt.user)
		}
	}
}

func TestGrant(t *testing.T) {
	lookup := func(n string) (Role, bool) { return LookupRole(n) }
	tests := []struct {
		res      ProviderResult
		name     string
		rw, ro   bool // config feature read-write / read-only
		expert   bool
		errMatch string
	}{
		{res: ProviderResult{Values: []string{"shell:msc-roles=adminRole"}}, name: "adminRole", rw: true, expert: true},
		{res: ProviderResult{Values: []string{"cisco-av-pair=shell:msc-roles=/adminRole"}}, name: "adminRole(read-only)", ro: true},
		{res: ProviderResult{Values: []string{"shell:domains=orchall/monitorRole/adminRole"}}, name: "monitorRole,adminRole(read-only)", ro: true},
		{res: ProviderResult{GroupMap: true, Groups: []string{"cn=a"}, GroupRoles: []string{"monitorRole"}}, name: "monitorRole", ro: true},
		{res: ProviderResult{Values: []string{"shell:msc-roles=ghostRole"}}, errMatch: `role "ghostRole", which does not exist`},
		{res: ProviderResult{Values: []string{"shell:msc-roles=a,b/c"}}, errMatch: "mixes"},
		{res: ProviderResult{Values: []string{"priv-lvl=15"}}, errMatch: "no role string"},
		{res: ProviderResult{GroupMap: true, Groups: []string{"cn=x"}}, errMatch: "no group map matches"},
	}
	for _, tt := range tests {
		r, _, err := Grant(tt.res, lookup)
		if tt.errMatch != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errMatch) {
				t.Errorf("Grant(%v): %v; want error %q", tt.res.Raw(), err, tt.errMatch)
			}
			continue
		}
		if err != nil {
			t.Errorf("Grant(%v): %v", tt.res.Raw(), err)
			continue
		}
		if r.Name != tt.name || r.ReadWrite(FeatureConfig) != tt.rw || (r.Read(FeatureConfig) && !r.ReadWrite(FeatureConfig)) != tt.ro || r.Expert != tt.expert {
			t.Errorf("Grant(%v) = %+v", tt.res.Raw(), r)
		}
		for _, f := range r.ReadOnlyFeatures {
			if slices.Contains(r.ReadWriteFeatures, f) {
				t.Errorf("%s both read-write and read-only", f)
			}
		}
	}
}
