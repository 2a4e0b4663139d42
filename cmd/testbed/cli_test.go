package main

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/orchd/orchd/testbed"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args string
		want invocation
	}{
		{"up", invocation{cmd: "up"}},
		{"up --sites 3 --per-site 4 --admin-password pw --dir /d --prefix x- --mgmt-net 198.19.160.0/20 --bin-dir /b",
			invocation{cmd: "up", opts: testbed.Options{Sites: 3, PerSite: 4, AdminPassword: "pw", Dir: "/d", Prefix: "x-",
				MgmtNet: netip.MustParsePrefix("198.19.160.0/20"), BinDir: "/b"}}},
		{"up --init-arg --set --init-arg auth.cert_validity=10m --set log.level=debug",
			invocation{cmd: "up", opts: testbed.Options{InitArgs: []string{"--set", "auth.cert_validity=10m", "--set", "log.level=debug"}}}},
		{"down", invocation{cmd: "down"}},
		{"down --purge --dir /d", invocation{cmd: "down", purge: true, opts: testbed.Options{Dir: "/d"}}},
		{"exec 1_2 -- orch_stat -Av", invocation{cmd: "exec", id: "1_2", argv: []string{"orch_stat", "-Av"}}},
		{"exec --dir /d 1_2 -- sh -c x", invocation{cmd: "exec", id: "1_2", argv: []string{"sh", "-c", "x"}, opts: testbed.Options{Dir: "/d"}}},
		{"exec 1_2 hostname", invocation{cmd: "exec", id: "1_2", argv: []string{"hostname"}}},
		{"exec 1_2 -- -weird", invocation{cmd: "exec", id: "1_2", argv: []string{"-weird"}}},
		{"addr 1_1 mgmt", invocation{cmd: "addr", id: "1_1", which: "mgmt"}},
		{"addr 2_1 external", invocation{cmd: "addr", id: "2_1", which: "external"}},
		{"link 1_2 internal down", invocation{cmd: "link", id: "1_2", which: "internal"}},
		{"link 1_2 external up", invocation{cmd: "link", id: "1_2", which: "external", up: true}},
		{"stop 1_1", invocation{cmd: "stop", id: "1_1"}},
		{"start 1_1", invocation{cmd: "start", id: "1_1"}},
		{"kill 2_2", invocation{cmd: "kill", id: "2_2"}},
		{"status", invocation{cmd: "status"}},
		{"help", invocation{cmd: "help"}},
		{"up --help", invocation{cmd: "help"}},
		{"stop -h", invocation{cmd: "help"}},
	}
	for _, tt := range tests {
		got, err := parseArgs(strings.Fields(tt.args))
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.args, got, tt.want)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct{ args, want string }{
		{"", "missing command: expected one of up, down, add, exec"},
		{"bogus", `unknown command "bogus": expected one of up, down`},
		{"up --sites x", `up: --sites "x": expected a whole number from 1 to 254`},
		{"up --per-site 0", `up: --per-site "0": expected a whole number`},
		{"up --sites 16", "16 sites of 2 orchestrators: address for 16_2 (198.19.144.2) falls outside network 198.19.128.0/20"},
		{"up --mgmt-net nonsense", `up: --mgmt-net "nonsense": expected a network such as 198.19.128.0/20`},
		{"up --mgmt-net 10.1.0.0/16", "management network 10.1.0.0/16: expected an IPv4 network of at least 4 addresses inside 198.18.0.0/15"},
		{"up --set novalue", `up: --set "novalue": expected KEY=VALUE`},
		{"up --admin-password=", "up: --admin-password: expected a non-empty password"},
		{"up --prefix a/b", `up: prefix "a/b": expected letters`},
		{"up --bogus", "up: unknown flag: --bogus: expected --admin-password, --admin-password-stdin, --bin-dir, --dir"},
		{"up extra", `up: unexpected argument "extra": expected no arguments`},
		{"down --force", "down: unknown flag: --force: expected --dir, --help, --purge"},
		{"exec", "exec: missing ID: expected exec ID -- CMD"},
		{"exec -- ls", "exec: missing ID"},
		{"exec 1_1", "exec: missing command"},
		{"exec 1_1 --", "exec: missing command"},
		{"exec 1_1 2_2 -- ls", `exec: unexpected argument "2_2" before --`},
		{"exec one -- ls", `exec: invalid orchestrator ID "one": expected S_M such as 1_2`},
		{"exec 1_1 ls -l", "put -- before the command"},
		{"addr 1_1", "addr: missing arguments: expected ID mgmt|internal|external"},
		{"addr 1_1 sync", `addr: invalid address kind "sync": expected mgmt, internal or external`},
		{"addr 0_1 mgmt", `addr: invalid orchestrator ID "0_1"`},
		{"link 1_1 mgmt down", `link: invalid link "mgmt": expected internal or external`},
		{"link 1_1 internal off", `link: invalid state "off": expected down or up`},
		{"link 1_1 internal", "link: missing arguments: expected ID internal|external down|up"},
		{"stop", "stop: missing arguments: expected ID"},
		{"kill 1_1 1_2", `kill: unexpected argument "1_2": expected ID`},
		{"start x_1", `start: invalid orchestrator ID "x_1"`},
		{"status 1_1", `status: unexpected argument "1_1": expected no arguments`},
	}
	for _, tt := range tests {
		_, err := parseArgs(strings.Fields(tt.args))
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want usage error containing %q", tt.args, err, tt.want)
			continue
		}
		if first, _, _ := strings.Cut(err.Error(), "\n"); tt.args != "" && first != err.Error() {
			t.Errorf("%q: error has more than one line: %q", tt.args, err)
		}
		var stderr bytes.Buffer
		if code := report(err, &stderr); code != 2 {
			t.Errorf("%q: exit status %d, want 2", tt.args, code)
		}
	}
}

func TestReport(t *testing.T) {
	var b bytes.Buffer
	if code := report(exitStatus(7), &b); code != 7 || b.Len() != 0 {
		t.Errorf("exit status passthrough: %d %q", code, b.String())
	}
	if code := report(errors.New("boom"), &b); code != 1 || b.String() != "testbed: boom\n" {
		t.Errorf("plain error: %d %q", code, b.String())
	}
}

// TestCLI drives the command end to end with a fake clishd, in namespaces
// named tbc-* (the testbed package's own tests use tbt-).
func TestCLI(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "clishd"),
		"github.com/orchd/orchd/testbed/internal/fakeclishd").CombinedOutput(); err != nil {
		t.Fatalf("building fake clishd: %v: %s", err, out)
	}
	dir := t.TempDir()
	tb := func(stdin string, args ...string) (string, error) {
		t.Helper()
		var out, errb bytes.Buffer
		full := append([]string{args[0], "--dir", dir}, args[1:]...)
		err := run(full, strings.NewReader(stdin), &out, &errb)
		t.Logf("testbed %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		return out.String(), err
	}
	out, err := tb("", "up", "--sites", "1", "--per-site", "2", "--prefix", "tbc-",
		"--mgmt-net", "198.19.164.0/22", "--bin-dir", bin, "--set", "ssh.port=2222")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := tb("", "down"); err != nil {
			t.Errorf("down at cleanup: %v", err)
		}
	})
	if !strings.HasPrefix(out, "ID   NAMESPACE  MGMT          INTERNAL       EXTERNAL       PID\n1_1  tbc-1_1    198.19.165.1  198.18.1.1/16  198.19.1.1/17  ") {
		t.Errorf("up table:\n%s", out)
	}
	if _, err := tb("", "up"); err == nil || !strings.Contains(err.Error(), "testbed already up") {
		t.Errorf("second up: %v", err)
	}
	if out, _ := tb("", "addr", "1_2", "mgmt"); out != "198.19.165.2\n" {
		t.Errorf("addr: %q", out)
	}
	out, err = tb("hello\n", "exec", "1_1", "--", "sh", "-c", "cat; echo $CLISHD_ROOT; exit 3")
	if es, ok := err.(exitStatus); !ok || es != 3 || out != "hello\n"+filepath.Join(dir, "nodes", "1_1")+"\n" {
		t.Errorf("exec: %v %q", err, out)
	}
	if _, err := tb("", "link", "1_1", "internal", "down"); err != nil {
		t.Error(err)
	}
	if _, err := tb("", "exec", "9_9", "--", "true"); err == nil || !strings.Contains(err.Error(), `unknown node "9_9": expected one of 1_1, 1_2`) {
		t.Errorf("exec on unknown node: %v", err)
	}
	if _, err := tb("", "kill", "1_2"); err != nil {
		t.Error(err)
	}
	out, _ = tb("", "status")
	lines := strings.Split(out, "\n")
	if len(lines) != 4 || strings.Join(strings.Fields(lines[0]), " ") != "ID NAMESPACE MGMT PID DAEMON" ||
		!strings.HasSuffix(lines[1], " running") || strings.Join(strings.Fields(lines[2]), " ") != "1_2 tbc-1_2 198.19.165.2 - stopped" {
		t.Errorf("status:\n%s", out)
	}
	if _, err := tb("", "start", "1_2"); err != nil {
		t.Error(err)
	}
	if _, err := tb("", "stop", "1_1"); err != nil {
		t.Error(err)
	}
	if _, err := tb("", "down", "--purge"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nodes")); !os.IsNotExist(err) {
		t.Errorf("node roots after down --purge: %v", err)
	}
	if _, err := tb("", "down"); err != nil {
		t.Errorf("down when down: %v", err)
	}
	if _, err := tb("", "status"); err == nil || !strings.Contains(err.Error(), "testbed is not up") {
		t.Errorf("status when down: %v", err)
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), "tbc-") {
		t.Errorf("namespaces left:\n%s", out)
	}
	if out, _ := exec.Command("ip", "-br", "link").Output(); strings.Contains(string(out), "tbc-") {
		t.Errorf("links left:\n%s", out)
	}
}
