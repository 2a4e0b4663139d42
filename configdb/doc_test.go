package configdb

import (
	"bytes"
	"strings"
	"testing"

	"github.com/orchd/orchd/aaa"
)

// fastHash hashes with cheap parameters; Verify reads them from the hash.
func fastHash(t testing.TB, pw string) string {
	h, err := aaa.HashWithParams(pw, aaa.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDecode(t *testing.T) {
	h := fastHash(t, "pw")
	good := `{"schema": 1, "users": [{"name": "bob", "role": "monitorRole"}, {"name": "admin", "role": "adminRole", "password_hash": "` + h + `"}]}`
	d, err := decode([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Users) != 2 || d.Users[0].Name != "admin" || d.Users[0].PasswordHash != h {
		t.Fatalf("decoded %+v: want users sorted by name with the hash kept", d.Users)
	}
	for name, tc := range map[string]struct{ in, want string }{
		"not JSON":        {`{"schema": 1,`, "parsing JSON"},
		"no schema":       {`{"users": []}`, `no "schema" field`},
		"newer schema":    {`{"schema": 2, "users": []}`, "schema 2 is newer than this clishd understands: expected at most 1"},
		"schema 0":        {`{"schema": 0}`, "schema 0: expected 1 to 1"},
		"unknown field":   {`{"schema": 1, "users": [], "color": "red"}`, `unknown field "color"`},
		"trailing data":   {`{"schema": 1, "users": []} {}`, "after top-level value"},
		"trailing junk":   {`{"schema": 1, "users": []} x`, "after top-level value"},
		"bad user name":   {`{"schema": 1, "users": [{"name": "Root", "role": "adminRole"}]}`, `invalid user name "Root"`},
		"bad role":        {`{"schema": 1, "users": [{"name": "a", "role": "rootRole"}]}`, `unknown role "rootRole"`},
		"duplicate":       {`{"schema": 1, "users": [{"name": "a", "role": "adminRole"}, {"name": "a", "role": "adminRole"}]}`, `user "a" appears twice`},
		"no admin":        {`{"schema": 1, "users": [{"name": "a", "role": "monitorRole"}]}`, "no user has adminRole"},
		"bad hash":        {`{"schema": 1, "users": [{"name": "a", "role": "adminRole", "password_hash": "$1$abc$def"}]}`, `unsupported password hash algorithm md5-crypt ($1$): expected argon2id`},
		"bad expert hash": {`{"schema": 1, "users": [], "expert_password_hash": "x"}`, "expert password: malformed password hash"},
		"users not list":  {`{"schema": 1, "users": {}}`, "parsing schema 1"},
	} {
		_, err := decode([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, tc.want)
		}
	}
}

func TestEncodeCanonical(t *testing.T) {
	a := Doc{Users: []aaa.User{{Name: "b", Role: aaa.AdminRole}, {Name: "a", Role: aaa.MonitorRole}}}
	b := Doc{Schema: 1, Users: []aaa.User{{Name: "a", Role: aaa.MonitorRole}, {Name: "b", Role: aaa.AdminRole}}}
	a.normalize()
	b.normalize()
	if !bytes.Equal(encode(a), encode(b)) {
		t.Errorf("equal documents encode differently:\n%s\n%s", encode(a), encode(b))
	}
	var empty Doc
	empty.normalize()
	if got, want := string(encode(empty)), "{\n  \"schema\": 1,\n  \"users\": []\n}\n"; got != want {
		t.Errorf("empty document encodes as %q, want %q", got, want)
	}
}

func FuzzDecodeDoc(f *testing.F) {
	h := fastHash(f, "pw")
	for _, s := range []string{
		`{"schema": 1, "users": []}`,
		`{"schema": 1, "users": [{"name": "admin", "role": "adminRole", "password_hash": "` + h + `"}], "expert_password_hash": "` + h + `"}`,
		`{"schema": 1, "users": [{"name": "a", "role": "monitorRole"}, {"name": "b", "role": "adminRole"}]}`,
		`{"schema": 2}`, `{"schema": 1, "users": null}`, `null`, `[]`, ``, `{"schema": 1e400}`, `{"SCHEMA": 1, "Users": []}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decode(b)
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("decode accepted an invalid document: %v", err)
		}
		enc := encode(d)
		d2, err := decode(enc)
		if err != nil {
			t.Fatalf("re-decoding %q: %v", enc, err)
		}
		if !bytes.Equal(encode(d2), enc) {
			t.Fatalf("round trip changed %q to %q", enc, encode(d2))
		}
		_ = d.Commands()
	})
}
