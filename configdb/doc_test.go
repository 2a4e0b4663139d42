package configdb

import (
	"bytes"
	"strings"
	"testing"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/policy"
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
		"newer schema":    {`{"schema": 3, "users": []}`, "schema 3 is newer than this clishd understands: expected at most 2"},
		"schema 0":        {`{"schema": 0}`, "schema 0: expected 1 to 2"},
		"role and roles":  {`{"schema": 1, "users": [{"name": "a", "role": "adminRole", "roles": ["adminRole"]}]}`, "both role and roles"},
		"v2 with role":    {`{"schema": 2, "users": [{"name": "a", "role": "adminRole"}]}`, `unknown field "role"`},
		"no roles":        {`{"schema": 2, "users": [{"name": "a", "roles": []}]}`, `user "a": no role`},
		"bad state":       {`{"schema": 2, "users": [{"name": "a", "roles": ["adminRole"], "state": "x"}]}`, `user "a": state "x"`},
		"bad email":       {`{"schema": 2, "users": [{"name": "a", "roles": ["adminRole"], "email": "x"}]}`, `invalid email address "x"`},
		"bad custom role": {`{"schema": 2, "users": [], "roles": [{"name": "r", "readwrite_features": ["nope"]}]}`, `unknown feature "nope"`},
		"undefined role":  {`{"schema": 2, "users": [{"name": "a", "roles": ["adminRole", "r"]}]}`, `unknown role "r"`},
		"bad control":     {`{"schema": 2, "users": [], "password_controls": {"min_password_length": 7}}`, "min-password-length is 7"},
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
	a := Doc{Users: []aaa.User{{Name: "b", Roles: []string{aaa.AdminRole}}, {Name: "a", Roles: []string{aaa.MonitorRole}}}}
	b := Doc{Schema: SchemaVersion, Users: []aaa.User{{Name: "a", Roles: []string{aaa.MonitorRole}}, {Name: "b", Roles: []string{aaa.AdminRole}}}}
	a.normalize()
	b.normalize()
	if !bytes.Equal(encode(a), encode(b)) {
		t.Errorf("equal documents encode differently:\n%s\n%s", encode(a), encode(b))
	}
	var empty Doc
	empty.normalize()
	if got, want := string(encode(empty)), `{
  "schema": 2,
  "users": [],
  "roles": [],
  "password_controls": {
    "enforce_password_criteria": false,
    "min_password_length": 8,
    "require_lowercase": true,
    "require_uppercase": true,
    "require_digit": true,
    "require_special": true,
    "history_length": 8,
    "password_expiration": 90,
    "expiration_warning_days": 7,
    "inactive_user_deletion": 0,
    "failed_attempts_allowed": 4,
    "failed_lock_duration": 5,
    "failed_alarm_threshold": 10
  }
}
`; got != want {
		t.Errorf("empty document encodes as %s, want %s", got, want)
	}
}

// TestMigrateSchema1: a configuration saved by the first clishd loads with
// each user's one role as its roles, active, with default password
// controls, and saves as schema 2.
func TestMigrateSchema1(t *testing.T) {
	h := fastHash(t, "pw")
	v1 := `{"schema": 1, "users": [{"name": "mon", "role": "monitorRole"}, {"name": "admin", "role": "adminRole", "password_hash": "` + h + `"}], "expert_password_hash": "` + h + `"}`
	d, err := decode([]byte(v1))
	if err != nil {
		t.Fatal(err)
	}
	if d.Schema != 2 || len(d.Users) != 2 || d.Users[0].Roles[0] != aaa.AdminRole || len(d.Users[0].Roles) != 1 || d.Users[1].Roles[0] != aaa.MonitorRole ||
		d.Users[0].State != aaa.StateActive || d.Users[0].PasswordHash != h || d.ExpertPasswordHash != h || d.PasswordControls != policy.Defaults() {
		t.Fatalf("migrated %+v", d)
	}
	if !bytes.Contains(encode(d), []byte(`"schema": 2`)) || bytes.Contains(encode(d), []byte(`"role":`)) {
		t.Errorf("saved form:\n%s", encode(d))
	}
}

func FuzzDecodeDoc(f *testing.F) {
	h := fastHash(f, "pw")
	for _, s := range []string{
		`{"schema": 1, "users": []}`,
		`{"schema": 1, "users": [{"name": "admin", "role": "adminRole", "password_hash": "` + h + `"}], "expert_password_hash": "` + h + `"}`,
		`{"schema": 1, "users": [{"name": "a", "role": "monitorRole"}, {"name": "b", "role": "adminRole"}]}`,
		`{"schema": 2}`, `{"schema": 1, "users": null}`,
		`{"schema": 2, "users": [{"name": "a", "roles": ["adminRole", "r"], "state": "inactive", "email": "a@b.c"}], "roles": [{"name": "r", "readonly_features": ["audit"]}]}`,
		`{"schema": 2, "users": [], "password_controls": {"enforce_password_criteria": true, "min_password_length": 9}}`,
		`{"schema": 1, "users": [{"name": "a", "role": 1}]}`, `null`, `[]`, ``, `{"schema": 1e400}`, `{"SCHEMA": 1, "Users": []}`,
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
