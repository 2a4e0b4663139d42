package testbed

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"

	"github.com/orchd/orchd/atomicfile"
	"github.com/orchd/orchd/identity"
)

const journalVersion = 1

// journal is Dir/testbed.json: everything Up created or was about to
// create, written before each object is made, so that Down removes exactly
// that even after a crash. Deleting an object that is already gone is
// success, so recording too much is harmless; recording too little is not.
type journal struct {
	Version int            `json:"version"`
	Options journalOptions `json:"options"`
	// Namespaces and Links (root namespace only) in creation order.
	Namespaces []string      `json:"namespaces"`
	Links      []string      `json:"links"`
	Nodes      []journalNode `json:"nodes"`
}

// journalOptions are the Options that survive in the journal: never the
// admin password.
type journalOptions struct {
	Sites    int          `json:"sites"`
	PerSite  int          `json:"per_site"`
	Dir      string       `json:"dir"`
	Prefix   string       `json:"prefix"`
	MgmtNet  netip.Prefix `json:"mgmt_net"`
	BinDir   string       `json:"bin_dir"`
	InitArgs []string     `json:"init_args,omitempty"`
}

type journalNode struct {
	ID        string       `json:"id"`
	Namespace string       `json:"namespace"`
	Root      string       `json:"root"`
	Mgmt      netip.Prefix `json:"mgmt"`
	Internal  netip.Prefix `json:"internal"`
	External  netip.Prefix `json:"external"`
	// PID is the daemon's process (0: not running) and StartTime its start
	// time in clock ticks after boot (/proc/PID/stat field 22), so that a
	// reused PID is never mistaken for ours.
	PID       int    `json:"pid,omitempty"`
	StartTime uint64 `json:"start_time,omitempty"`
}

func (tb *Testbed) journal() journal {
	o := tb.Opts
	j := journal{
		Version: journalVersion,
		Options: journalOptions{
			Sites: o.Sites, PerSite: o.PerSite, Dir: o.Dir, Prefix: o.Prefix,
			MgmtNet: o.MgmtNet, BinDir: o.BinDir, InitArgs: o.InitArgs,
		},
		Namespaces: slices.Clone(tb.namespaces),
		Links:      slices.Clone(tb.links),
	}
	for _, n := range tb.Nodes {
		j.Nodes = append(j.Nodes, journalNode{
			ID: n.ID.String(), Namespace: n.Namespace, Root: n.Root,
			Mgmt: n.Mgmt, Internal: n.Internal, External: n.External,
			PID: n.PID, StartTime: n.startTime,
		})
	}
	return j
}

// save writes the journal; callers hold tb.mu.
func (tb *Testbed) save() error {
	data, err := json.MarshalIndent(tb.journal(), "", "  ")
	if err != nil {
		return fmt.Errorf("encoding journal: %w", err)
	}
	if err := atomicfile.WriteFile(JournalFile(tb.Opts.Dir), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing journal: %w", err)
	}
	return nil
}

// readJournal loads the journal of the testbed in dir. A missing journal
// is an error wrapping os.ErrNotExist.
func readJournal(dir string) (*Testbed, error) {
	file := JournalFile(dir)
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, notUpError{file}
	}
	if err != nil {
		return nil, fmt.Errorf("reading journal: %w", err)
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("journal %s: %w", file, err)
	}
	if j.Version != journalVersion {
		return nil, fmt.Errorf("journal %s: version %d, expected %d", file, j.Version, journalVersion)
	}
	o := j.Options
	tb := &Testbed{
		Opts: Options{
			Sites: o.Sites, PerSite: o.PerSite, Dir: o.Dir, Prefix: o.Prefix,
			MgmtNet: o.MgmtNet, BinDir: o.BinDir, InitArgs: o.InitArgs,
		},
		namespaces: j.Namespaces,
		links:      j.Links,
	}
	for _, jn := range j.Nodes {
		id, err := identity.ParseID(jn.ID)
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w", file, err)
		}
		tb.Nodes = append(tb.Nodes, &Node{
			ID: id, Namespace: jn.Namespace, Root: jn.Root,
			Mgmt: jn.Mgmt, Internal: jn.Internal, External: jn.External,
			PID: jn.PID, startTime: jn.StartTime,
		})
	}
	return tb, nil
}

// notUpError says there is no journal; it is an os.ErrNotExist.
type notUpError struct{ file string }

func (e notUpError) Error() string { return "testbed is not up (no journal " + e.file + ")" }

func (e notUpError) Is(target error) bool { return target == os.ErrNotExist }
