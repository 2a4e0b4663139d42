package configdb

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa"
)

func adminDoc(t testing.TB) Doc {
	return Doc{Users: []aaa.User{{Name: "admin", Roles: []string{aaa.AdminRole}, PasswordHash: fastHash(t, "pw")}}}
}

func open(t *testing.T, path string) (*DB, []string) {
	t.Helper()
	db, warnings, err := Open(path, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	return db, warnings
}

func TestOpenNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	db, w := open(t, path)
	if len(w) != 1 || !strings.HasPrefix(w[0], "no saved configuration at "+path) {
		t.Errorf("warnings %q", w)
	}
	if got := db.Running(); len(got.Users) != 0 || got.Schema != SchemaVersion {
		t.Errorf("running %v", got)
	}
	if db.State() != StateSaved {
		t.Errorf("state %s", db.State())
	}
}

func TestCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lib", "config.json")
	if err := Create(path, Doc{Users: []aaa.User{{Name: "x", Roles: []string{aaa.MonitorRole}}}}, false); err == nil {
		t.Error("created a configuration without an admin")
	}
	if err := Create(path, adminDoc(t), false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v, %v", fi, err)
	}
	if err := Create(path, adminDoc(t), false); !errors.Is(err, ErrExists) {
		t.Errorf("second Create = %v, want ErrExists", err)
	}
	d2 := adminDoc(t)
	d2.Users = append(d2.Users, aaa.User{Name: "mon", Roles: []string{aaa.MonitorRole}})
	if err := Create(path, d2, true); err != nil {
		t.Fatal(err)
	}
	db, w := open(t, path)
	if len(w) != 0 || len(db.Running().Users) != 2 || db.State() != StateSaved {
		t.Errorf("after forced Create: warnings %q, running %v, state %s", w, db.Running(), db.State())
	}
	if prev, err := loadFile(path + PrevSuffix); err != nil || len(prev.Users) != 1 {
		t.Errorf("previous copy %v, %v", prev, err)
	}
}

func TestUpdateSaveState(t *testing.T) {
	// A re-added user is equal to the deleted one only with the same
	// creation time.
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now = func() time.Time { return fixed }
	defer func() { now = func() time.Time { return time.Now().UTC().Truncate(time.Second) } }()
	path := filepath.Join(t.TempDir(), "config.json")
	if err := Create(path, adminDoc(t), false); err != nil {
		t.Fatal(err)
	}
	db, _ := open(t, path)
	state := func(want string) {
		t.Helper()
		if got := db.State(); got != want {
			t.Errorf("state %s, want %s", got, want)
		}
	}
	state(StateSaved)

	if err := db.Update(func(d *Doc) error { return d.AddUser("alice", aaa.MonitorRole) }); err != nil {
		t.Fatal(err)
	}
	state(StateUnsaved)
	if _, ok := db.LookupUser("alice"); !ok {
		t.Error("running change not visible to LookupUser")
	}

	// A failing fn or a failing validation changes nothing.
	before := db.Running()
	if err := db.Update(func(d *Doc) error {
		d.AddUser("bob", aaa.MonitorRole)
		return errors.New("boom")
	}); err == nil || err.Error() != "boom" {
		t.Errorf("fn error: %v", err)
	}
	if err := db.Update(func(d *Doc) error {
		d.Users = append(d.Users, aaa.User{Name: "alice", Roles: []string{aaa.AdminRole}})
		return nil
	}); err == nil || !strings.Contains(err.Error(), `user "alice" appears twice`) {
		t.Errorf("validation error: %v", err)
	}
	if got := db.Running(); fmt.Sprint(got.Users) != fmt.Sprint(before.Users) {
		t.Errorf("failed updates changed %v to %v", before.Users, got.Users)
	}

	// Running returns a deep copy.
	r := db.Running()
	r.Users[0].Roles[0] = "mutated"
	if u, _ := db.LookupUser(r.Users[0].Name); u.Roles[0] == "mutated" {
		t.Error("Running shares memory with the DB")
	}

	if err := db.Save(); err != nil {
		t.Fatal(err)
	}
	state(StateSaved)
	if err := db.Update(func(d *Doc) error { return d.DeleteUser("alice") }); err != nil {
		t.Fatal(err)
	}
	state(StateUnsaved)
	// Reverting by hand makes the running configuration equal the saved one.
	if err := db.Update(func(d *Doc) error { return d.AddUser("alice", aaa.MonitorRole) }); err != nil {
		t.Fatal(err)
	}
	state(StateSaved)
	if err := db.Update(func(d *Doc) error { return d.AddUser("unsaved", aaa.MonitorRole) }); err != nil {
		t.Fatal(err)
	}

	// Reopen: the saved change survives, the unsaved one does not.
	db2, w := open(t, path)
	if len(w) != 0 || db2.State() != StateSaved {
		t.Errorf("reopen: warnings %q, state %s", w, db2.State())
	}
	if _, ok := db2.LookupUser("alice"); !ok {
		t.Error("saved user alice lost on reopen")
	}
	if _, ok := db2.LookupUser("unsaved"); ok {
		t.Error("unsaved user survived reopen")
	}
	// .prev holds the configuration before the last save.
	prev, err := loadFile(path + PrevSuffix)
	if _, ok := prev.User("alice"); err != nil || ok || len(prev.Users) != 1 {
		t.Errorf("previous copy %v, %v", prev, err)
	}
	// Saving an unchanged configuration keeps .prev.
	if err := db2.Save(); err != nil {
		t.Fatal(err)
	}
	if prev2, _ := loadFile(path + PrevSuffix); len(prev2.Users) != 1 {
		t.Errorf("saving an unchanged configuration replaced the previous copy: %v", prev2)
	}
}

// savedTwice leaves path holding admin+alice and .prev holding admin only.
func savedTwice(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := Create(path, adminDoc(t), false); err != nil {
		t.Fatal(err)
	}
	db, _ := open(t, path)
	if err := db.Update(func(d *Doc) error { return d.AddUser("alice", aaa.MonitorRole) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Save(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCorruptSavedUsesPrev(t *testing.T) {
	for name, corrupt := range map[string]string{
		"truncated":     `{"schema": 1, "users": [{"name": "adm`,
		"newer schema":  `{"schema": 9, "users": []}`,
		"no admin":      `{"schema": 1, "users": [{"name": "alice", "role": "monitorRole"}]}`,
		"empty file":    ``,
		"missing saved": "-",
	} {
		t.Run(name, func(t *testing.T) {
			path := savedTwice(t)
			if corrupt == "-" {
				os.Remove(path)
			} else if err := os.WriteFile(path, []byte(corrupt), 0o600); err != nil {
				t.Fatal(err)
			}
			db, w := open(t, path)
			what := "is corrupt ("
			if corrupt == "-" {
				what = "is missing"
			}
			if len(w) != 1 || !strings.HasPrefix(w[0], "saved configuration "+path+" "+what) ||
				!strings.Contains(w[0], "using the previous copy "+path+".prev saved at ") {
				t.Fatalf("warnings %q", w)
			}
			if _, ok := db.LookupUser("alice"); ok || len(db.Running().Users) != 1 {
				t.Errorf("running %v: want the previous copy", db.Running())
			}
			if db.State() != StateUnsaved {
				t.Errorf("state %s, want unsaved (the saved file is bad)", db.State())
			}
			// Saving repairs the file, keeps the good .prev and keeps the bad file aside.
			if err := db.Save(); err != nil {
				t.Fatal(err)
			}
			if _, w := open(t, path); len(w) != 0 {
				t.Errorf("after save: warnings %q", w)
			}
			if prev, err := loadFile(path + PrevSuffix); err != nil || len(prev.Users) != 1 {
				t.Errorf("previous copy %v, %v", prev, err)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if corrupt != "-" && len(aside) != 1 {
				t.Errorf("corrupt copies kept: %q", aside)
			}
		})
	}
}

func TestBothCorrupt(t *testing.T) {
	for name, tc := range map[string]struct{ saved, prev string }{
		"both corrupt":           {"{", "{"},
		"saved corrupt no prev":  {"{", "-"},
		"saved missing prev bad": {"-", `{"schema": 1, "users": [{"name": "X", "role": "adminRole"}]}`},
	} {
		t.Run(name, func(t *testing.T) {
			path := savedTwice(t)
			for p, s := range map[string]string{path: tc.saved, path + PrevSuffix: tc.prev} {
				if s == "-" {
					os.Remove(p)
				} else {
					os.WriteFile(p, []byte(s), 0o600)
				}
			}
			db, w, err := Open(path, t.Logf)
			if err == nil || db != nil || w != nil {
				t.Fatalf("Open = %v, %q, %v: want an error", db, w, err)
			}
			if !strings.Contains(err.Error(), "refusing to start with an empty configuration") {
				t.Errorf("error %v", err)
			}
		})
	}
}

// TestStrayTempFile: a crash inside atomicfile.WriteFile leaves a temporary
// file next to the saved one; the saved file is still the old, whole one.
func TestStrayTempFile(t *testing.T) {
	path := savedTwice(t)
	stray := filepath.Join(filepath.Dir(path), ".config.json.tmp-12345")
	if err := os.WriteFile(stray, []byte(`{"schema": 1, "users": [{"na`), 0o600); err != nil {
		t.Fatal(err)
	}
	db, w := open(t, path)
	if _, ok := db.LookupUser("alice"); len(w) != 0 || !ok {
		t.Errorf("warnings %q, alice %v", w, ok)
	}
	// Crash between the .prev copy and the new write: both files equal.
	b, _ := os.ReadFile(path)
	os.WriteFile(path+PrevSuffix, b, 0o600)
	if _, w := open(t, path); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
}

// TestKillDuringSave kills a process that saves in a loop at random
// moments; the saved configuration must always open without a warning.
func TestKillDuringSave(t *testing.T) {
	if os.Getenv("CONFIGDB_SAVE_LOOP") != "" {
		saveLoop(os.Getenv("CONFIGDB_SAVE_LOOP"))
		return
	}
	if testing.Short() {
		t.Skip("short")
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := Create(path, adminDoc(t), false); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	changed := false
	for i := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringSave$")
		cmd.Env = append(os.Environ(), "CONFIGDB_SAVE_LOOP="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it mid-loop, not before its first save: on a loaded
		// machine starting the child alone can take longer than any
		// fixed sleep (the test once saw no save at all).
		started := make(chan bool, 1)
		go func() {
			line, _ := bufio.NewReader(out).ReadString('\n')
			started <- line == saveLoopStarted+"\n"
		}()
		select {
		case ok := <-started:
			if !ok {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("kill %d: the save loop did not start", i)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: the save loop did not save within 30 s", i)
		}
		time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		db, w, err := Open(path, t.Logf)
		if err != nil || len(w) != 0 {
			t.Fatalf("kill %d: Open = %v, warnings %q", i, err, w)
		}
		if _, ok := db.LookupUser("admin"); !ok {
			t.Fatalf("kill %d: admin lost", i)
		}
		b, _ := os.ReadFile(path)
		changed = changed || string(b) != string(first)
	}
	if !changed {
		t.Error("the save loop never saved: the test proved nothing")
	}
}

func saveLoop(path string) {
	db, _, err := Open(path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("u%d", i%7)
		db.Update(func(d *Doc) error {
			if _, ok := d.User(name); ok {
				return d.DeleteUser(name)
			}
			return d.AddUser(name, aaa.MonitorRole)
		})
		if err := db.Save(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if i == 0 {
			fmt.Println(saveLoopStarted)
		}
	}
}

// saveLoopStarted is what saveLoop prints after its first save.
const saveLoopStarted = "saved once"

func TestConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := Create(path, adminDoc(t), false); err != nil {
		t.Fatal(err)
	}
	db, _ := open(t, path)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				name := fmt.Sprintf("g%d_%d", g, i)
				if err := db.Update(func(d *Doc) error { return d.AddUser(name, aaa.MonitorRole) }); err != nil {
					t.Error(err)
				}
				db.LookupUser("admin")
				db.State()
				db.ShowConfiguration()
				if i%5 == 0 {
					if err := db.Save(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := db.Save(); err != nil {
		t.Fatal(err)
	}
	db2, _ := open(t, path)
	if n := len(db2.Running().Users); n != 81 || db.State() != StateSaved {
		t.Errorf("%d users after reopen, state %s", n, db.State())
	}
}

func TestShowConfiguration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	db, _ := open(t, path)
	h := fastHash(t, "pw")
	err := db.Update(func(d *Doc) error {
		return errors.Join(d.AddUser("admin", aaa.AdminRole), d.SetPassword("admin", h),
			d.AddUser("alice", aaa.MonitorRole), d.SetExpertPassword(h))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "add user admin role adminRole\nset user admin password-hash <set, not shown>\nadd user alice role monitorRole\nset expert-password-hash <set, not shown>"
	if got := strings.Join(db.ShowConfiguration(), "\n"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAuthenticateAgainstDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	db, _ := open(t, path)
	if err := db.Update(func(d *Doc) error {
		return errors.Join(d.AddUser("admin", aaa.AdminRole), d.SetPassword("admin", fastHash(t, "pw")))
	}); err != nil {
		t.Fatal(err)
	}
	a := &aaa.Authenticator{Dir: db}
	p, err := a.Authenticate(t.Context(), "admin", "pw", netipZero)
	if err != nil || p.Role.Name != aaa.AdminRole {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
}
