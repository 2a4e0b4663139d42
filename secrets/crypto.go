package secrets

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/orchd/orchd/internal/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// KDFParams are the argon2id cost parameters of a passphrase-derived key.
type KDFParams struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8  // lanes
}

// DefaultKDF: unsealing is rare and interactive, so it may cost far more
// than a login: 64 MiB, 3 passes, 2 lanes (RFC 9106's second recommended
// setting, with the lanes this 2-core machine class has). Measured in
// make bench (unseal time).
func DefaultKDF() KDFParams { return KDFParams{Time: 3, Memory: 64 * 1024, Threads: 2} }

// Caps applied when reading a file: a tampered header must not make an
// unseal allocate gigabytes or spin for minutes.
const (
	maxTime    = 16
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxThreads = 16
)

func (p KDFParams) check() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("kdf t=%d: expected 1 to %d", p.Time, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("kdf p=%d: expected 1 to %d", p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("kdf m=%d: expected %d to %d KiB", p.Memory, 8*uint32(p.Threads), maxMemory)
	}
	return nil
}

func (p KDFParams) String() string {
	return fmt.Sprintf("argon2id t=%d m=%d KiB p=%d", p.Time, p.Memory, p.Threads)
}

// Passphrase rules: at least MinPassphrase characters (the reference's only
// rule), at most MaxPassphrase bytes, valid UTF-8.
const (
	MinPassphrase = 8
	MaxPassphrase = 1024
)

// ErrShortPassphrase is returned for a passphrase under MinPassphrase characters.
var ErrShortPassphrase = fmt.Errorf("the passphrase is too short: expected at least %d characters", MinPassphrase)

// CheckPassphrase validates a new passphrase. The error never contains it.
func CheckPassphrase(p []byte) error {
	if !utf8.Valid(p) {
		return errors.New("the passphrase is not valid UTF-8")
	}
	if utf8.RuneCount(p) < MinPassphrase {
		return ErrShortPassphrase
	}
	if len(p) > MaxPassphrase {
		return fmt.Errorf("the passphrase is too long: expected at most %d bytes", MaxPassphrase)
	}
	return nil
}

// deriveKEK runs argon2id. Its 64 MiB go back to the OS as it returns
// (internal/argon2 unmaps them): the daemon's idle RSS bar (DESIGN §7)
// must not carry that high-water mark.
func deriveKEK(pass, salt []byte, p KDFParams) []byte {
	return argon2.IDKey(pass, salt, p.Time, p.Memory, p.Threads, keyLen)
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	return b, nil
}

// seal returns nonce || XChaCha20-Poly1305(key, plain, aad).
func seal(key, plain, aad []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	nonce, err := randomBytes(nonceLen)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, aad), nil
}

var errOpen = errors.New("authentication failed")

func open(key, sealed, aad []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < nonceLen+tagLen {
		return nil, errOpen
	}
	out, err := aead.Open(nil, sealed[:nonceLen], sealed[nonceLen:], aad)
	if err != nil {
		return nil, errOpen
	}
	return out, nil
}

// Labels of the keys derived from a data key: one per use.
const (
	labelEntry = "orchd-secrets v1 entry key"
	labelMAC   = "orchd-secrets v1 file mac key"
)

func subkey(dataKey []byte, label string) []byte {
	k, err := hkdf.Key(sha256.New, dataKey, nil, label, keyLen)
	if err != nil {
		panic(err) // only for lengths beyond 255*32
	}
	return k
}

func fileMAC(dataKey, body []byte) []byte {
	h := hmac.New(sha256.New, subkey(dataKey, labelMAC))
	h.Write(body)
	return h.Sum(nil)
}

// entryAAD binds a ciphertext to its name, owner and key term, so that
// ciphertexts cannot be swapped between secrets.
func entryAAD(name, owner string, term uint32) []byte {
	b := []byte("orchd-secrets v1 entry\x00")
	b = append(b, name...)
	b = append(b, 0)
	b = append(b, owner...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, term)
}

// wipe is best effort: Go may have copied the bytes elsewhere.
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
