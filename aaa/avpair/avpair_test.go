package avpair

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in     string
		rw, ro []string
		format Format
		err    string // substring; "" = success
	}{
		{in: "cisco-av-pair=shell:msc-roles=siteManager,schemaManager", rw: []string{"siteManager", "schemaManager"}, format: FormatCommaList},
		{in: "shell:msc-roles=adminRole", rw: []string{"adminRole"}, format: FormatCommaList},
		{in: "shell:msc-roles=schemaManager|userManager/siteManager", rw: []string{"schemaManager", "userManager"}, ro: []string{"siteManager"}, format: FormatSlash},
		{in: "cisco-av-pair=shell:msc-roles=writeRole1|writeRole2/readRole1|readRole2", rw: []string{"writeRole1", "writeRole2"}, ro: []string{"readRole1", "readRole2"}, format: FormatSlash},
		{in: "shell:msc-roles=/siteManager", ro: []string{"siteManager"}, format: FormatSlash},
		{in: "shell:msc-roles=siteManager/", rw: []string{"siteManager"}, format: FormatSlash},
		{in: "Cisco-AV-Pair=Shell:MSC-Roles=a", rw: []string{"a"}, format: FormatCommaList},
		{in: "shell:msc-roles=a|b/a", rw: []string{"a", "b"}, format: FormatSlash}, // read-write wins
		{in: "shell:domains=orchall/schemaManager|userManager/siteManager", rw: []string{"schemaManager", "userManager"}, ro: []string{"siteManager"}, format: FormatDomains},
		{in: "shell:domains=all/admin/,orchall/schemaManager|userManager/siteManager", rw: []string{"schemaManager", "userManager"}, ro: []string{"siteManager"}, format: FormatDomains},
		{in: "shell:domains=orchall//siteManager", ro: []string{"siteManager"}, format: FormatDomains},
		{in: "shell:domains=orchall/siteManager/", rw: []string{"siteManager"}, format: FormatDomains},

		{in: "shell:msc-roles=a,b/c", err: "mixes"},
		{in: "shell:msc-roles=a,b|c", err: "mixes"},
		{in: "shell:msc-roles=a|b", err: "without /"},
		{in: "shell:msc-roles=a/b/c", err: "exactly one /"},
		{in: "shell:msc-roles=/", err: "names no role"},
		{in: "shell:msc-roles=", err: "role \"\""},
		{in: "shell:msc-roles=a,,b", err: "role \"\""},
		{in: "shell:msc-roles=a b", err: "role \"a b\""},
		{in: "shell:domains=msoall/siteManager/", err: "no orchall entry"},
		{in: "shell:domains=orchall/siteManager", err: "exactly one /"},
		{in: "shell:domains=orchall", err: "expected DOMAIN/"},
		{in: "shell:domains=orchall//", err: "names no role"},
		{in: "priv-lvl=15", err: "expected shell:msc-roles"},
		{in: "", err: "expected shell:msc-roles"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !slices.Equal(got.ReadWrite, tt.rw) || !slices.Equal(got.ReadOnly, tt.ro) || got.Format != tt.format {
				t.Fatalf("Parse(%q) = rw %q ro %q %s; want rw %q ro %q %s", tt.in, got.ReadWrite, got.ReadOnly, got.Format, tt.rw, tt.ro, tt.format)
			}
		})
	}
}

func TestParseAll(t *testing.T) {
	tests := []struct {
		in     []string
		rw, ro []string
		err    string
	}{
		{in: []string{"priv-lvl=15", "shell:msc-roles=adminRole"}, rw: []string{"adminRole"}},
		{in: []string{"shell:msc-roles=a/", "shell:msc-roles=/b"}, rw: []string{"a"}, ro: []string{"b"}},
		{in: []string{"shell:msc-roles=/a", "shell:msc-roles=a/"}, rw: []string{"a"}},
		{in: []string{"shell:msc-roles=a,b", "shell:msc-roles=c/"}, err: "mix the formats"},
		{in: []string{"shell:msc-roles=a", "shell:domains=orchall/a/"}, err: "mix the formats"},
		{in: []string{"priv-lvl=15"}, err: "no role string"},
		{in: nil, err: "no role string"},
		{in: []string{"shell:msc-roles=a", "shell:msc-roles=a|b"}, err: "without /"},
	}
	for _, tt := range tests {
		got, err := ParseAll(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseAll(%q) = %+v, %v; want error containing %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got.ReadWrite, tt.rw) || !slices.Equal(got.ReadOnly, tt.ro) {
			t.Errorf("ParseAll(%q) = rw %q ro %q, %v; want rw %q ro %q", tt.in, got.ReadWrite, got.ReadOnly, err, tt.rw, tt.ro)
		}
	}
}
