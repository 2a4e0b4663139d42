package integration

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa/ldap/slapdtest"
	"github.com/orchd/orchd/aaa/radius/freeradiustest"
	"github.com/orchd/orchd/aaa/tacacs/tacacstest"
)

// extauthSpec: workstream extauth's testbed (one orchestrator).
var extauthSpec = tbSpec{prefix: "extauth-", mgmt: "198.19.168.0/21"}

// TestExternalAuthentication logs in over the real OpenSSH client through
// real RADIUS (FreeRADIUS), TACACS+ (tacquito's server) and LDAP (slapd)
// servers, all on the host's end of the management bridge, which the
// orchestrator's namespace reaches. One testbed and one set of servers for
// every case.
func TestExternalAuthentication(t *testing.T) {
	needRoot(t)
	needSSH(t)
	for _, look := range []func() error{freeradiustest.Lookup, slapdtest.Lookup} {
		if err := look(); err != nil {
			t.Skip(err)
		}
	}
	const adminPW, cluster = "Adm1n-pass", "cluster-Passphrase-1"
	const radSecret, tacSecret = "rad-Secret-it", "tac-Secret-it"
	tb := upTestbedPW(t, extauthSpec, 1, 1, adminPW)
	mg, _ := tb.Addr("1_1", "mgmt")
	node := mg.Addr().String()
	mgmtNet := netip.MustParsePrefix(extauthSpec.mgmt)
	host := mgmtNet.Addr().Next() // the host's address on the management bridge
	// A second host address the LDAP certificate does not name.
	other := netip.MustParseAddr("198.19.175.250")
	if out, err := exec.Command("ip", "addr", "add", other.String()+"/21", "dev", extauthSpec.prefix+"mgmt").CombinedOutput(); err != nil {
		t.Fatalf("adding %s to the management bridge: %v %s", other, err, out)
	}
	dir := t.TempDir()

	// Servers.
	rad1, err := freeradiustest.Start(filepath.Join(dir, "rad1"), host, mgmtNet, radSecret, []freeradiustest.User{
		{Name: "radadmin", Password: "Rad-pw-1", AVPairs: []string{"shell:msc-roles=adminRole"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rad1.Stop()
	rad2, err := freeradiustest.Start(filepath.Join(dir, "rad2"), host, mgmtNet, radSecret, []freeradiustest.User{
		{Name: "radadmin", Password: "Rad-pw-1", AVPairs: []string{"cisco-av-pair=shell:msc-roles=adminRole"}},
		{Name: "radonly2", Password: "Rad-pw-2", AVPairs: []string{"shell:msc-roles=adminRole"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rad2.Stop()
	tac, err := tacacstest.Start(host.String()+":0", []byte(tacSecret), map[string]tacacstest.User{
		"tacmon": {Password: "Tac-pw-1", Args: []string{"priv-lvl=1", "shell:msc-roles=monitorRole"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tac.Close()
	slapd, err := slapdtest.Start(filepath.Join(dir, "slapd"), []netip.Addr{host, other}, []netip.Addr{host}, []slapdtest.User{
		{CN: "ldapadmin", Password: "Ldap-pw-1", Groups: []string{"orchadmins"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer slapd.Stop()
	os.Chmod(filepath.Join(dir, "slapd"), 0o755) // clishd reads the CA file
	os.Chmod(slapd.CAFile, 0o644)

	clish := func(line string, answers map[string]string) string {
		t.Helper()
		in := ""
		if answers != nil {
			b, _ := json.Marshal(answers)
			in = string(b)
		}
		return mustClish(t, tb, "1_1", in, line)
	}
	// Provider secrets live in the sealed store (DESIGN §9).
	if out, code := clishOn(t, tb, "1_1", "", "show security status"); code == 2 {
		t.Skipf("needs the sealed secret store (security commands), not in this build: %s", strings.TrimSpace(out))
	}
	clish("security init", map[string]string{"clusterPassphrase": cluster})
	rs := map[string]string{"secret": radSecret}
	clish(fmt.Sprintf("add aaa provider rad1 type radius host %s port %d timeout 1 prompt-secret", host, rad1.Addr.Port()), rs)
	clish(fmt.Sprintf("add aaa provider rad2 type radius host %s port %d protocol chap timeout 1 prompt-secret", host, rad2.Addr.Port()), rs)
	clish("add aaa login-domain RAD realm radius", nil)
	clish("add aaa login-domain RAD provider rad1 priority 1", nil)
	clish("add aaa login-domain RAD provider rad2 priority 2", nil)
	_, tacPort, _ := strings.Cut(tac.Addr, ":")
	clish(fmt.Sprintf("add aaa provider tac1 type tacacs host %s port %s prompt-secret", host, tacPort), map[string]string{"secret": tacSecret})
	clish("add aaa login-domain TAC realm tacacs", nil)
	clish("add aaa login-domain TAC provider tac1 priority 1", nil)
	ldapLine := func(name string, addr netip.Addr, validation string) string {
		return fmt.Sprintf("add aaa provider %s type ldap host %s port %d base-dn %s bind-dn %s ssl ldaps validation %s ca-file %s authorization group-map prompt-secret",
			name, addr, slapd.LDAPSPort, slapdtest.Suffix, slapdtest.RootDN, validation, slapd.CAFile)
	}
	ls := map[string]string{"secret": slapdtest.RootPW}
	for _, p := range []struct {
		name, dom  string
		addr       netip.Addr
		validation string
	}{
		{"ldapok", "LDAP", host, "restrictive"},
		{"ldapbad", "LDAPBAD", other, "restrictive"},
		{"ldapperm", "LDAPPERM", other, "permissive"},
	} {
		clish(ldapLine(p.name, p.addr, p.validation), ls)
		clish("add aaa provider "+p.name+" group-map cn=orchadmins,"+slapdtest.GroupsDN+" roles adminRole", nil)
		clish("add aaa login-domain "+p.dom+" realm ldap", nil)
		clish("add aaa login-domain "+p.dom+" provider "+p.name+" priority 1", nil)
	}
	for _, show := range []string{"show aaa providers", "show configuration"} {
		out := clish(show, nil)
		for _, s := range []string{radSecret, tacSecret, slapdtest.RootPW} {
			if strings.Contains(out, s) {
				t.Fatalf("%s shows a secret:\n%s", show, out)
			}
		}
	}

	auditLog := filepath.Join(tb.Nodes[0].Root, "var", "log", "clishd", "audit.jsonl")
	lastLogin := func() map[string]string {
		t.Helper()
		b, _ := os.ReadFile(auditLog)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			var r map[string]any
			json.Unmarshal([]byte(lines[i]), &r)
			if r["type"] == "login" && r["result"] != "ok" {
				out := map[string]string{}
				for k, v := range r {
					out[k] = fmt.Sprint(v)
				}
				return out
			}
		}
		return nil
	}

	t.Run("radius user with adminRole changes config", func(t *testing.T) {
		out, code := sshRun(t, node, `RAD\radadmin`, "Rad-pw-1", "add user fromradius role monitorRole")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if l := lastLogin(); l["provider"] != "rad1" || l["result"] != "authenticated" {
			t.Fatalf("last login %v; want rad1 authenticated", l)
		}
		if users := clish("show users", nil); !strings.Contains(users, "fromradius") {
			t.Fatalf("the change did not happen:\n%s", users)
		}
	})
	t.Run("tacacs user with a read-only role is refused a change", func(t *testing.T) {
		out, code := sshRun(t, node, "tacmon@TAC", "Tac-pw-1", "add user fromtacacs role monitorRole")
		if code == 0 || !strings.Contains(out, "read-only") {
			t.Fatalf("change by a monitorRole TACACS+ user: exit %d\n%s", code, out)
		}
		if out, code := sshRun(t, node, "tacmon@TAC", "Tac-pw-1", "show aaa login-domains"); code != 0 || !strings.Contains(out, "TAC") {
			t.Fatalf("show by the TACACS+ user: exit %d\n%s", code, out)
		}
		if _, code := sshRun(t, node, "tacmon@TAC", "wrong", "show users"); code == 0 {
			t.Fatal("wrong TACACS+ password accepted")
		}
	})
	t.Run("ldap group member over ldaps, restrictive and permissive", func(t *testing.T) {
		if out, code := sshRun(t, node, `LDAP\ldapadmin`, "Ldap-pw-1", "show users"); code != 0 {
			t.Fatalf("restrictive, matching certificate: exit %d\n%s", code, out)
		}
		if out, code := sshRun(t, node, `LDAPBAD\ldapadmin`, "Ldap-pw-1", "show users"); code == 0 {
			t.Fatalf("restrictive accepted a certificate that does not name %s:\n%s", other, out)
		}
		if l := lastLogin(); !strings.Contains(l["reason"], "certificate") {
			t.Fatalf("refusal reason %q; want the certificate named", l["reason"])
		}
		if out, code := sshRun(t, node, `LDAPPERM\ldapadmin`, "Ldap-pw-1", "show users"); code != 0 {
			t.Fatalf("permissive refused the same certificate: exit %d\n%s", code, out)
		}
	})
	t.Run("a reject from the first radius server is final", func(t *testing.T) {
		// radonly2 exists on rad2 only: rad1's Access-Reject ends the login.
		if out, code := sshRun(t, node, `RAD\radonly2`, "Rad-pw-2", "show users"); code == 0 {
			t.Fatalf("rad2 was asked after rad1 rejected:\n%s", out)
		}
		if l := lastLogin(); l["provider"] != "rad1" || !strings.Contains(l["reason"], "Access-Reject") {
			t.Fatalf("last login %v; want rad1's Access-Reject", l)
		}
	})
	t.Run("failover when the first radius server stops", func(t *testing.T) {
		if err := rad1.Pause(); err != nil { // SIGSTOP by PID: requests time out
			t.Fatal(err)
		}
		defer rad1.Resume()
		start := time.Now()
		out, code := sshRun(t, node, "radadmin@RAD", "Rad-pw-1", "show config-state")
		first := time.Since(start)
		if code != 0 {
			t.Fatalf("failover login: exit %d\n%s", code, out)
		}
		if l := lastLogin(); l["provider"] != "rad2" {
			t.Fatalf("last login %v; want rad2", l)
		}
		if first < time.Second {
			t.Errorf("first login after the stop took %v: it should have waited rad1's 1 s timeout", first)
		}
		start = time.Now()
		if out, code := sshRun(t, node, "radadmin@RAD", "Rad-pw-1", "show config-state"); code != 0 {
			t.Fatalf("second login: exit %d\n%s", code, out)
		}
		if next := time.Since(start); next > first-500*time.Millisecond {
			t.Errorf("second login took %v (first %v): it waited for the dead rad1", next, first)
		}
		out = clish("show aaa login-domains", nil)
		if !strings.Contains(out, "1:rad1(dead)") {
			t.Errorf("rad1 not shown dead:\n%s", out)
		}
		out = mustClish(t, tb, "1_1", `{"password": "Rad-pw-1"}`, "test aaa login-domain RAD user radadmin")
		for _, want := range []string{"answered by: rad2", "role string: cisco-av-pair=shell:msc-roles=adminRole", "roles granted: adminRole", "rad1: not asked: in its dead time"} {
			if !strings.Contains(out, want) {
				t.Errorf("test aaa login-domain: want %q in\n%s", want, out)
			}
		}
	})
	t.Run("sealed store refuses external logins, local still works", func(t *testing.T) {
		clish("security seal", nil)
		defer clish("security unseal", map[string]string{"clusterPassphrase": cluster})
		// LogLevel=INFO: OpenSSH prints the server's banner (the refusal's
		// reason) only from that level.
		cmd := exec.Command("sshpass", "-e", "ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "LogLevel=INFO", "-o", "PubkeyAuthentication=no", "-o", "ConnectTimeout=5", `RAD\radadmin@`+node, "show users")
		cmd.Env = append(os.Environ(), "SSHPASS=Rad-pw-1")
		b, err := cmd.CombinedOutput()
		out, code := string(b), 0
		if err != nil {
			code = 1
		}
		if code == 0 || !strings.Contains(out, "the secret store is sealed: run security unseal") {
			t.Fatalf("external login while sealed: exit %d\n%s", code, out)
		}
		if out, code := sshRun(t, node, "admin", adminPW, "show config-state"); code != 0 {
			t.Fatalf("local login while sealed: exit %d\n%s", code, out)
		}
	})
}
