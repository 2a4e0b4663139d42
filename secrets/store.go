package secrets

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orchd/orchd/atomicfile"
)

// ErrSealed is what every feature that needs a secret says while sealed.
var ErrSealed = errors.New("the secret store is sealed: run security unseal")

// ErrNotFound: no secret of that name.
var ErrNotFound = errors.New("no such secret")

// ErrNotInitialized is returned by Put and Get before security init; it
// matches ErrSealed with errors.Is, so consumers need only check one.
var ErrNotInitialized error = notInitialized{}

type notInitialized struct{}

func (notInitialized) Error() string {
	return "the secret store is not initialized: run security init"
}
func (notInitialized) Is(target error) bool { return target == ErrSealed }

var (
	// ErrWrongPassphrase: the passphrase does not open the data key.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrInitialized: security init on an initialized store.
	ErrInitialized = errors.New("the secret store is already initialized")
	// ErrUnsealed: security unseal on an unsealed store.
	ErrUnsealed = errors.New("the secret store is already unsealed")
	// ErrAltered: the data key opened but the file's MAC does not verify.
	ErrAltered = errors.New("the secret store file was altered (authentication failed)")
)

// Info describes a secret, never its value.
type Info struct {
	Name, Owner string
	Updated     time.Time
}

// Option configures Open.
type Option func(*Store)

// WithKDF sets the argon2id parameters used by Init and ChangePassphrase
// (tests and benchmarks use cheap ones).
func WithKDF(p KDFParams) Option { return func(s *Store) { s.params = p } }

// WithClock sets the clock for Updated times and Since.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Store is the sealed secret store. Safe for concurrent use.
type Store struct {
	path   string
	params KDFParams
	now    func() time.Time

	mu      sync.Mutex
	f       *file // nil: not initialized (or damaged: see problem)
	problem error // the file exists but cannot be used
	dataKey []byte
	since   time.Time
}

// Open reads the store at path. A missing file is an uninitialized store.
// A damaged file does not fail Open (the daemon must still come up, local
// logins must still work): the store stays sealed and every operation,
// and Problem, report the damage.
func Open(path string, opts ...Option) (*Store, error) {
	s := &Store{path: path, params: DefaultKDF(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if err := s.params.check(); err != nil {
		return nil, fmt.Errorf("secret store kdf parameters: %w", err)
	}
	s.since = s.now()
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("reading secret store: %w", err)
	}
	f, err := parse(data)
	if err != nil {
		s.problem = fmt.Errorf("secret store file %s is %w: restore it from a backup, or move it away and run security init", path, err)
		return s, nil
	}
	s.f = f
	return s, nil
}

// Path is the store file.
func (s *Store) Path() string { return s.path }

// Problem says why an existing store file cannot be used, or nil.
func (s *Store) Problem() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.problem
}

// Initialized reports whether the store has a passphrase (security init ran).
func (s *Store) Initialized() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f != nil || s.problem != nil
}

// Sealed reports whether secrets are unavailable (also before init).
func (s *Store) Sealed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dataKey == nil
}

// Since is when the store was last sealed or unsealed (or opened).
func (s *Store) Since() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.since
}

// KDF returns the parameters of the current passphrase (the configured ones
// before init).
func (s *Store) KDF() KDFParams {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		return s.f.kdf
	}
	return s.params
}

// AutoUnseal reports whether the store holds an auto-unseal slot.
func (s *Store) AutoUnseal() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f != nil && s.f.auto != nil
}

// Names lists the secrets by name, without values (also while sealed: names
// and owners are not secret).
func (s *Store) Names() []Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	out := make([]Info, 0, len(s.f.entries))
	for _, e := range s.f.entries {
		out = append(out, Info{Name: e.name, Owner: e.owner, Updated: e.updated})
	}
	return out
}

// usable is the error for operations that need an unsealed store.
func (s *Store) usable() error {
	switch {
	case s.problem != nil:
		return s.problem
	case s.f == nil:
		return ErrNotInitialized
	case s.dataKey == nil:
		return ErrSealed
	}
	return nil
}

func (s *Store) initialized() error {
	if s.problem != nil {
		return s.problem
	}
	if s.f == nil {
		return ErrNotInitialized
	}
	return nil
}

// Get returns a copy of the secret's value.
func (s *Store) Get(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	i := s.find(name)
	if i < 0 {
		return nil, fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	e := s.f.entries[i]
	key := subkey(s.dataKey, labelEntry)
	defer wipe(key)
	v, err := open(key, e.sealed, entryAAD(e.name, e.owner, e.term))
	if err != nil {
		// The file MAC verified at unseal, so this is memory corruption or a bug.
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}

func (s *Store) find(name string) int {
	for i, e := range s.f.entries {
		if e.name == name {
			return i
		}
	}
	return -1
}

// Put stores value under name (replacing any previous value) and writes the
// store through at once.
func (s *Store) Put(name, owner string, value []byte) error {
	if err := checkToken("secret name", name); err != nil {
		return err
	}
	if err := checkToken("owner", owner); err != nil {
		return err
	}
	if len(value) > maxValue {
		return fmt.Errorf("secret %s: value of %d bytes is larger than %d", name, len(value), maxValue)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	e, err := s.sealEntry(Entry{Name: name, Owner: owner, Value: value, Updated: s.now()})
	if err != nil {
		return err
	}
	nf := s.cloneFile()
	if i := s.find(name); i >= 0 {
		nf.entries[i] = e
	} else {
		nf.entries = append(nf.entries, e)
		sortEntries(nf.entries)
	}
	return s.commit(nf, s.dataKey)
}

func (s *Store) sealEntry(in Entry) (entry, error) {
	key := subkey(s.dataKey, labelEntry)
	defer wipe(key)
	e := entry{name: in.Name, owner: in.Owner, updated: in.Updated.UTC(), term: s.f.term}
	sealed, err := seal(key, in.Value, entryAAD(e.name, e.owner, e.term))
	if err != nil {
		return e, fmt.Errorf("encrypting secret %s: %w", in.Name, err)
	}
	e.sealed = sealed
	return e, nil
}

func sortEntries(es []entry) {
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.name, b.name) })
}

// Delete removes a secret. Deleting one that does not exist is ErrNotFound.
func (s *Store) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	i := s.find(name)
	if i < 0 {
		return fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	nf := s.cloneFile()
	nf.entries = slices.Delete(nf.entries, i, i+1)
	return s.commit(nf, s.dataKey)
}

func (s *Store) cloneFile() *file {
	nf := *s.f
	nf.entries = slices.Clone(s.f.entries)
	return &nf
}

// commit writes nf (MAC under dataKey) atomically and only then makes it current.
func (s *Store) commit(nf *file, dataKey []byte) error {
	body := nf.body()
	nf.mac = fileMAC(dataKey, body)
	nf.macInput = body
	if err := atomicfile.WriteFile(s.path, encode(body, nf.mac), 0o600); err != nil {
		return fmt.Errorf("writing secret store: %w", err)
	}
	s.f = nf
	return nil
}

// Init creates the store under pass and leaves it unsealed.
func (s *Store) Init(pass []byte) error {
	if err := CheckPassphrase(pass); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.problem != nil {
		return s.problem
	}
	if s.f != nil {
		return ErrInitialized
	}
	if _, err := os.Stat(s.path); err == nil {
		return ErrInitialized
	}
	dataKey, err := randomBytes(keyLen)
	if err != nil {
		return err
	}
	nf := &file{term: 1}
	if err := wrapUnder(nf, pass, s.params, dataKey); err != nil {
		return err
	}
	if err := s.commit(nf, dataKey); err != nil {
		return err
	}
	s.dataKey = dataKey
	s.since = s.now()
	return nil
}

// wrapUnder sets nf's KDF header (fresh salt) and wraps dataKey under pass.
func wrapUnder(nf *file, pass []byte, p KDFParams, dataKey []byte) error {
	salt, err := randomBytes(minSalt)
	if err != nil {
		return err
	}
	nf.kdf, nf.salt = p, salt
	kek := deriveKEK(pass, salt, p)
	defer wipe(kek)
	w, err := seal(kek, dataKey, nf.header())
	if err != nil {
		return fmt.Errorf("wrapping the data key: %w", err)
	}
	nf.wrapped = w
	return nil
}

// unwrap returns the data key that pass opens, after checking the file MAC.
func (s *Store) unwrap(pass []byte) ([]byte, error) {
	kek := deriveKEK(pass, s.f.salt, s.f.kdf)
	defer wipe(kek)
	dk, err := open(kek, s.f.wrapped, s.f.header())
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	if err := s.verify(dk); err != nil {
		return nil, err
	}
	return dk, nil
}

func (s *Store) verify(dataKey []byte) error {
	if !hmac.Equal(fileMAC(dataKey, s.f.macInput), s.f.mac) {
		wipe(dataKey)
		return ErrAltered
	}
	return nil
}

// Unseal opens the data key with pass.
func (s *Store) Unseal(pass []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.initialized(); err != nil {
		return err
	}
	if s.dataKey != nil {
		return ErrUnsealed
	}
	dk, err := s.unwrap(pass)
	if err != nil {
		return err
	}
	s.dataKey = dk
	s.since = s.now()
	return nil
}

// Seal forgets the data key. Sealing a sealed store does nothing.
func (s *Store) Seal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dataKey == nil {
		return
	}
	wipe(s.dataKey)
	s.dataKey = nil
	s.since = s.now()
}

// ChangePassphrase rewraps the data key under newPass (fresh salt, the
// configured KDF parameters); the secrets' ciphertexts are kept as they are.
// It works sealed or unsealed and leaves that state unchanged. One atomic
// write: a crash at any moment leaves a store that opens with old or new.
func (s *Store) ChangePassphrase(oldPass, newPass []byte) error {
	if err := CheckPassphrase(newPass); err != nil {
		return fmt.Errorf("new passphrase: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.initialized(); err != nil {
		return err
	}
	dk, err := s.unwrap(oldPass)
	if err != nil {
		return err
	}
	defer wipe(dk)
	nf := s.cloneFile()
	if err := wrapUnder(nf, newPass, s.params, dk); err != nil {
		return err
	}
	return s.commit(nf, dk)
}

// CheckPassphrase reports whether pass opens the store (ErrWrongPassphrase
// if not), without changing anything.
func (s *Store) CheckPassphrase(pass []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.initialized(); err != nil {
		return err
	}
	dk, err := s.unwrap(pass)
	if err != nil {
		return err
	}
	wipe(dk)
	return nil
}
