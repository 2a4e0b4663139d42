package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/orchd/orchd/aaa/ldap/slapdtest"
	"github.com/orchd/orchd/aaa/radius/freeradiustest"
	"github.com/orchd/orchd/aaa/tacacs/tacacstest"
)

// extauthPhase (DESIGN §8.5): SSH password logins through each external
// provider against a local login, and a login whose first RADIUS server
// is stopped against a direct one, side by side on one 1x1 testbed with
// real servers (FreeRADIUS, slapd, tacquito) on the host's end of the
// management bridge.
func extauthPhase(ctx context.Context, o runOpts, res *Results) error {
	for _, look := range []func() error{freeradiustest.Lookup, slapdtest.Lookup} {
		if err := look(); err != nil {
			return err
		}
	}
	b, err := upBed(ctx, o.binDir, 1, 1)
	if err != nil {
		return err
	}
	defer b.down()
	id := b.ids[0]
	n, _ := b.Node(id)
	node := n.Mgmt.Addr().String() + ":22"
	mgmt := netip.MustParsePrefix(tbMgmtNet)
	host := mgmt.Addr().Next()
	dir := filepath.Join(workDir, "extauth")
	os.RemoveAll(dir)
	defer os.RemoveAll(dir)
	const radSecret, tacSecret, cluster = "bench-rad-Secret", "bench-tac-Secret", "bench-cluster-Pass1"
	users := []freeradiustest.User{{Name: "radadmin", Password: "Rad-pw-1", AVPairs: []string{"shell:msc-roles=adminRole"}}}
	rad1, err := freeradiustest.Start(filepath.Join(dir, "rad1"), host, mgmt, radSecret, users)
	if err != nil {
		return err
	}
	defer rad1.Stop()
	rad2, err := freeradiustest.Start(filepath.Join(dir, "rad2"), host, mgmt, radSecret, users)
	if err != nil {
		return err
	}
	defer rad2.Stop()
	tac, err := tacacstest.Start(host.String()+":0", []byte(tacSecret), map[string]tacacstest.User{
		"tacadmin": {Password: "Tac-pw-1", Args: []string{"shell:msc-roles=adminRole"}},
	})
	if err != nil {
		return err
	}
	defer tac.Close()
	slapd, err := slapdtest.Start(filepath.Join(dir, "slapd"), []netip.Addr{host}, []netip.Addr{host},
		[]slapdtest.User{{CN: "ldapadmin", Password: "Ldap-pw-1", Groups: []string{"orchadmins"}}})
	if err != nil {
		return err
	}
	defer slapd.Stop()
	os.Chmod(filepath.Join(dir, "slapd"), 0o755)
	os.Chmod(slapd.CAFile, 0o644)

	clish := func(line string, answers map[string]string) error {
		argv := []string{"clish", "-c", line}
		in := ""
		if answers != nil {
			bs, _ := json.Marshal(answers)
			argv, in = []string{"clish", "--input-json", "-c", line}, string(bs)
		}
		_, _, err := b.exec(ctx, id, in, argv...)
		return err
	}
	_, tacPort, _ := strings.Cut(tac.Addr, ":")
	for _, c := range []struct {
		line    string
		answers map[string]string
	}{
		{"security init", map[string]string{"clusterPassphrase": cluster}},
		{fmt.Sprintf("add aaa provider rad1 type radius host %s port %d timeout 1 prompt-secret", host, rad1.Addr.Port()), map[string]string{"secret": radSecret}},
		{fmt.Sprintf("add aaa provider rad2 type radius host %s port %d timeout 1 prompt-secret", host, rad2.Addr.Port()), map[string]string{"secret": radSecret}},
		{"add aaa login-domain RAD realm radius", nil},
		{"add aaa login-domain RAD provider rad1 priority 1", nil},
		{"add aaa login-domain RADFO realm radius", nil},
		{"add aaa login-domain RADFO provider rad1 priority 1", nil},
		{"add aaa login-domain RADFO provider rad2 priority 2", nil},
		{fmt.Sprintf("add aaa provider tac1 type tacacs host %s port %s prompt-secret", host, tacPort), map[string]string{"secret": tacSecret}},
		{"add aaa login-domain TAC realm tacacs", nil},
		{"add aaa login-domain TAC provider tac1 priority 1", nil},
		{fmt.Sprintf("add aaa provider ldap1 type ldap host %s port %d base-dn %s bind-dn %s ssl ldaps validation restrictive ca-file %s authorization group-map prompt-secret",
			host, slapd.LDAPSPort, slapdtest.Suffix, slapdtest.RootDN, slapd.CAFile), map[string]string{"secret": slapdtest.RootPW}},
		{"add aaa provider ldap1 group-map cn=orchadmins," + slapdtest.GroupsDN + " roles adminRole", nil},
		{"add aaa login-domain LDAP realm ldap", nil},
		{"add aaa login-domain LDAP provider ldap1 priority 1", nil},
	} {
		if err := clish(c.line, c.answers); err != nil {
			return err
		}
	}

	targets := []sshTarget{
		{"local", node, "admin", adminPW, "show config-state", "saved"},
		{"radius", node, `RAD\radadmin`, "Rad-pw-1", "show config-state", "saved"},
		{"tacacs", node, `TAC\tacadmin`, "Tac-pw-1", "show config-state", "saved"},
		{"ldap", node, `LDAP\ldapadmin`, "Ldap-pw-1", "show config-state", "saved"},
	}
	samples := make([][]float64, len(targets))
	runs := o.trials(15, 5)
	for i := -1; i < runs; i++ {
		for j, t := range targets {
			d, err := t.once(ctx)
			if err != nil {
				return err
			}
			if i >= 0 {
				samples[j] = append(samples[j], ms(d))
			}
		}
	}
	local := dist("ms", samples[0])
	for j, t := range targets[1:] {
		d := dist("ms", samples[j+1])
		res.add(&Item{Key: "extauth-" + t.name, Name: fmt.Sprintf("SSH password login + exec through %s (%s), host → node", strings.ToUpper(t.name), t.user),
			Ours: d.String(), Comparison: "local user: " + local.String(), Ratio: ratio(d.Median, local.Median),
			Target: "—", Verdict: "info", Data: map[string]any{"ms": d, "local_ms": local}})
		logf("extauth %s login: %s (local %s)", t.name, d, local)
	}

	// Failover: rad1 stopped (SIGSTOP: requests time out after 1 s). The
	// first login waits once; then rad1 is in its dead time and tried last.
	direct := sshTarget{"direct", node, `RADFO\radadmin`, "Rad-pw-1", "show config-state", "saved"}
	var dsamp, fsamp []float64
	for i := -1; i < runs; i++ {
		d, err := direct.once(ctx)
		if err != nil {
			return err
		}
		if i >= 0 {
			dsamp = append(dsamp, ms(d))
		}
	}
	if err := rad1.Pause(); err != nil {
		return err
	}
	defer rad1.Resume()
	first, err := direct.once(ctx)
	if err != nil {
		return fmt.Errorf("first failover login: %w", err)
	}
	for i := 0; i < runs; i++ {
		d, err := direct.once(ctx)
		if err != nil {
			return err
		}
		fsamp = append(fsamp, ms(d))
	}
	dd, fd := dist("ms", dsamp), dist("ms", fsamp)
	res.add(&Item{Key: "extauth-failover", Name: "RADIUS login with the first of two servers stopped (SIGSTOP, timeout 1 s), host → node",
		Ours:       fmt.Sprintf("first login after the stop %s (waits the timeout once); then, first server dead for 60 s: %s", fmtMs(ms(first)), fd),
		Comparison: "both servers up (first answers): " + dd.String(),
		Ratio:      ratio(fd.Median, dd.Median) + " (dead-time logins)", Target: "dead-time logins ≈ direct", Verdict: verdict(fd.Median < dd.Median+200),
		Data: map[string]any{"first_ms": ms(first), "failover_ms": fd, "direct_ms": dd}})
	logf("extauth failover: first %s, then %s; direct %s", fmtMs(ms(first)), fd, dd)
	return nil
}
