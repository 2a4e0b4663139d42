package aaa

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/orchd/orchd/internal/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8  // lanes
}

// DefaultParams returns the parameters Hash uses: 12 MiB, 3 passes, 1 lane.
//
// This is one of OWASP's equivalent argon2id settings (m=12288, t=3, p=1),
// chosen for speed of SSH login (DESIGN §7: faster than OpenSSH's 0.37 s).
// Measured on this machine class (2 vCPU AMD EPYC, Go 1.26, BenchmarkVerify
// and a one-off sweep, idle machine): m=12 MiB t=3 p=1 costs 20-23 ms per
// verify (25-45 ms while other builds load the machine); the other OWASP
// settings cost more here: m=19 MiB t=2 p=1 29-33 ms, m=46 MiB t=1 33-37 ms.
// At most GOMAXPROCS derivations run at once, so concurrent logins queue
// instead of using more than GOMAXPROCS x 12 MiB.
func DefaultParams() Params { return Params{Memory: 12 * 1024, Time: 3, Threads: 1} }

const (
	saltLen = 16
	keyLen  = 32

	// Bounds accepted when parsing a stored hash, so that a tampered file
	// cannot make a login allocate gigabytes or spin for minutes.
	maxMemory  = 256 * 1024 // KiB
	maxTime    = 32
	maxThreads = 16
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

// hashForm is the expected form of a password hash, for error messages.
const hashForm = "$argon2id$v=19$m=KIB,t=PASSES,p=LANES$SALT$HASH (base64 without padding)"

// kdf derives a key; tests replace it to count derivations.
var kdf = argon2.IDKey

// kdfSlots bounds concurrent derivations: they are CPU-bound, so more than
// one per CPU only adds memory.
var kdfSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

func derive(password string, salt []byte, p Params, n uint32) []byte {
	key, _ := deriveContext(context.Background(), password, salt, p, n)
	return key
}

// deriveContext is derive for a login: it gives up, with ctx's error, if
// ctx ends while waiting for a slot. A derivation once started runs to its
// end (~20 ms).
func deriveContext(ctx context.Context, password string, salt []byte, p Params, n uint32) ([]byte, error) {
	select {
	case kdfSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	key := kdf([]byte(password), salt, p.Time, p.Memory, p.Threads, n)
	<-kdfSlots
	return key, nil
}

// Hash returns a salted argon2id hash of password with DefaultParams, as
// $argon2id$v=19$m=12288,t=3,p=1$SALT$HASH. An empty password is refused.
func Hash(password string) (string, error) { return HashWithParams(password, DefaultParams()) }

// HashWithParams is Hash with explicit cost parameters.
func HashWithParams(password string, p Params) (string, error) {
	if password == "" {
		return "", errors.New("empty password: expected at least one character")
	}
	if err := p.check(); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	key := derive(password, salt, p, keyLen)
	return encodeHash(p, salt, key), nil
}

func encodeHash(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches hash. It parses the parameters
// from hash, so hashes made with other costs still verify. A malformed hash
// or an empty password never matches.
func Verify(hash, password string) bool {
	ok, _ := verify(hash, password)
	return ok
}

// verify runs exactly one derivation when hash parses, whatever password
// is, so its time does not depend on the password.
func verify(hash, password string) (bool, error) {
	return verifyContext(context.Background(), hash, password)
}

// verifyContext is verify giving up when ctx ends before a derivation slot
// is free; its error is then ctx's (see isCtxErr).
func verifyContext(ctx context.Context, hash, password string) (bool, error) {
	h, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	key, err := deriveContext(ctx, password, h.salt, h.params, uint32(len(h.key)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1 && password != "", nil
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// CheckHash reports whether hash is a well-formed password hash that Verify
// accepts. The error never quotes the hash.
func CheckHash(hash string) error {
	_, err := parseHash(hash)
	return err
}

// ParamsOf returns the cost parameters a hash was made with.
func ParamsOf(hash string) (Params, error) {
	h, err := parseHash(hash)
	return h.params, err
}

// otherSchemes are crypt(3) prefixes an error may name. Unknown prefixes
// are not echoed: a mistaken field could hold a password.
var otherSchemes = map[string]string{
	"1": "md5-crypt", "5": "sha256-crypt", "6": "sha512-crypt", "y": "yescrypt", "7": "scrypt",
	"2a": "bcrypt", "2b": "bcrypt", "2y": "bcrypt", "argon2i": "argon2i", "argon2d": "argon2d",
}

type parsedHash struct {
	params    Params
	salt, key []byte
}

func parseHash(s string) (parsedHash, error) {
	var h parsedHash
	f := strings.Split(s, "$")
	if len(f) >= 3 && f[0] == "" && otherSchemes[f[1]] != "" {
		return h, fmt.Errorf("unsupported password hash algorithm %s ($%s$): expected argon2id", otherSchemes[f[1]], f[1])
	}
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return h, fmt.Errorf("malformed password hash: expected %s", hashForm)
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, fmt.Errorf("unsupported argon2id version %q: expected v=%d", f[2], argon2.Version)
	}
	ps := strings.Split(f[3], ",")
	if len(ps) != 3 {
		return h, fmt.Errorf("malformed argon2id parameters %q: expected m=KIB,t=PASSES,p=LANES", f[3])
	}
	var v [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		num, ok := strings.CutPrefix(ps[i], name+"=")
		n, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil || num != strconv.FormatUint(n, 10) {
			return h, fmt.Errorf("malformed argon2id parameters %q: expected m=KIB,t=PASSES,p=LANES", f[3])
		}
		v[i] = n
	}
	if v[2] > maxThreads {
		return h, fmt.Errorf("argon2id parameters %q: expected p from 1 to %d", f[3], maxThreads)
	}
	h.params = Params{Memory: uint32(v[0]), Time: uint32(v[1]), Threads: uint8(v[2])}
	if err := h.params.check(); err != nil {
		return h, err
	}
	b64 := base64.RawStdEncoding.Strict()
	var err error
	if h.salt, err = b64.DecodeString(f[4]); err != nil || len(h.salt) < minSaltLen || len(h.salt) > maxSaltLen {
		return parsedHash{}, fmt.Errorf("malformed password hash salt: expected %d-%d bytes in base64 without padding", minSaltLen, maxSaltLen)
	}
	if h.key, err = b64.DecodeString(f[5]); err != nil || len(h.key) < minKeyLen || len(h.key) > maxKeyLen {
		return parsedHash{}, fmt.Errorf("malformed password hash value: expected %d-%d bytes in base64 without padding", minKeyLen, maxKeyLen)
	}
	return h, nil
}

func (p Params) check() error {
	if p.Threads < 1 || p.Threads > maxThreads || p.Time < 1 || p.Time > maxTime ||
		p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory {
		return fmt.Errorf("argon2id parameters m=%d,t=%d,p=%d out of range: expected p 1-%d, t 1-%d, m from 8*p to %d KiB",
			p.Memory, p.Time, p.Threads, maxThreads, maxTime, maxMemory)
	}
	return nil
}
