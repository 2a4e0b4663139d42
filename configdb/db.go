package configdb

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/atomicfile"
)

// Values of DB.State, as `show config-state` prints them.
const (
	StateSaved   = "saved"   // the running configuration is the saved one
	StateUnsaved = "unsaved" // it has changes that `save config` would write
)

// PrevSuffix is appended to the saved file's path to name the previous
// saved copy.
const PrevSuffix = ".prev"

// fileMode is the saved files' mode: they hold password hashes.
const fileMode = 0o600

// timeFormat is how warnings print when a file was saved.
const timeFormat = "2006-01-02 15:04:05 MST"

// ErrExists is returned by Create when a saved configuration exists.
var ErrExists = errors.New("saved configuration already exists")

// DB holds the running configuration and knows the saved one. It is safe
// for concurrent use.
type DB struct {
	path string
	logf func(string, ...any)

	saveMu sync.Mutex // serialises Save; held without mu during file I/O

	mu           sync.RWMutex
	running      Doc
	runningBytes []byte // encode(running)
	savedBytes   []byte // what the saved file holds; nil when it holds nothing usable
}

// Open loads the saved configuration at path (var/lib/clishd/config.json)
// as the running configuration.
//
// When the saved file is corrupt (bad JSON, unknown schema, failed
// validation) or missing while path+".prev" exists, it uses that previous
// copy and says so in a warning; the state is then "unsaved", and the next
// Save moves the corrupt file aside and writes a good one. When the saved
// file is corrupt and there is no usable previous copy, Open fails: it
// never silently starts from an empty configuration over a file it could
// not read. When neither file exists, it starts empty with a warning.
// Every warning is also passed to logf (which may be nil).
func Open(path string, logf func(string, ...any)) (*DB, []string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	db := &DB{path: path, logf: logf}
	cur, curErr := loadFile(path)
	if curErr == nil {
		db.set(cur, true)
		return db, nil, nil
	}
	prevPath := path + PrevSuffix
	prev, prevErr := loadFile(prevPath)
	curMissing, prevMissing := errors.Is(curErr, fs.ErrNotExist), errors.Is(prevErr, fs.ErrNotExist)
	var warning string
	switch {
	case curMissing && prevMissing:
		db.set(Doc{}, true)
		warning = fmt.Sprintf("no saved configuration at %s: starting with an empty configuration (clishd init creates one)", path)
	case prevErr == nil:
		db.set(prev, false)
		what := fmt.Sprintf("is corrupt (%v)", curErr)
		if curMissing {
			what = "is missing"
		}
		warning = fmt.Sprintf("saved configuration %s %s: using the previous copy %s saved at %s; save config writes a good saved configuration",
			path, what, prevPath, modTime(prevPath))
	case curMissing:
		return nil, nil, fmt.Errorf("saved configuration %s is missing and the previous copy %s is corrupt (%v): refusing to start with an empty configuration; restore a copy, or move %s aside and run clishd init",
			path, prevPath, prevErr, prevPath)
	default:
		prevWhat := "missing"
		if !prevMissing {
			prevWhat = fmt.Sprintf("corrupt (%v)", prevErr)
		}
		return nil, nil, fmt.Errorf("saved configuration %s is corrupt (%v) and the previous copy %s is %s: refusing to start with an empty configuration; repair or restore a copy, or move both aside and run clishd init",
			path, curErr, prevPath, prevWhat)
	}
	logf("%s", warning)
	return db, []string{warning}, nil
}

func loadFile(path string) (Doc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Doc{}, err
	}
	return decode(b)
}

func modTime(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "an unknown time"
	}
	return fi.ModTime().UTC().Format(timeFormat)
}

// set makes d (normalized, valid) the running configuration; saved says
// whether the saved file holds it.
func (db *DB) set(d Doc, saved bool) {
	d.normalize()
	db.running = d
	db.runningBytes = encode(d)
	db.savedBytes = nil
	if saved {
		db.savedBytes = db.runningBytes
	}
}

// Create writes d as the first saved configuration at path, for `clishd
// init`. It refuses when a saved configuration exists unless force is set;
// with force, the existing file becomes the previous copy, as with Save.
func Create(path string, d Doc, force bool) error {
	d = d.clone()
	d.normalize()
	if err := d.Validate(); err != nil {
		return fmt.Errorf("creating configuration %s: %w", path, err)
	}
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%w at %s: use --force to replace it", ErrExists, path)
		}
	}
	return writeSaved(path, encode(d), func(string, ...any) {})
}

// Running returns a deep copy of the running configuration.
func (db *DB) Running() Doc {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.running.clone()
}

// Update applies fn to a copy of the running configuration, validates the
// result and makes it the running configuration. If fn or validation fails,
// nothing changes and the error is returned. fn must not call db's methods.
func (db *DB) Update(fn func(*Doc) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	d := db.running.clone()
	if err := fn(&d); err != nil {
		return err
	}
	d.normalize()
	if err := d.Validate(); err != nil {
		return fmt.Errorf("refusing the change: %w", err)
	}
	db.running = d
	db.runningBytes = encode(d)
	return nil
}

// State returns StateSaved when the running configuration equals the saved
// one, StateUnsaved otherwise.
func (db *DB) State() string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.savedBytes != nil && bytes.Equal(db.runningBytes, db.savedBytes) {
		return StateSaved
	}
	return StateUnsaved
}

// Save writes the running configuration as the saved one: the current
// saved file is first copied (atomically) to path+".prev", then the
// running configuration replaces it (atomicfile.WriteFile, mode 0600). A
// crash at any moment leaves a parseable saved file or a good previous
// copy. Saving an unchanged configuration keeps the previous copy as is.
func (db *DB) Save() error {
	db.saveMu.Lock()
	defer db.saveMu.Unlock()
	db.mu.RLock()
	data := db.runningBytes
	db.mu.RUnlock()
	if err := writeSaved(db.path, data, db.logf); err != nil {
		if atomicfile.Renamed(err) {
			// The file holds data; config-state must not say otherwise.
			db.mu.Lock()
			db.savedBytes = data
			db.mu.Unlock()
		}
		return err
	}
	db.mu.Lock()
	db.savedBytes = data
	db.mu.Unlock()
	return nil
}

// writeSaved rotates the saved file at path to .prev and writes data. A
// corrupt saved file is moved aside instead, keeping the good .prev.
func writeSaved(path string, data []byte, logf func(string, ...any)) error {
	cur, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("saving configuration: reading the current saved copy: %w", err)
	case bytes.Equal(cur, data):
		// Unchanged: keep .prev, which holds the configuration before this one.
	default:
		if _, derr := decode(cur); derr == nil {
			if err := atomicfile.WriteFile(path+PrevSuffix, cur, fileMode); err != nil {
				return fmt.Errorf("saving configuration: keeping the previous copy: %w", err)
			}
			break
		}
		aside := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000000000Z")
		if err := os.Rename(path, aside); err != nil {
			return fmt.Errorf("saving configuration: moving the corrupt %s aside: %w", path, err)
		}
		logf("saved configuration %s was corrupt: moved it to %s, keeping %s%s", path, aside, path, PrevSuffix)
	}
	if err := atomicfile.WriteFile(path, data, fileMode); err != nil {
		return fmt.Errorf("saving configuration: %w", err)
	}
	return nil
}

// ShowConfiguration returns the commands that recreate the running
// configuration (see Doc.Commands); secrets show as "<set, not shown>".
func (db *DB) ShowConfiguration() []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.running.Commands()
}

// LookupUser returns user name from the running configuration; DB is the
// aaa.Directory the authenticator uses.
func (db *DB) LookupUser(name string) (aaa.User, bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.running.User(name)
}

// LookupRole finds a built-in or custom role of the running
// configuration: DB is the aaa.RoleDirectory logins and external providers
// resolve role names with.
func (db *DB) LookupRole(name string) (aaa.Role, bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.running.LookupRole(name)
}

// ResolveUser returns user name of the running configuration and what its
// roles grant, read under one lock (see Doc.ResolveUser).
func (db *DB) ResolveUser(name string) (aaa.User, aaa.Role, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.running.ResolveUser(name)
}

var (
	_ aaa.Directory     = (*DB)(nil)
	_ aaa.RoleDirectory = (*DB)(nil)
)
