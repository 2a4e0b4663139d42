package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A native Debian version: a digit first, then [A-Za-z0-9.+~] (no hyphen,
// so no Debian revision).
var nativeVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// scripts/debversion.sh turns git describe into a valid, rising Debian
// version, in a scratch repository for each case.
func TestDebVersion(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	script, err := filepath.Abs("../scripts/debversion.sh")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "scripts", "debversion.sh"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	version := func() string {
		t.Helper()
		out, err := exec.Command(filepath.Join(repo, "scripts", "debversion.sh")).CombinedOutput()
		if err != nil {
			t.Fatalf("debversion.sh: %v\n%s", err, out)
		}
		v := strings.TrimSpace(string(out))
		if !nativeVersion.MatchString(v) {
			t.Errorf("%q is not a valid native Debian version", v)
		}
		return v
	}
	if v := version(); v != "0.0.0" {
		t.Errorf("outside git: %q, want 0.0.0", v)
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "one")
	short := func() string { return git("rev-parse", "--short=12", "HEAD") }
	var seen []string
	check := func(want string) {
		t.Helper()
		v := version()
		if v != want {
			t.Errorf("version %q, want %q", v, want)
		}
		seen = append(seen, v)
	}
	check("0.0.0+1.g" + short())
	git("commit", "-q", "--allow-empty", "-m", "two")
	check("0.0.0+2.g" + short())
	git("tag", "v1.3.0-rc1")
	check("1.3.0~rc1")
	git("commit", "-q", "--allow-empty", "-m", "three")
	check("1.3.0~rc1+1.g" + short())
	git("tag", "v1.3.0")
	check("1.3.0")
	if err := os.WriteFile(filepath.Join(repo, "scripts", "debversion.sh"), append(b, '\n'), 0o755); err != nil {
		t.Fatal(err)
	}
	check("1.3.0+0.g" + short() + ".dirty")

	// Each version sorts after the one before, as dpkg compares them.
	if _, err := exec.LookPath("dpkg"); err == nil {
		for i := 1; i < len(seen); i++ {
			if err := exec.Command("dpkg", "--compare-versions", seen[i], "gt", seen[i-1]).Run(); err != nil {
				t.Errorf("dpkg does not sort %s after %s", seen[i], seen[i-1])
			}
		}
	}
}
