package configdb

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// UpdateThrough is Update, and the same change written at once to the
// saved configuration too, for changes that must not wait for `save
// config` and must not publish anybody's other unsaved changes: a user's
// own password change at login (a monitorRole user cannot save), and the
// inactive-user sweep. fn may run twice (running, then saved), so it must
// only change the document it is given. Without a usable saved file the
// change stays in the running configuration.
func (db *DB) UpdateThrough(fn func(*Doc) error) error {
	db.saveMu.Lock()
	defer db.saveMu.Unlock()
	db.mu.RLock()
	wasSaved := db.savedBytes != nil && bytes.Equal(db.runningBytes, db.savedBytes)
	db.mu.RUnlock()
	if err := db.Update(fn); err != nil {
		return err
	}
	var data []byte
	if wasSaved {
		db.mu.RLock()
		data = db.runningBytes
		db.mu.RUnlock()
	} else {
		cur, err := os.ReadFile(db.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("writing the change to the saved configuration: %w", err)
		}
		d, err := decode(cur)
		if err != nil {
			return nil // corrupt: the next save config replaces it (see Open)
		}
		if err := fn(&d); err != nil {
			return fmt.Errorf("writing the change to the saved configuration: %w", err)
		}
		d.normalize()
		if err := d.Validate(); err != nil {
			return fmt.Errorf("writing the change to the saved configuration: %w", err)
		}
		data = encode(d)
	}
	if err := writeSaved(db.path, data, db.logf); err != nil {
		return err
	}
	db.mu.Lock()
	db.savedBytes = data
	db.mu.Unlock()
	return nil
}
