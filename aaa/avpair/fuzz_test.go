package avpair

import (
	"slices"
	"testing"
)

// referenceExamples is every role string in the external authentication
// providers reference document, verbatim (msoall, writeRole1 ...), plus
// the same in this product's domain.
var referenceExamples = []string{
	"cisco-av-pair=shell:msc-roles=role1,role2",
	"cisco-av-pair=shell:msc-roles=siteManager,schemaManager",
	"cisco-av-pair=shell:msc-roles=writeRole1|writeRole2/readRole1|readRole2",
	"shell:msc-roles=schemaManager|userManager/siteManager",
	"shell:msc-roles=/siteManager",
	"shell:msc-roles=siteManager/",
	"shell:domains=<domain>/<writeRole1>|<writeRole2>/<readRole1>|<readRole2>",
	"shell:domains=msoall/schemaManager|userManager/siteManager",
	"shell:domains=all/admin/,msoall/schemaManager|userManager/siteManager",
	"shell:domains=msoall//siteManager",
	"shell:domains=msoall/siteManager/",
	"shell:msc-roles=writeRole1|writeRole2/readRole1|readRole2",
	"shell:domains=orchall/schemaManager|userManager/siteManager",
	"shell:domains=all/admin/,orchall/schemaManager|userManager/siteManager",
	"shell:domains=orchall//siteManager",
	"shell:domains=orchall/siteManager/",
	"shell:msc-roles=adminRole",
	"shell:msc-roles=a,b/c",
	"priv-lvl=15",
}

func FuzzParse(f *testing.F) {
	for _, s := range referenceExamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if !r.Empty() {
				t.Fatalf("Parse(%q) failed but granted %+v", s, r)
			}
			return
		}
		if r.Empty() {
			t.Fatalf("Parse(%q) succeeded with no roles", s)
		}
		for _, n := range append(slices.Clone(r.ReadWrite), r.ReadOnly...) {
			if !validName(n) {
				t.Fatalf("Parse(%q) granted invalid role name %q", s, n)
			}
		}
		for _, n := range r.ReadOnly {
			if slices.Contains(r.ReadWrite, n) {
				t.Fatalf("Parse(%q): %q both read-write and read-only", s, n)
			}
		}
		if !IsRoleValue(s) {
			t.Fatalf("Parse(%q) succeeded but IsRoleValue is false", s)
		}
		// Parsing is a function of the text: the same input, the same roles.
		again, err := ParseAll([]string{s})
		if err != nil || !slices.Equal(again.ReadWrite, r.ReadWrite) || !slices.Equal(again.ReadOnly, r.ReadOnly) {
			t.Fatalf("ParseAll([%q]) = %+v, %v; Parse gave %+v", s, again, err, r)
		}
	})
}
