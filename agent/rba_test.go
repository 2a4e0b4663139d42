package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/rba"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/paths"
	"github.com/orchd/orchd/shell"
	"github.com/sirupsen/logrus"
)

// testAgent is an agent with a configuration and an audit log, no network.
func testAgent(t *testing.T) *Agent {
	t.Helper()
	layout := paths.Layout{Root: t.TempDir()}
	os.MkdirAll(layout.LibDir(), 0o700)
	os.MkdirAll(layout.LogDir(), 0o700)
	h, err := aaa.HashWithParams("Adm1n-pass", aaa.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	doc := configdb.Doc{Users: []aaa.User{{Name: "admin", Roles: []string{aaa.AdminRole}, PasswordHash: h}}}
	if err := configdb.Create(layout.SavedConfig(), doc, false); err != nil {
		t.Fatal(err)
	}
	db, _, err := configdb.Open(layout.SavedConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(&bytes.Buffer{})
	al, err := audit.Open(layout.AuditLog())
	if err != nil {
		t.Fatal(err)
	}
	return &Agent{opts: Options{Layout: layout}, db: db, log: log, audit: al, dirty: make(chan struct{}, 1)}
}

// TestEveryCommandNamesItsFeature: every command of the tree but the
// shell's own words names a known feature (DESIGN §8.1).
func TestEveryCommandNamesItsFeature(t *testing.T) {
	a := testAgent(t)
	e := a.newEngine(&adminSession{user: "admin"})
	own := map[string]bool{"help": true, "show commands": true, "exit": true, "quit": true}
	for _, c := range e.Commands() {
		switch {
		case own[c.Syntax]:
			if c.Feature != "" {
				t.Errorf("%q: feature %q on a shell word", c.Syntax, c.Feature)
			}
		case !aaa.IsFeature(c.Feature):
			t.Errorf("%q: feature %q is not one of %v", c.Syntax, c.Feature, aaa.Features())
		}
	}
}

func TestAuthorize(t *testing.T) {
	a := testAgent(t)
	view, _ := rba.NewRole("authView", "System", "users", "maestro-auth")
	audr, _ := rba.NewRole("auditor", "System", "", "audit")
	if err := a.db.Update(func(d *configdb.Doc) error {
		d.AddRole(view)
		d.AddRole(audr)
		d.AddUser("mon", aaa.MonitorRole)
		d.AddUser("cu", "authView")
		d.AddUser("two", "authView", "auditor")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cmd := func(f string, w bool) *shell.Command { return &shell.Command{Feature: f, Write: w} }
	for _, tc := range []struct {
		user string
		cmd  *shell.Command
		want string // "" = allowed
	}{
		{"admin", cmd(aaa.FeatureExpert, true), ""},
		{"mon", cmd(aaa.FeatureUsers, false), ""},
		{"mon", cmd(aaa.FeatureUsers, true), "needs feature users read-write; user mon has roles monitorRole (users: read-only)"},
		{"mon", cmd(aaa.FeatureExpert, false), "needs feature expert; user mon has roles monitorRole, which do not include it"},
		{"cu", cmd(aaa.FeatureUsers, true), ""},
		{"cu", cmd(aaa.FeatureMaestroAuth, false), ""},
		{"cu", cmd(aaa.FeatureMaestroAuth, true), "needs feature maestro-auth read-write; user cu has roles authView (maestro-auth: read-only)"},
		{"cu", cmd(aaa.FeatureAudit, false), "needs feature audit; user cu has roles authView, which do not include it"},
		{"cu", cmd(aaa.FeatureConfig, true), "needs feature config read-write; user cu has roles authView (config: no access)"},
		{"two", cmd(aaa.FeatureAudit, false), ""},
		{"two", cmd(aaa.FeatureAudit, true), "needs feature audit read-write; user two has roles authView,auditor (audit: read-only)"},
		{"cu", cmd("", true), ""},
		{"ghost", cmd(aaa.FeatureUsers, false), "user ghost no longer exists"},
	} {
		err := a.authorize(&adminSession{user: tc.user}, tc.cmd)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
			t.Errorf("%s %+v: %v, want %q", tc.user, *tc.cmd, err, tc.want)
		}
	}
	// Refused changes are audited, with the command's syntax.
	if lines, _ := audit.Tail(a.audit.Path(), 50); !strings.Contains(strings.Join(lines, "\n"), `"result":"refused"`) {
		t.Errorf("no refused change in the audit log: %q", lines)
	}
	// Roles are read at each command: demoting and deactivating apply at once.
	s := &adminSession{user: "cu"}
	a.db.Update(func(d *configdb.Doc) error { return d.SetRoles("cu", aaa.MonitorRole) })
	if err := a.authorize(s, cmd(aaa.FeatureUsers, true)); err == nil || !strings.Contains(err.Error(), "roles monitorRole") {
		t.Errorf("after demotion: %v", err)
	}
	a.db.Update(func(d *configdb.Doc) error { return d.SetState("cu", aaa.StateInactive) })
	if err := a.authorize(s, cmd(aaa.FeatureUsers, false)); err == nil || err.Error() != "user cu is inactive" {
		t.Errorf("inactive: %v", err)
	}
}

// TestEndUserSessions: making a user inactive ends its open sessions.
func TestEndUserSessions(t *testing.T) {
	a := testAgent(t)
	var out bytes.Buffer
	ended, endA := context.WithCancel(context.Background())
	other, endB := context.WithCancel(context.Background())
	defer endB()
	a.sessions.add(1, liveSession{user: "bob", end: endA, notify: func(m string) { out.WriteString(m) }})
	a.sessions.add(2, liveSession{user: "carol", end: endB})
	if n := a.sessions.endUser("bob", "user bob was made inactive by admin"); n != 1 || ended.Err() == nil || other.Err() != nil {
		t.Fatalf("ended %d; bob %v carol %v", n, ended.Err(), other.Err())
	}
	if !strings.Contains(out.String(), "session ended: user bob was made inactive by admin") {
		t.Errorf("told %q", out.String())
	}
}

// TestSweep: the sweep deletes inactive users (never the last adminRole
// user), writes the deletion through to the saved file and audits it.
func TestSweepOnce(t *testing.T) {
	a := testAgent(t)
	if err := a.db.UpdateThrough(func(d *configdb.Doc) error {
		d.AddUser("mon", aaa.MonitorRole)
		d.SetPasswordControl("enforce-password-criteria", "on")
		return d.SetPasswordControl("inactive-user-deletion", "30")
	}); err != nil {
		t.Fatal(err)
	}
	a.sweepOnce(time.Now().Add(29 * 24 * time.Hour))
	if len(a.db.Running().Users) != 2 {
		t.Fatalf("deleted before 30 days: %v", a.db.Running().Users)
	}
	a.sweepOnce(time.Now().Add(31 * 24 * time.Hour))
	users := a.db.Running().Users
	if len(users) != 1 || users[0].Name != "admin" {
		t.Fatalf("after the sweep: %v", users)
	}
	if a.db.State() != configdb.StateSaved {
		t.Error("the deletion was not written through")
	}
	lines, err := audit.Tail(a.audit.Path(), 5)
	if err != nil || len(lines) != 1 || !strings.Contains(lines[0], `"sweep"`) || !strings.Contains(lines[0], `"mon"`) || !strings.Contains(lines[0], "inactive for 31 days") {
		t.Errorf("audit: %v %q", err, lines)
	}
	if _, err := os.Stat(filepath.Join(a.opts.Layout.LibDir(), "config.json")); err != nil {
		t.Error(err)
	}
}
