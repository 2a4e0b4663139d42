package totp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// RFC 6238 appendix B, SHA-1 ("12345678901234567890" in base32), 6 digits
// (the last six of the RFC's eight).
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func TestRFC6238Vectors(t *testing.T) {
	tests := []struct {
		unix int64
		want string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
	}
	for _, tc := range tests {
		got, err := Code(rfcSecret, time.Unix(tc.unix, 0))
		if err != nil || got != tc.want {
			t.Errorf("Code at %d = %q, %v; want %q", tc.unix, got, err, tc.want)
		}
	}
}

func TestVerify(t *testing.T) {
	base := time.Unix(1111111111, 0) // step 37037037, 1 s into it... checked below
	code := func(d time.Duration) string {
		c, err := Code(rfcSecret, base.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name    string
		user    string
		codes   []string // verified in order, all at base
		wantErr []error
	}{
		{"current code", "a", []string{code(0)}, []error{nil}},
		{"one step behind", "a", []string{code(-Period)}, []error{nil}},
		{"one step ahead", "a", []string{code(Period)}, []error{nil}},
		{"two steps behind", "a", []string{code(-2 * Period)}, []error{ErrWrongCode}},
		{"two steps ahead", "a", []string{code(2 * Period)}, []error{ErrWrongCode}},
		{"replayed", "a", []string{code(0), code(0)}, []error{nil, ErrReplayed}},
		{"older step after a newer one", "a", []string{code(0), code(-Period)}, []error{nil, ErrReplayed}},
		{"newer step after an older one", "a", []string{code(-Period), code(0)}, []error{nil, nil}},
		{"wrong", "a", []string{"000000"}, []error{ErrWrongCode}},
		{"not digits", "a", []string{"12345a"}, []error{ErrWrongCode}},
		{"spaced as apps show it", "a", []string{code(0)[:3] + " " + code(0)[3:]}, []error{nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{Now: func() time.Time { return base }}
			for i, c := range tc.codes {
				if err := v.Verify(tc.user, rfcSecret, c); !errors.Is(err, tc.wantErr[i]) {
					t.Errorf("code %d (%q): got %v, want %v", i, c, err, tc.wantErr[i])
				}
			}
		})
	}
}

func TestReplayIsPerUser(t *testing.T) {
	now := time.Unix(2000000000, 0)
	v := &Verifier{Now: func() time.Time { return now }}
	c, _ := Code(rfcSecret, now)
	if err := v.Verify("alice", rfcSecret, c); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify("bob", rfcSecret, c); err != nil {
		t.Errorf("bob's code refused because alice used the same one: %v", err)
	}
	v.Forget("alice")
	if err := v.Verify("alice", rfcSecret, c); err != nil {
		t.Errorf("after Forget: %v", err)
	}
	// The next step is accepted after its predecessor.
	now = now.Add(Period)
	c2, _ := Code(rfcSecret, now)
	if err := v.Verify("alice", rfcSecret, c2); err != nil {
		t.Errorf("next step: %v", err)
	}
}

func TestNewKeyRoundTrip(t *testing.T) {
	k, err := NewKey("orchd 1_1", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.URI, "otpauth://totp/") || !strings.Contains(k.URI, "period=30") || !strings.Contains(k.URI, "digits=6") || !strings.Contains(k.URI, "algorithm=SHA1") {
		t.Errorf("URI %q lacks the parameters", k.URI)
	}
	s, err := SecretFromURI(k.URI)
	if err != nil || s != k.Secret {
		t.Fatalf("SecretFromURI = %q, %v; want %q", s, err, k.Secret)
	}
	if len(k.Secret) != 32 {
		t.Errorf("secret %d base32 characters, want 32 (160 bits)", len(k.Secret))
	}
	now := time.Now()
	c, _ := Code(s, now)
	if err := (&Verifier{Now: func() time.Time { return now }}).Verify("admin", k.Secret, c); err != nil {
		t.Error(err)
	}
}

func TestSecretFromURIRefuses(t *testing.T) {
	for _, u := range []string{"", "https://x/?secret=A", "otpauth://hotp/x?secret=A", "otpauth://totp/x", "otpauth://totp/x?secret="} {
		if _, err := SecretFromURI(u); err == nil {
			t.Errorf("SecretFromURI(%q) accepted", u)
		}
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"123456", " 123 456\n", "12345", "1234567", "abcdef", "١٢٣٤٥٦", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s)
		if err != nil {
			return
		}
		if len(c) != Digits {
			t.Fatalf("ParseCode(%q) = %q", s, c)
		}
		for _, r := range c {
			if r < '0' || r > '9' {
				t.Fatalf("ParseCode(%q) = %q", s, c)
			}
		}
	})
}
