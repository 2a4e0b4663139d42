package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/testbed"
)

// loginSpec is the aaa-login workstream's testbed: its own prefix and
// management /20. Lockout "minutes" last one second here
// (test.lockout_minute), so the default 5-minute lock ends in 5 s.
var loginSpec = tbSpec{prefix: "itaaa-", mgmt: "198.19.176.0/21"}

const loginAdminPW = "Adm1n-login-pw"

// sshTry is one login attempt (one password, one connection) with the
// real OpenSSH client, from the host or, with node set, from inside that
// node's namespace.
func sshTry(t *testing.T, tb *testbed.Testbed, node, addr, user, password, command string) (string, int) {
	t.Helper()
	argv := append([]string{"sshpass"}, sshArgs(addr, user, "-o", "NumberOfPasswordPrompts=1", "-o", "PreferredAuthentications=password")...)
	argv = append(argv, command)
	var cmd *exec.Cmd
	if node == "" {
		cmd = exec.Command(argv[0], argv[1:]...)
	} else {
		var err error
		if cmd, err = tb.Command(node, argv...); err != nil {
			t.Fatal(err)
		}
	}
	cmd.Env = append(os.Environ(), "SSHPASS="+password)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	return string(out), code
}

func TestLoginLockoutPerSource(t *testing.T) {
	needRoot(t)
	needSSH(t)
	tb := upTestbedPW(t, loginSpec, 1, 2, loginAdminPW, "--set", "test.lockout_minute=1s")
	mg, _ := tb.Addr("1_1", "mgmt")
	target := mg.Addr().String()
	host := "198.19.176.1" // the host's address on the management bridge
	ok := func(node string) bool {
		out, code := sshTry(t, tb, node, target, "admin", loginAdminPW, "show config-state")
		return code == 0 && strings.Contains(out, "saved")
	}
	fail4 := func() {
		for i := range 4 {
			if _, code := sshTry(t, tb, "", target, "admin", "Wrong-pw-"+string(rune('a'+i)), "show config-state"); code == 0 {
				t.Fatal("a wrong password logged in")
			}
		}
	}

	// Four failures from the host lock it: the right password is refused
	// from there, while node 1_2 (another source) logs in.
	if !ok("") {
		t.Fatal("the right password failed before any lockout")
	}
	fail4()
	if ok("") {
		t.Fatal("the right password was accepted from a locked-out address")
	}
	if !ok("1_2") {
		t.Fatal("a second source address was refused while the first is locked")
	}
	out := mustClish(t, tb, "1_1", "", "show aaa lockouts")
	if !strings.Contains(out, "ADDRESS") || !strings.Contains(out, host) || !strings.Contains(out, "admin") {
		t.Fatalf("show aaa lockouts lacks %s:\n%s", host, out)
	}
	st := readState(t, tb, "1_1")
	if st.Logins == nil || len(st.Logins.Lockouts) != 1 || st.Logins.Lockouts[0].Address != host || st.Logins.Lockouts[0].LockedUntil == nil {
		t.Fatalf("state.json logins = %+v, want %s locked", st.Logins, host)
	}
	hcp, _, _ := run(t, tb, "1_1", "", "hcp", "-r", "Administrator Logins")
	if !strings.Contains(hcp, "WARNING") || !strings.Contains(hcp, host) {
		t.Fatalf("hcp while locked:\n%s", hcp)
	}

	// delete aaa lockout unlocks at once, and is audited.
	mustClish(t, tb, "1_1", "", "delete aaa lockout "+host)
	if !ok("") {
		t.Fatal("still refused after delete aaa lockout")
	}
	if _, _, code := run(t, tb, "1_1", "", "clish", "-c", "delete aaa lockout 198.19.999.1"); code == 0 {
		t.Fatal("delete aaa lockout accepted a bad address")
	}

	// The lock ends by itself after failed-lock-duration.
	fail4()
	if ok("") {
		t.Fatal("not locked again after four more failures")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if out := mustClish(t, tb, "1_1", "", "show aaa lockouts"); !strings.Contains(out, host) || !lockedIn(out, host) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock did not expire within 15 s (duration 5 test minutes of 1 s)")
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !ok("") {
		t.Fatal("refused after the lock expired")
	}

	// The alarm: 10 failures (refused attempts included) within the lock
	// duration make hcp FAIL, naming the address and the count.
	fail4()
	for range 6 {
		ok("")
	}
	// The state file follows within its write interval.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		hcp, _, code := run(t, tb, "1_1", "", "hcp", "-r", "Administrator Logins")
		if code != 0 && strings.Contains(hcp, "FAILED") && strings.Contains(hcp, "10 failed logins from "+host) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hcp after 10 failures: exit %d\n%s", code, hcp)
		}
	}
	audit := mustClish(t, tb, "1_1", "", "show audit last 500")
	for _, want := range []string{"lockout", "alarm", "unlocked"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
}

// lockedIn reports whether the lockouts table shows addr with a lock end.
func lockedIn(table, addr string) bool {
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == addr {
			return f[2] != "-"
		}
	}
	return false
}
