package clishdcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/paths"
)

// The .deb installs packaging/clishd.yaml as /etc/clishd/clishd.yaml before
// any identity exists: init fills it in (keeping the admin's edits) and the
// result is the configuration a fresh init would have written.
func TestInitFillsPackagedTemplate(t *testing.T) {
	tmpl, err := os.ReadFile("../packaging/clishd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if id, err := config.FileID(tmpl); err != nil || id != "" {
		t.Fatalf("packaged config names id %q (%v), want none", id, err)
	}
	// An admin edit before init.
	tmpl = bytes.Replace(tmpl, []byte("level: info"), []byte("level: debug"), 1)

	root := t.TempDir()
	l := paths.Layout{Root: root}
	if err := os.MkdirAll(l.EtcDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.ConfigFile(), tmpl, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"init", "--root", root, "--id", "1_2", "--orchestrators", "1_1,1_2", "--mgmt-address", "127.0.0.1", "--set", "ssh.port=2222"}
	var out bytes.Buffer
	if err := Main(args, strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("init over the packaged config: %v\n%s", err, out.String())
	}
	got, err := config.Load(l.ConfigFile(), nil)
	if err != nil {
		t.Fatal(err)
	}
	written, _ := os.ReadFile(l.ConfigFile())
	if !strings.Contains(string(written), "as installed by the orchd package") {
		t.Errorf("init dropped the packaged comments:\n%s", written)
	}

	fresh := t.TempDir()
	if err := Main(append([]string{"init", "--root", fresh}, args[3:]...), strings.NewReader(""), &out, &out); err != nil {
		t.Fatal(err)
	}
	want, err := config.Load(paths.Layout{Root: fresh}.ConfigFile(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want.LogLevel = "debug"
	got.File, want.File = "", ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config from the packaged file:\n%+v\nfrom a fresh init:\n%+v", got, want)
	}

	// Initialised now: a second init refuses, naming the identity.
	err = Main(args, strings.NewReader(""), &out, &out)
	if err == nil || !strings.Contains(err.Error(), filepath.Join("etc", "clishd", "identity_ed25519")+" already exists") {
		t.Errorf("second init: %v, want a refusal naming the identity", err)
	}
}
