// Package atomicfile owns the one way orchd writes a file that matters: a
// temporary file in the same directory, fsynced, renamed over the target and
// the directory fsynced, so a crash at any moment leaves either the old or the
// new content, never a torn file.
package atomicfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile atomically replaces path with data, created with perm. The parent
// directory is created (0755) when missing. When the file already holds
// exactly data with perm, nothing is written.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() == perm {
			return nil
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("setting mode of %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmp, path, err)
	}
	ok = true
	if err := syncDir(dir); err != nil {
		// The new content is in place (readers see it) but may not
		// survive a crash: the caller must not act as if the old one were.
		return &RenamedError{Path: path, Err: err}
	}
	return nil
}

// WriteFileVolatile replaces path atomically but skips the fsyncs: for files
// under run/ that are rewritten often and need no crash durability, only
// that readers never see a torn file.
func WriteFileVolatile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	if err := f.Chmod(perm); err == nil {
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err == nil {
			return nil
		}
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	} else {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("setting mode of %s: %w", tmp, err)
	}
}

// syncDir is a variable so tests can make it fail (FailDirSyncForTest).
var syncDir = syncDirectory

func syncDirectory(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
