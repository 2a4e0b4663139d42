package aaa

import (
	"fmt"
	"strings"
	"testing"
)

// fastParams keep tests quick; Verify reads parameters from the hash.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1}

func sprintV(v any) string { return fmt.Sprintf("%v %+v", v, v) }

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=12288,t=3,p=1$") {
		t.Fatalf("hash %q: unexpected form", h)
	}
	if p, err := ParamsOf(h); err != nil || p != DefaultParams() {
		t.Fatalf("ParamsOf = %+v, %v", p, err)
	}
	h2, _ := Hash("correct horse")
	if h2 == h {
		t.Error("two hashes of one password are equal: salt missing")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{"correct horse", true},
		{"correct horsE", false},
		{"correct horse ", false},
		{"", false},
	} {
		if got := Verify(h, tc.pw); got != tc.want {
			t.Errorf("Verify(%q) = %v, want %v", tc.pw, got, tc.want)
		}
	}
	if _, err := Hash(""); err == nil {
		t.Error("Hash(\"\") succeeded")
	}
}

func TestVerifyOtherParams(t *testing.T) {
	for _, p := range []Params{fastParams, {Memory: 256, Time: 2, Threads: 2}, {Memory: 8 * 1024, Time: 1, Threads: 4}} {
		h, err := HashWithParams("pw", p)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := ParamsOf(h); got != p {
			t.Errorf("ParamsOf(%q) = %+v, want %+v", h, got, p)
		}
		if !Verify(h, "pw") || Verify(h, "pW") {
			t.Errorf("params %+v: verify wrong", p)
		}
	}
	if _, err := HashWithParams("pw", Params{Memory: 1 << 30, Time: 1, Threads: 1}); err == nil {
		t.Error("huge memory accepted")
	}
}

func TestVerifyTampered(t *testing.T) {
	h, err := HashWithParams("pw", fastParams)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(h, "$") // "", argon2id, v=19, params, salt, hash
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	join := func(mod func([]string)) string {
		g := append([]string(nil), f...)
		mod(g)
		return strings.Join(g, "$")
	}
	for name, bad := range map[string]string{
		"empty":         "",
		"garbage":       "hunter2",
		"truncated":     join(func(g []string) { g[5] = g[5][:20] }), // 15 bytes: shorter than any accepted key
		"extra field":   h + "$x",
		"argon2i":       join(func(g []string) { g[1] = "argon2i" }),
		"bcrypt":        "$2b$10$abcdefghijklmnopqrstuuJkB1ZWeZ8B7Qx8pFv2H3KRT0lRa0x4u",
		"version 16":    join(func(g []string) { g[2] = "v=16" }),
		"params order":  join(func(g []string) { g[3] = "t=1,m=64,p=1" }),
		"params sign":   join(func(g []string) { g[3] = "m=+64,t=1,p=1" }),
		"params zero t": join(func(g []string) { g[3] = "m=64,t=0,p=1" }),
		"params huge m": join(func(g []string) { g[3] = "m=4194304,t=1,p=1" }),
		"params p 300":  join(func(g []string) { g[3] = "m=64,t=1,p=300" }),
		"params lead 0": join(func(g []string) { g[3] = "m=064,t=1,p=1" }),
		"salt padded":   join(func(g []string) { g[4] += "==" }),
		"salt short":    join(func(g []string) { g[4] = "AAAA" }),
		"hash bad b64":  join(func(g []string) { g[5] = "!!" + g[5][2:] }),
	} {
		if err := CheckHash(bad); err == nil {
			t.Errorf("%s: CheckHash(%q) accepted", name, bad)
		}
		if Verify(bad, "pw") {
			t.Errorf("%s: Verify(%q) matched", name, bad)
		}
	}
	// Well-formed but changed: parses, does not match.
	for name, bad := range map[string]string{
		"other params": join(func(g []string) { g[3] = "m=64,t=2,p=1" }),
		"other salt":   join(func(g []string) { g[4] = flip(g[4]) }),
		"other hash":   join(func(g []string) { g[5] = flip(g[5]) }),
	} {
		if err := CheckHash(bad); err != nil {
			t.Errorf("%s: CheckHash = %v", name, err)
		}
		if Verify(bad, "pw") {
			t.Errorf("%s: Verify(%q) matched", name, bad)
		}
	}
}

func TestHashErrorsHideSecrets(t *testing.T) {
	h, _ := HashWithParams("pw", fastParams)
	f := strings.Split(h, "$")
	bad := strings.Join([]string{"", "argon2id", "v=19", "m=64,t=1,p=1", f[4], f[5] + "**"}, "$")
	err := CheckHash(bad)
	if err == nil || strings.Contains(err.Error(), f[4]) || strings.Contains(err.Error(), f[5]) {
		t.Errorf("CheckHash error %v quotes the salt or hash", err)
	}
}

func FuzzParseHash(f *testing.F) {
	h, _ := HashWithParams("pw", fastParams)
	for _, s := range []string{h, "", "$", "$argon2id$v=19$m=1,t=1,p=1$$", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseHash(s)
		if err != nil {
			return
		}
		if p.params.check() != nil {
			t.Fatalf("parsed out-of-range params %+v", p.params)
		}
		if got := encodeHash(p.params, p.salt, p.key); got != s {
			t.Fatalf("re-encoding %q gives %q", s, got)
		}
	})
}

// BenchmarkVerify measures one login's password check with DefaultParams.
func BenchmarkVerify(b *testing.B) {
	h, err := Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !Verify(h, "correct horse battery staple") {
			b.Fatal("no match")
		}
	}
}
