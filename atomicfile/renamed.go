package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// RenamedError is a WriteFile failure after the rename: the file already
// holds the new content, only its durability is in doubt. A caller that
// keeps the content in memory too must then keep the new content, not roll
// back to the old one: memory follows the disk.
type RenamedError struct {
	Path string
	Err  error
}

func (e *RenamedError) Error() string {
	return fmt.Sprintf("%s was replaced but may not survive a crash: %v", e.Path, e.Err)
}

func (e *RenamedError) Unwrap() error { return e.Err }

// Renamed reports whether err came after the new content was renamed into
// place (see RenamedError).
func Renamed(err error) bool {
	var re *RenamedError
	return errors.As(err, &re)
}

// FailDirSyncForTest makes the directory fsync after every rename fail with
// err until the returned function is called. Only for tests (of this and
// other packages) that check what callers do after such a failure.
func FailDirSyncForTest(err error) (restore func()) {
	old := syncDir
	syncDir = func(string) error { return err }
	return func() { syncDir = old }
}

// tempName matches the temporary files WriteFile and WriteFileVolatile
// create: "." + base + ".tmp-" + CreateTemp's random digits.
var tempName = regexp.MustCompile(`^\..+\.tmp-[0-9]+$`)

// SweepTemps removes the temporary files a crash left behind in the
// directories under each root (recursively), and returns their paths. Call
// it only while no writer can be running (at daemon start, once the daemon
// knows it is the only one), or it removes a write in progress. Missing
// roots are skipped.
func SweepTemps(roots ...string) ([]string, error) {
	var removed []string
	var errs []error
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return nil
				}
				errs = append(errs, err)
				return nil
			}
			if d.Type().IsRegular() && tempName.MatchString(d.Name()) {
				if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, fmt.Errorf("removing stale temporary file: %w", err))
					return nil
				}
				removed = append(removed, p)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}
