package healthcheck

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/orchd/orchd/atomicfile"
	"github.com/orchd/orchd/paths"
)

// Report file names in the last/ and previous/ directories.
const (
	ReportJSON = "report.json"
	ReportText = "report.txt"
)

// ErrNoReport means hcp has not saved a report under this root yet.
var ErrNoReport = errors.New("no hcp report")

// Store keeps the last report and the one before it under Dir
// (var/log/hcp): Dir/last/ and Dir/previous/.
type Store struct{ Dir string }

// NewStore is the store of layout l.
func NewStore(l paths.Layout) Store { return Store{Dir: l.HCPDir()} }

// LastDir and PreviousDir hold the report files.
func (s Store) LastDir() string     { return filepath.Join(s.Dir, "last") }
func (s Store) PreviousDir() string { return filepath.Join(s.Dir, "previous") }

// Save makes r the last report and the former last one the previous. Each
// file is replaced atomically; report.txt ends with the changes since the
// former last report.
func (s Store) Save(r *Report) error {
	var prev *Report
	for _, name := range []string{ReportJSON, ReportText} {
		b, err := os.ReadFile(filepath.Join(s.LastDir(), name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("keeping the previous hcp report: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(s.PreviousDir(), name), b, 0o644); err != nil {
			return fmt.Errorf("keeping the previous hcp report: %w", err)
		}
		if name == ReportJSON {
			prev, _ = DecodeReport(b) // a corrupt former report only loses the diff
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(s.LastDir(), ReportJSON), r.MarshalIndented(), 0o644); err != nil {
		return fmt.Errorf("saving hcp report: %w", err)
	}
	var txt bytes.Buffer
	WriteDetailed(&txt, r, false)
	WriteChanges(&txt, prev, r)
	if err := atomicfile.WriteFile(filepath.Join(s.LastDir(), ReportText), txt.Bytes(), 0o644); err != nil {
		return fmt.Errorf("saving hcp report: %w", err)
	}
	return nil
}

// Last loads the last report; ErrNoReport when there is none.
func (s Store) Last() (*Report, error) { return s.load(s.LastDir()) }

// Previous loads the report before the last; ErrNoReport when there is none.
func (s Store) Previous() (*Report, error) { return s.load(s.PreviousDir()) }

func (s Store) load(dir string) (*Report, error) {
	p := filepath.Join(dir, ReportJSON)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoReport, p)
	}
	if err != nil {
		return nil, fmt.Errorf("reading hcp report: %w", err)
	}
	r, err := DecodeReport(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return r, nil
}
