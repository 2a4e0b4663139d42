package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/orchd/orchd/testbed"
)

// rbaOverSSH runs on node 1_2 of TestShellOverSSH's testbed (one testbed
// less to build): DESIGN §8.1 roles per command and §8.2 password
// controls through the real OpenSSH client.
func rbaOverSSH(t *testing.T, tb *testbed.Testbed, adminPW string) {
	const node = "1_2"
	mg, _ := tb.Addr(node, "mgmt")
	addr := mg.Addr().String()
	n, err := tb.Node(node)
	if err != nil {
		t.Fatal(err)
	}
	const monPW, cuPW, expPW = "Rba-mon-1", "Rba-cu-11", "Rba-exp-1"
	clishScript(t, tb, node, n.Root,
		"add rba role authView domain-type System readwrite-features users readonly-features maestro-auth",
		"add user rbamon role monitorRole",
		"add user rbacu role authView",
		"add user rbaexp role monitorRole,authView",
		"set user rbaexp email rbaexp@example.com")
	for u, pw := range map[string]string{"rbamon": monPW, "rbacu": cuPW, "rbaexp": expPW} {
		mustClish(t, tb, node, `{"password": "`+pw+`"}`, "set user "+u+" password")
	}
	// A password breaking rules is refused naming each of them.
	_, errOut, code := run(t, tb, node, `{"password": "short"}`, "clish", "--input-json", "-c", "set user rbamon password")
	if want := "password refused: needs at least 8 characters; needs an uppercase letter; needs a digit; needs a special character"; code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("weak password: exit %d %q, want %q", code, errOut, want)
	}

	t.Run("WalkCommandTree", func(t *testing.T) {
		tree, code := sshRun(t, addr, "admin", adminPW, "show rba commands")
		if code != 0 {
			t.Fatalf("show rba commands: exit %d\n%s", code, tree)
		}
		type cmdInfo struct{ feature, needs, syntax string }
		var cmds []cmdInfo
		var adds []cmdInfo // run last: they create what other lines name
		for _, l := range strings.Split(strings.TrimSpace(tree), "\n")[1:] {
			f := strings.Fields(l)
			c := cmdInfo{f[0], f[1], strings.Join(f[2:], " ")}
			if c.syntax == "exit" || c.syntax == "quit" {
				continue
			}
			if strings.HasPrefix(c.syntax, "add ") {
				adds = append(adds, c)
			} else {
				cmds = append(cmds, c)
			}
		}
		if len(cmds)+len(adds) < 30 {
			t.Fatalf("only %d commands in the tree:\n%s", len(cmds), tree)
		}
		roles := []struct {
			user, pw, roles string
			rw, ro          []string
		}{
			{"rbamon", monPW, "monitorRole", nil, []string{"maestro-auth", "users", "rba", "password-controls", "aaa", "security", "management", "config", "audit"}},
			{"rbacu", cuPW, "authView", []string{"users"}, []string{"maestro-auth"}},
		}
		// Both users at once, several commands at a time over each one's
		// connection; the lines that add come after the others.
		var wg sync.WaitGroup
		for _, r := range roles {
			ssh := sshMaster(t, addr, r.user, r.pw)
			wg.Go(func() {
				var refusals atomic.Int32
				check := func(c cmdInfo) {
					line := sampleLine(c.syntax)
					out, code := ssh(line)
					has := func(fs []string) bool { return strings.Contains(","+strings.Join(fs, ",")+",", ","+c.feature+",") }
					writeRefusal := fmt.Sprintf("not allowed: needs feature %s read-write; user %s has roles %s (", c.feature, r.user, r.roles)
					readRefusal := fmt.Sprintf("not allowed: needs feature %s; user %s has roles %s, which do not include it", c.feature, r.user, r.roles)
					switch {
					case c.feature == "-":
						if code != 0 {
							t.Errorf("%s: %q: exit %d\n%s", r.user, line, code, out)
						}
					case c.needs == "read-write" && !has(r.rw):
						refusals.Add(1)
						if code != 1 || !strings.Contains(out, writeRefusal) {
							t.Errorf("%s: change %q ran or was refused for another reason (exit %d):\n%s\nwant %q", r.user, line, code, out, writeRefusal)
						}
					case c.needs == "read-write":
						if strings.Contains(out, "not allowed: needs feature") {
							t.Errorf("%s: %q refused though %s is read-write:\n%s", r.user, line, c.feature, out)
						}
					case !has(r.rw) && !has(r.ro):
						refusals.Add(1)
						if code != 1 || !strings.Contains(out, readRefusal) {
							t.Errorf("%s: %q (feature %s) not refused (exit %d):\n%s\nwant %q", r.user, line, c.feature, code, out, readRefusal)
						}
					default:
						if strings.Contains(out, "not allowed: needs feature "+c.feature+"; ") {
							t.Errorf("%s: %q refused though %s is readable:\n%s", r.user, line, c.feature, out)
						}
					}
				}
				for _, batch := range [][]cmdInfo{cmds, adds} {
					work := make(chan cmdInfo)
					var ww sync.WaitGroup
					for range 4 {
						ww.Go(func() {
							for c := range work {
								check(c)
							}
						})
					}
					for _, c := range batch {
						work <- c
					}
					close(work)
					ww.Wait()
				}
				if refusals.Load() == 0 {
					t.Errorf("%s: nothing refused: the walk proved nothing", r.user)
				}
				t.Logf("%s (%s): %d commands, %d refused", r.user, r.roles, len(cmds)+len(adds), refusals.Load())
			})
		}
		wg.Wait()
	})

	t.Run("DemoteAndDeactivateOpenSession", func(t *testing.T) {
		cu := startPTY(t, exec.Command("sshpass", sshArgs(addr, "rbacu", "-tt")...), "SSHPASS="+cuPW)
		cu.expect("orch-1_2> ")
		cu.send("add user rbax1 role monitorRole\r")
		cu.expect("user rbax1 added")
		cu.expect("orch-1_2> ")
		clishScript(t, tb, node, n.Root, "lock database override", "set user rbacu role monitorRole")
		cu.send("delete user rbax1\r")
		cu.expect("not allowed: needs feature users read-write; user rbacu has roles monitorRole (users: read-only)")
		cu.expect("orch-1_2> ")
		mustClish(t, tb, node, "", "set user rbacu state inactive")
		cu.expect("session ended: user rbacu was made inactive by admin")
		cu.wait()
		if out, code := sshRun(t, addr, "rbacu", cuPW, "show users"); code == 0 {
			t.Errorf("an inactive user logged in:\n%s", out)
		}
	})

	t.Run("PasswordControls", func(t *testing.T) {
		out, _, code := run(t, tb, node, "", "clish", "-c", "set password-controls enforce-password-criteria off")
		if code != 1 {
			t.Errorf("enforce off while off: exit %d %s", code, out)
		}
		clishScript(t, tb, node, n.Root, "set password-controls expiration-warning-days 10",
			"set password-controls enforce-password-criteria on", "save config")
		out, errOut, code := run(t, tb, node, "", "clish", "-c", "set password-controls enforce-password-criteria off")
		if code != 1 || !strings.Contains(errOut, "cannot be turned off: it is one-way") {
			t.Errorf("enforce off once on: exit %d %s%s", code, out, errOut)
		}
		out = mustClish(t, tb, node, "", "show password-controls")
		for _, want := range []string{"enforce-password-criteria  on", "expiration-warning-days    10", "password-expiration        90", "failed-attempts-allowed    4"} {
			if !strings.Contains(out, want) {
				t.Errorf("show password-controls lacks %q:\n%s", want, out)
			}
		}
		// Age two passwords in the saved configuration: rbaexp's expired,
		// rbamon's within the warning days.
		if err := tb.Stop(node); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(n.Root, "var/lib/clishd/config.json")
		var doc map[string]any
		b, err := os.ReadFile(path)
		if err != nil || json.Unmarshal(b, &doc) != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		doc["password_controls"].(map[string]any)["enforced_since"] = "2020-01-01T00:00:00Z"
		for _, u := range doc["users"].([]any) {
			u := u.(map[string]any)
			switch u["name"] {
			case "rbaexp":
				u["password_changed_at"] = "2020-01-01T00:00:00Z"
			case "rbamon":
				u["password_changed_at"] = time.Now().Add(-85 * 24 * time.Hour).UTC().Format(time.RFC3339)
			case "admin":
				u["password_changed_at"] = time.Now().UTC().Format(time.RFC3339)
			}
		}
		b, _ = json.MarshalIndent(doc, "", "  ")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := tb.Start(node); err != nil {
			t.Fatal(err)
		}

		out, code = sshRun(t, addr, "rbaexp", expPW, "show users")
		if code != 1 || !strings.Contains(out, "password expired: log in interactively to change it") {
			t.Errorf("expired exec: exit %d\n%s", code, out)
		}
		exp := startPTY(t, exec.Command("sshpass", sshArgs(addr, "rbaexp", "-tt")...), "SSHPASS="+expPW)
		exp.expect("you must change it now")
		for _, try := range []struct{ pw, want string }{
			{"rba-exp", "password refused: needs at least 8 characters; needs an uppercase letter; needs a digit"},
			{expPW, "password refused: used in the last 8 passwords"},
		} {
			exp.expect("New password: ")
			exp.send(try.pw + "\r")
			exp.expect("Retype new password: ")
			exp.send(try.pw + "\r")
			exp.expect(try.want)
		}
		const newPW = "Rba-exp-2"
		exp.expect("New password: ")
		exp.send(newPW + "\r")
		exp.expect("Retype new password: ")
		exp.send(newPW + "\r")
		exp.expect("password changed")
		exp.expect("orch-1_2> ")
		exp.send("exit\r")
		exp.wait()
		if strings.Contains(exp.buf.String(), newPW) {
			t.Error("the new password was echoed")
		}
		users, code := sshRun(t, addr, "rbaexp", newPW, "show users")
		if code != 0 || !regexp.MustCompile(`(?m)^USER\s+ROLES\s+STATE\s+TWO-FACTOR\s+LAST-LOGIN\s+PASSWORD-EXPIRES$`).MatchString(users) ||
			!regexp.MustCompile(`(?m)^rbaexp\s+monitorRole,authView\s+active\s+off\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+\d{4}-`).MatchString(users) ||
			!regexp.MustCompile(`(?m)^rbacu\s+monitorRole\s+inactive\s+off\s+`).MatchString(users) {
			t.Errorf("show users after the change at login: exit %d\n%s", code, users)
		}
		// The change at login was written through: nothing unsaved.
		if st := mustClish(t, tb, node, "", "show config-state"); strings.TrimSpace(st) != "saved" {
			t.Errorf("config-state after a change at login: %s", st)
		}

		mon := startPTY(t, exec.Command("sshpass", sshArgs(addr, "rbamon", "-tt")...), "SSHPASS="+monPW)
		mon.expect("Warning: your password expires in 4 days")
		mon.expect("orch-1_2> ")
		mon.send("exit\r")
		mon.wait()
	})
	// The changes above, the change at login and the logins are audited.
	out, code := sshRun(t, addr, "admin", adminPW, "show audit last 200")
	for _, want := range []string{`"command":"set user rbacu state inactive"`, `"command":"change expired password","result":"ok"`, `"user":"rbamon","source":"ssh from`} {
		if code != 0 || !strings.Contains(strings.ReplaceAll(out, `", "`, `","`), want) {
			t.Errorf("audit lacks %s", want)
		}
	}
}

// clishScript runs lines as one clish -f script on the node's console.
func clishScript(t *testing.T, tb *testbed.Testbed, node, root string, lines ...string) {
	t.Helper()
	f := filepath.Join(root, "rba-script.clish")
	if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f)
	if out, errOut, code := run(t, tb, node, "", "clish", "-f", f); code != 0 {
		t.Fatalf("clish -f %q: exit %d\n%s%s", lines, code, out, errOut)
	}
}

// sshMaster logs user in once (OpenSSH ControlMaster) and returns a
// function running one exec command over that connection, stdin empty,
// with its combined output and exit status.
func sshMaster(t *testing.T, addr, user, pw string) func(line string) (string, int) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "mux")
	master := exec.Command("sshpass", sshArgs(addr, user, "-M", "-S", sock, "-N")...)
	master.Env = append(os.Environ(), "SSHPASS="+pw)
	// Gone with the test even when it panics (a timeout): it holds the
	// test lock's descriptor like every child.
	master.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var mlog bytes.Buffer
	master.Stdout, master.Stderr = &mlog, &mlog
	if err := master.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Process.Kill(); master.Wait() })
	if err := testbed.WaitFor(context.Background(), 10*time.Second, func() (bool, error) {
		return exec.Command("ssh", "-S", sock, "-O", "check", user+"@"+addr).Run() == nil, nil
	}); err != nil {
		t.Fatalf("ssh master for %s: %v\n%s", user, err, mlog.String())
	}
	dir := t.TempDir()
	var seq atomic.Int64
	return func(line string) (string, int) {
		outFile := filepath.Join(dir, fmt.Sprint(seq.Add(1)))
		// OpenSSH's mux master sometimes loses the exit status of a
		// command that ends as soon as it starts ("Control master
		// terminated unexpectedly", exit 255), and may keep the client's
		// output descriptors: output goes to a file, not a pipe that would
		// never close, and such a run is repeated.
		for try := 1; ; try++ {
			f, err := os.Create(outFile)
			if err != nil {
				t.Error(err) // called from several goroutines: no Fatal
				return "", -1
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			cmd := exec.CommandContext(ctx, "ssh", "-S", sock, "-n", "-o", "LogLevel=ERROR", user+"@"+addr, line)
			cmd.Stdout, cmd.Stderr = f, f
			err = cmd.Run()
			cancel()
			f.Close()
			out, _ := os.ReadFile(outFile)
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Errorf("ssh %q: %v", line, err)
				return string(out), -1
			}
			if code == 255 && try < 4 {
				continue
			}
			return string(out), code
		}
	}
}

var (
	groupRE = regexp.MustCompile(`\s*\[[^\]]*\]`)
	paramRE = regexp.MustCompile(`<[a-z0-9-]+:([a-z-]+)(?::([^>]*))?>`)
)

// sampleLine turns a syntax into a line that parses: optional groups
// left out, each param a valid value naming nothing that exists.
func sampleLine(syntax string) string {
	fp := "SHA256:" + strings.Repeat("A", 43)
	return paramRE.ReplaceAllStringFunc(groupRE.ReplaceAllString(syntax, ""), func(p string) string {
		m := paramRE.FindStringSubmatch(p)
		switch m[1] {
		case "user":
			return "nosuchuser"
		case "role", "roles":
			return "monitorRole"
		case "id", "idlist", "idlist-all":
			return "1_9"
		case "fingerprint":
			return fp
		case "id-fp-list":
			return "1_9=" + fp
		case "number":
			lo, _, _ := strings.Cut(m[2], "-")
			if lo == "" {
				lo = "1"
			}
			return lo
		case "onoff":
			return "on"
		case "enum":
			first, _, _ := strings.Cut(m[2], "|")
			return first
		}
		return "x"
	})
}
