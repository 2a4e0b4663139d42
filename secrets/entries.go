package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/orchd/orchd/atomicfile"
)

// Entry is a secret with its value: for export and import only.
type Entry struct {
	Name    string    `json:"name"`
	Owner   string    `json:"owner"`
	Updated time.Time `json:"updated"`
	Value   []byte    `json:"value"`
}

// All returns every secret with its value (for export configuration).
func (s *Store) All() ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	key := subkey(s.dataKey, labelEntry)
	defer wipe(key)
	out := make([]Entry, 0, len(s.f.entries))
	for _, e := range s.f.entries {
		v, err := open(key, e.sealed, entryAAD(e.name, e.owner, e.term))
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", e.name, err)
		}
		out = append(out, Entry{Name: e.name, Owner: e.owner, Updated: e.updated, Value: v})
	}
	return out, nil
}

// Replace makes the store hold exactly entries, in one atomic write (import
// configuration: all or nothing).
func (s *Store) Replace(entries []Entry) error {
	seen := map[string]bool{}
	for _, e := range entries {
		if err := checkToken("secret name", e.Name); err != nil {
			return err
		}
		if err := checkToken("owner", e.Owner); err != nil {
			return err
		}
		if len(e.Value) > maxValue {
			return fmt.Errorf("secret %s: value of %d bytes is larger than %d", e.Name, len(e.Value), maxValue)
		}
		if seen[e.Name] {
			return fmt.Errorf("secret %s listed twice", e.Name)
		}
		seen[e.Name] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	nf := s.cloneFile()
	nf.entries = nil
	for _, in := range entries {
		if in.Updated.IsZero() {
			in.Updated = s.now()
		}
		e, err := s.sealEntry(in)
		if err != nil {
			return err
		}
		nf.entries = append(nf.entries, e)
	}
	sortEntries(nf.entries)
	return s.commit(nf, s.dataKey)
}

// Auto-unseal: a random key in a root-only file wraps the data key in the
// store's "auto" slot. Turning it off removes the slot, so an old copy of the
// key file opens nothing any more.

const unsealKeyMagic = "orchd-unseal-key v1 "

// EnableAutoUnseal writes a fresh unseal key to keyPath (0600) and the
// matching slot to the store. The store must be unsealed.
func (s *Store) EnableAutoUnseal(keyPath string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	k, err := randomBytes(keyLen)
	if err != nil {
		return err
	}
	defer wipe(k)
	slot, err := seal(k, s.dataKey, []byte(autoAAD))
	if err != nil {
		return fmt.Errorf("wrapping the data key for auto-unseal: %w", err)
	}
	// The key file first: a crash before the store write leaves a key that
	// opens no slot (auto-unseal fails loudly at start), never a slot
	// without its key being written where we said.
	if err := atomicfile.WriteFile(keyPath, []byte(unsealKeyMagic+b64.EncodeToString(k)+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing unseal key: %w", err)
	}
	nf := s.cloneFile()
	nf.auto = slot
	return s.commit(nf, s.dataKey)
}

// DisableAutoUnseal removes the slot (when unsealed) and the key file.
// Sealed, it removes the key file only: the slot then opens with nothing.
func (s *Store) DisableAutoUnseal(keyPath string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.initialized(); err != nil {
		return err
	}
	if s.f.auto != nil && s.dataKey != nil {
		nf := s.cloneFile()
		nf.auto = nil
		if err := s.commit(nf, s.dataKey); err != nil {
			return err
		}
	}
	if err := os.Remove(keyPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing unseal key: %w", err)
	}
	return nil
}

// UnsealWithKeyFile unseals with the auto-unseal key in keyPath, which must be
// a regular file readable by its owner only.
func (s *Store) UnsealWithKeyFile(keyPath string) error {
	fi, err := os.Lstat(keyPath)
	if err != nil {
		return fmt.Errorf("unseal key: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("unseal key %s: mode %v: expected a regular file with mode 0600", keyPath, fi.Mode())
	}
	data, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("unseal key: %w", err)
	}
	defer wipe(data)
	enc, ok := bytes.CutPrefix(bytes.TrimSuffix(data, []byte("\n")), []byte(unsealKeyMagic))
	k := make([]byte, keyLen)
	defer wipe(k)
	if n, err := b64.Decode(k, enc); !ok || err != nil || n != keyLen || b64.EncodedLen(keyLen) != len(enc) {
		return fmt.Errorf("unseal key %s: malformed: expected %q and %d bytes of base64", keyPath, unsealKeyMagic, keyLen)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.initialized(); err != nil {
		return err
	}
	if s.dataKey != nil {
		return ErrUnsealed
	}
	if s.f.auto == nil {
		return errors.New("auto-unseal is off in the secret store (no slot): run security unseal, then set security auto-unseal on")
	}
	dk, err := open(k, s.f.auto, []byte(autoAAD))
	if err != nil {
		return fmt.Errorf("unseal key %s does not open the store's auto-unseal slot: run security unseal, then set security auto-unseal on", keyPath)
	}
	if err := s.verify(dk); err != nil {
		return err
	}
	s.dataKey = dk
	s.since = s.now()
	return nil
}
