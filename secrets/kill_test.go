package secrets

import (
	"bufio"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The child side of TestKillDuringChangePassphrase: flips the passphrase
// between A and B for ever, printing "ready" once it started.
func TestMain(m *testing.M) {
	if path := os.Getenv("SECRETS_CHANGEPWD_CHILD"); path != "" {
		s, err := Open(path, WithKDF(cheap))
		if err != nil {
			os.Exit(3)
		}
		cur, next := pass1, pass2
		if s.CheckPassphrase(pass1) != nil {
			cur, next = pass2, pass1
		}
		os.Stdout.WriteString("ready\n")
		for {
			if err := s.ChangePassphrase(cur, next); err != nil {
				os.Stderr.WriteString(err.Error() + "\n")
				os.Exit(4)
			}
			cur, next = next, cur
		}
	}
	os.Exit(m.Run())
}

// killRuns is how many times the child is killed: 30 in make test (each
// run is a process start, ~80 ms on a loaded machine); SECRETS_KILL_RUNS
// overrides it (make bench runs 100).
func killRuns() int {
	if n, err := strconv.Atoi(os.Getenv("SECRETS_KILL_RUNS")); err == nil && n > 0 {
		return n
	}
	return 30
}

// TestKillDuringChangePassphrase kills a process that changes the
// passphrase in a loop at random moments (mid-derivation, mid-write,
// mid-rename): the store must always open with the old or the new
// passphrase, with its secrets intact, and no temporary file may be taken
// for the store.
func TestKillDuringChangePassphrase(t *testing.T) {
	s, path := newStore(t)
	if err := s.Init(pass1); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("aaa/provider/rad1", "provider:rad1", []byte("radius-secret")); err != nil {
		t.Fatal(err)
	}
	runs := killRuns()
	seen := map[string]int{}
	for i := 0; i < runs; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SECRETS_CHANGEPWD_CHILD="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if l, err := bufio.NewReader(out).ReadString('\n'); err != nil || l != "ready\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("run %d: child did not start: %q %v", i, l, err)
		}
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		cmd.Process.Kill()
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != -1 {
			t.Fatalf("run %d: child ended by itself: %v", i, err)
		}
		r := reopen(t, path)
		if p := r.Problem(); p != nil {
			t.Fatalf("run %d: store damaged after kill -9: %v", i, p)
		}
		which := "old"
		if err := r.Unseal(pass1); err != nil {
			if err2 := r.Unseal(pass2); err2 != nil {
				t.Fatalf("run %d: neither passphrase opens the store: %v / %v", i, err, err2)
			}
			which = "new"
		}
		seen[which]++
		if v, err := r.Get("aaa/provider/rad1"); err != nil || string(v) != "radius-secret" {
			t.Fatalf("run %d: secret after kill -9: %q %v", i, v, err)
		}
	}
	// Leftover temporary files are harmless (atomicfile names them
	// .secrets.store.tmp-*), but there must be no other file.
	ents, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range ents {
		if e.Name() != filepath.Base(path) && !matchTmp(e.Name()) {
			t.Errorf("unexpected file %s", e.Name())
		}
	}
	t.Logf("%d kills: store opened with pass1 %d times, pass2 %d times", runs, seen["old"], seen["new"])
}

func matchTmp(name string) bool {
	ok, _ := filepath.Match(".secrets.store.tmp-*", name)
	return ok
}
