package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	magic      = "orchd-secrets v1"
	autoAAD    = "orchd-secrets v1 auto"
	maxFile    = 16 << 20
	maxValue   = 64 << 10
	maxNameLen = 200
	nonceLen   = 24 // XChaCha20-Poly1305
	tagLen     = 16
	keyLen     = 32
	macLen     = 32
	minSalt    = 16
	maxSalt    = 64
)

var b64 = base64.StdEncoding

// errDamaged marks a file that does not parse or whose checksum is wrong.
var errDamaged = errors.New("damaged")

// entry is one secret as stored: the value stays encrypted in memory until Get.
type entry struct {
	name, owner string
	updated     time.Time
	term        uint32
	sealed      []byte // nonce || ciphertext
}

// file is the parsed store file.
type file struct {
	kdf      KDFParams
	salt     []byte
	term     uint32
	wrapped  []byte // nonce || sealed data key, under the KEK
	auto     []byte // nonce || sealed data key, under the auto-unseal key; nil when off
	entries  []entry
	mac      []byte
	macInput []byte // the bytes the MAC covers, as read
}

// header returns the first two lines: the key line's AAD.
func (f *file) header() []byte {
	return fmt.Appendf(nil, "%s\nkdf argon2id t=%d m=%d p=%d salt=%s\n", magic, f.kdf.Time, f.kdf.Memory, f.kdf.Threads, b64.EncodeToString(f.salt))
}

// body is every byte the MAC covers.
func (f *file) body() []byte {
	var b bytes.Buffer
	b.Write(f.header())
	fmt.Fprintf(&b, "key term=%d %s\n", f.term, b64.EncodeToString(f.wrapped))
	if f.auto != nil {
		fmt.Fprintf(&b, "auto %s\n", b64.EncodeToString(f.auto))
	}
	for _, e := range f.entries {
		fmt.Fprintf(&b, "secret %s %s %d term=%d %s\n", escape(e.name), escape(e.owner), e.updated.UnixNano(), e.term, b64.EncodeToString(e.sealed))
	}
	return b.Bytes()
}

// encode returns the whole file for mac (computed by the caller over body()).
func encode(body, mac []byte) []byte {
	var b bytes.Buffer
	b.Write(body)
	fmt.Fprintf(&b, "mac %s\n", b64.EncodeToString(mac))
	sum := sha256.Sum256(b.Bytes())
	fmt.Fprintf(&b, "sum %s\n", hex.EncodeToString(sum[:]))
	return b.Bytes()
}

// parse reads a store file. It checks the structure, the checksum and the
// KDF caps; authenticity needs the data key (Store.unsealWith).
func parse(data []byte) (*file, error) {
	if len(data) > maxFile {
		return nil, fmt.Errorf("%w: larger than %d bytes", errDamaged, maxFile)
	}
	lines, err := splitLines(data)
	if err != nil {
		return nil, err
	}
	if len(lines) < 5 {
		return nil, fmt.Errorf("%w: %d lines, expected at least 5", errDamaged, len(lines))
	}
	// The checksum first: a damaged file is reported as damaged, not as a
	// wrong passphrase.
	last := lines[len(lines)-1]
	sumHex, ok := strings.CutPrefix(last.text, "sum ")
	if !ok {
		return nil, fmt.Errorf("%w: line %d: expected \"sum HEX\"", errDamaged, len(lines))
	}
	sum := sha256.Sum256(data[:last.off])
	if sumHex != hex.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errDamaged)
	}
	if lines[0].text != magic {
		return nil, fmt.Errorf("%w: line 1: expected %q", errDamaged, magic)
	}
	f := &file{}
	if f.kdf, f.salt, err = parseKDF(lines[1].text); err != nil {
		return nil, fmt.Errorf("%w: line 2: %v", errDamaged, err)
	}
	kf := strings.Fields(lines[2].text)
	if len(kf) != 3 || kf[0] != "key" {
		return nil, fmt.Errorf("%w: line 3: expected \"key term=N BASE64\"", errDamaged)
	}
	if f.term, err = parseTerm(kf[1]); err != nil {
		return nil, fmt.Errorf("%w: line 3: %v", errDamaged, err)
	}
	if f.wrapped, err = parseSealed(kf[2], keyLen); err != nil {
		return nil, fmt.Errorf("%w: line 3: %v", errDamaged, err)
	}
	macLine := lines[len(lines)-2]
	macB64, ok := strings.CutPrefix(macLine.text, "mac ")
	if !ok {
		return nil, fmt.Errorf("%w: line %d: expected \"mac BASE64\"", errDamaged, len(lines)-1)
	}
	if f.mac, err = b64.DecodeString(macB64); err != nil || len(f.mac) != macLen {
		return nil, fmt.Errorf("%w: line %d: malformed mac", errDamaged, len(lines)-1)
	}
	f.macInput = data[:macLine.off]
	seen := map[string]bool{}
	for i, l := range lines[3 : len(lines)-2] {
		n := i + 4
		fs := strings.Fields(l.text)
		switch {
		case len(fs) == 2 && fs[0] == "auto" && f.auto == nil && len(f.entries) == 0:
			if f.auto, err = parseSealed(fs[1], keyLen); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", errDamaged, n, err)
			}
		case len(fs) == 6 && fs[0] == "secret":
			name, err1 := unescape(fs[1])
			owner, err2 := unescape(fs[2])
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", errDamaged, n, err)
			}
			e := entry{name: name, owner: owner}
			if err := checkToken("secret name", e.name); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", errDamaged, n, err)
			}
			if err := checkToken("owner", e.owner); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", errDamaged, n, err)
			}
			if seen[e.name] {
				return nil, fmt.Errorf("%w: line %d: secret %s listed twice", errDamaged, n, e.name)
			}
			seen[e.name] = true
			ns, err := strconv.ParseInt(fs[3], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: malformed time %q", errDamaged, n, fs[3])
			}
			e.updated = time.Unix(0, ns).UTC()
			if e.term, err = parseTerm(fs[4]); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", errDamaged, n, err)
			}
			if e.sealed, err = parseSealed(fs[5], 0); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", errDamaged, n, err)
			}
			f.entries = append(f.entries, e)
		default:
			return nil, fmt.Errorf("%w: line %d: expected \"secret NAME OWNER TIME term=N BASE64\"", errDamaged, n)
		}
	}
	// Re-encoding must give the same bytes: one canonical form, so the MAC
	// and the parser can never disagree about what a line says.
	if !bytes.Equal(f.body(), f.macInput) {
		return nil, fmt.Errorf("%w: not in canonical form", errDamaged)
	}
	return f, nil
}

type line struct {
	text string
	off  int // offset of the line's first byte
}

func splitLines(data []byte) ([]line, error) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("%w: truncated (no final newline)", errDamaged)
	}
	var out []line
	off := 0
	for off < len(data) {
		i := bytes.IndexByte(data[off:], '\n')
		out = append(out, line{text: string(data[off : off+i]), off: off})
		off += i + 1
	}
	return out, nil
}

func parseKDF(s string) (KDFParams, []byte, error) {
	var p KDFParams
	fs := strings.Fields(s)
	if len(fs) != 6 || fs[0] != "kdf" || fs[1] != "argon2id" {
		return p, nil, errors.New("expected \"kdf argon2id t=N m=N p=N salt=BASE64\"")
	}
	t, err1 := uintField(fs[2], "t=")
	m, err2 := uintField(fs[3], "m=")
	th, err3 := uintField(fs[4], "p=")
	if err := errors.Join(err1, err2, err3); err != nil {
		return p, nil, err
	}
	if th > 255 {
		return p, nil, fmt.Errorf("kdf p=%d: expected 1 to %d", th, maxThreads)
	}
	p = KDFParams{Time: t, Memory: m, Threads: uint8(th)}
	if err := p.check(); err != nil {
		return p, nil, err
	}
	saltB64, ok := strings.CutPrefix(fs[5], "salt=")
	if !ok {
		return p, nil, errors.New("expected salt=BASE64")
	}
	salt, err := b64.DecodeString(saltB64)
	if err != nil || len(salt) < minSalt || len(salt) > maxSalt {
		return p, nil, fmt.Errorf("malformed salt: expected %d to %d bytes of base64", minSalt, maxSalt)
	}
	return p, salt, nil
}

func uintField(s, prefix string) (uint32, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, fmt.Errorf("expected %sN, got %q", prefix, s)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || strconv.FormatUint(n, 10) != v {
		return 0, fmt.Errorf("expected %sN, got %q", prefix, s)
	}
	return uint32(n), nil
}

func parseTerm(s string) (uint32, error) {
	t, err := uintField(s, "term=")
	if err != nil || t == 0 {
		return 0, fmt.Errorf("expected term=N (N >= 1), got %q", s)
	}
	return t, nil
}

// parseSealed decodes nonce || ciphertext; plain > 0 requires that exact
// plaintext length.
func parseSealed(s string, plain int) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, errors.New("malformed base64")
	}
	if len(b) < nonceLen+tagLen || (plain > 0 && len(b) != nonceLen+plain+tagLen) || len(b) > nonceLen+maxValue+tagLen {
		return nil, fmt.Errorf("sealed value of %d bytes has the wrong length", len(b))
	}
	return b, nil
}

// checkToken accepts names and owners: 1-200 printable ASCII characters
// ("aaa/provider/rad1", "management token ci").
func checkToken(what, s string) error {
	if s == "" || len(s) > maxNameLen {
		return fmt.Errorf("invalid %s %q: expected 1 to %d printable ASCII characters", what, s, maxNameLen)
	}
	for _, r := range s {
		if r < ' ' || r > '~' {
			return fmt.Errorf("invalid %s %q: expected 1 to %d printable ASCII characters", what, s, maxNameLen)
		}
	}
	return nil
}

// escape makes a name or owner one field of a line: space and "%" are
// percent-encoded, nothing else (checkToken allows nothing else that could
// split a line). parse rejects any other encoding of the same text through
// its canonical-form check.
func escape(s string) string {
	return strings.NewReplacer("%", "%25", " ", "%20").Replace(s)
}

func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "%20"):
			b.WriteByte(' ')
		case strings.HasPrefix(s[i:], "%25"):
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("malformed escape in %q: expected %%20 or %%25", s)
		}
		i += 2
	}
	return b.String(), nil
}
