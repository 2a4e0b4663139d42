package clishdcmd

import (
	"errors"
	"fmt"
	"os"

	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/paths"
)

// packagedTemplate returns the config file the .deb installs (a conffile
// naming no orchestrator ID yet) when it is there and no identity exists:
// `clishd init` then fills it in, keeping the admin's edits and comments,
// instead of refusing because the file exists.
func packagedTemplate(l paths.Layout) ([]byte, bool, error) {
	if _, err := os.Stat(l.IdentityKey()); err == nil {
		return nil, false, nil
	}
	doc, err := os.ReadFile(l.ConfigFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", l.ConfigFile(), err)
	}
	id, err := config.FileID(doc)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", l.ConfigFile(), err)
	}
	return doc, id == "", nil
}

// fillTemplate sets the values init was given in the packaged template.
func fillTemplate(doc []byte, id, orchestrators, mgmt string) ([]byte, error) {
	kv := [][2]string{{"id", id}}
	if orchestrators != "" {
		kv = append(kv, [2]string{"topology.orchestrators", orchestrators})
	}
	if mgmt != "" {
		kv = append(kv, [2]string{"mgmt.address", mgmt})
	}
	var err error
	for _, p := range kv {
		if doc, err = config.SetKey(doc, p[0], p[1]); err != nil {
			return nil, err
		}
	}
	return doc, nil
}
