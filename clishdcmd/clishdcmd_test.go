package clishdcmd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/paths"
)

func TestInit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		stdin   string
		usage   bool   // want a UsageError (exit 2)
		errText string // "" = success
	}{
		{"ok", []string{"--id", "1_1"}, "", false, ""},
		{"ok with admin", []string{"--id", "2_1", "--orchestrators", "1_1,2_1", "--admin-password-stdin"}, "s3cret\n", false, ""},
		{"missing id", nil, "", true, "missing --id"},
		{"bad id", []string{"--id", "1-1"}, "", true, `invalid orchestrator ID "1-1"`},
		{"bad set", []string{"--id", "1_1", "--set", "ssh.port=0"}, "", true, "config key ssh.port"},
		{"set without =", []string{"--id", "1_1", "--set", "ssh.port"}, "", true, "expected KEY=VALUE"},
		{"unknown key", []string{"--id", "1_1", "--set", "ssh.prot=22"}, "", true, "ssh.prot"},
		{"topology without self", []string{"--id", "1_1", "--orchestrators", "1_2,2_1"}, "", true, "topology.orchestrators"},
		{"empty password", []string{"--id", "1_1", "--admin-password-stdin"}, "\n", true, "held no password"},
		{"stray argument", []string{"--id", "1_1", "extra"}, "", true, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var out bytes.Buffer
			err := Main(append([]string{"init", "--root", root}, tc.args...), strings.NewReader(tc.stdin), &out, &out)
			if tc.errText == "" {
				if err != nil {
					t.Fatal(err)
				}
				l := paths.Layout{Root: root}
				fi, err := os.Stat(l.IdentityKey())
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("identity key: %v %v", fi, err)
				}
				db, _, err := configdb.Open(l.SavedConfig(), nil)
				if err != nil {
					t.Fatal(err)
				}
				_, hasAdmin := db.LookupUser("admin")
				if hasAdmin != strings.Contains(strings.Join(tc.args, " "), "--admin-password-stdin") {
					t.Fatalf("admin user present = %v", hasAdmin)
				}
				if strings.Contains(out.String(), "s3cret") {
					t.Fatal("password echoed")
				}
				// A second init refuses to replace the identity.
				err = Main(append([]string{"init", "--root", root}, tc.args...), strings.NewReader(tc.stdin), &out, &out)
				if err == nil || !strings.Contains(err.Error(), "--force") {
					t.Fatalf("second init: %v", err)
				}
				return
			}
			var ue *UsageError
			if tc.usage != errors.As(err, &ue) || err == nil || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("err = %v, want usage=%v containing %q", err, tc.usage, tc.errText)
			}
			// Nothing was written.
			ents, _ := os.ReadDir(root)
			if len(ents) != 0 {
				t.Fatalf("a failed init left files: %v", ents)
			}
		})
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	root := t.TempDir()
	if err := Main([]string{"init", "--root", root, "--id", "1_1"}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(root, "etc", "clishd", "clishd.yaml")
	before, _ := os.ReadFile(cfg)
	err := Main([]string{"run", "--root", root, "--sync.port", "http"}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "config key sync.port") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("run with a bad flag value: %v", err)
	}
	t.Setenv("CLISHD_LOG_LEVEL", "chatty")
	if err := Main([]string{"run", "--root", root}, nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "log.level") {
		t.Fatalf("run with a bad env value: %v", err)
	}
	after, _ := os.ReadFile(cfg)
	if !bytes.Equal(before, after) {
		t.Fatal("config changed")
	}
	if _, err := os.Stat(filepath.Join(root, "run", "clishd", "state.json")); err == nil {
		t.Fatal("a refused run wrote a state file")
	}
}
