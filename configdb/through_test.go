package configdb

import (
	"path/filepath"
	"testing"

	"github.com/orchd/orchd/aaa"
)

// TestUpdateThrough: the change reaches the saved file at once, and other
// unsaved changes stay unsaved (in running only).
func TestUpdateThrough(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := Create(path, adminDoc(t), false); err != nil {
		t.Fatal(err)
	}
	db, _ := open(t, path)
	h := fastHash(t, "new")
	// Saved state: stays saved.
	if err := db.UpdateThrough(func(d *Doc) error { return d.SetPassword("admin", h) }); err != nil {
		t.Fatal(err)
	}
	if db.State() != StateSaved {
		t.Errorf("state %s after a write-through from saved", db.State())
	}
	// Unsaved state: the other change stays out of the saved file.
	if err := db.Update(func(d *Doc) error { return d.AddUser("pending", aaa.MonitorRole) }); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateThrough(func(d *Doc) error { return d.SetEmail("admin", "admin@example.com") }); err != nil {
		t.Fatal(err)
	}
	saved, err := loadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := saved.User("admin"); u.PasswordHash != h || u.Email != "admin@example.com" {
		t.Errorf("saved admin %+v", u)
	}
	if _, ok := saved.User("pending"); ok {
		t.Error("an unsaved change was written through")
	}
	if u, _ := db.LookupUser("admin"); u.Email != "admin@example.com" || db.State() != StateUnsaved {
		t.Errorf("running admin %+v, state %s", u, db.State())
	}
	if err := db.UpdateThrough(func(d *Doc) error { return d.SetEmail("ghost", "a@b.c") }); err == nil {
		t.Error("a failing change was accepted")
	}
}
