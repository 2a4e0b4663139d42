package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// A bundle is a payload (an exported configuration with its secrets)
// encrypted under a passphrase of its own, for moving to another node:
//
//	orchd-export v1
//	kdf argon2id t=3 m=65536 p=2 salt=BASE64
//	key BASE64(nonce || XChaCha20-Poly1305(KEK, fileKey, AAD = the two lines above))
//	payload BASE64(nonce || XChaCha20-Poly1305(fileKey, payload, AAD = the three lines above))
//	sum HEX(SHA-256(every byte above))
//
// Opening tells the three failures apart: the checksum does not match
// (ErrBundleDamaged: any byte changed by accident or by hand), the key line
// does not open (ErrWrongPassphrase), the payload does not authenticate
// (ErrBundleAltered: an edit that also fixed the checksum).

const bundleMagic = "orchd-export v1"

var (
	ErrBundleDamaged = errors.New("the file is damaged or was edited (checksum mismatch)")
	ErrBundleAltered = errors.New("the file was altered after export (authentication failed)")
)

// SealBundle encrypts payload under pass.
func SealBundle(pass, payload []byte, p KDFParams) ([]byte, error) {
	if err := CheckPassphrase(pass); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	fileKey, err := randomBytes(keyLen)
	if err != nil {
		return nil, err
	}
	defer wipe(fileKey)
	salt, err := randomBytes(minSalt)
	if err != nil {
		return nil, err
	}
	hf := &file{kdf: p, salt: salt}
	var b bytes.Buffer
	b.WriteString(bundleMagic + "\n")
	b.Write(bundleKDFLine(hf))
	kek := deriveKEK(pass, salt, p)
	defer wipe(kek)
	wrapped, err := seal(kek, fileKey, b.Bytes())
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, "key %s\n", b64.EncodeToString(wrapped))
	ct, err := seal(fileKey, payload, b.Bytes())
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, "payload %s\n", b64.EncodeToString(ct))
	sum := sha256.Sum256(b.Bytes())
	fmt.Fprintf(&b, "sum %s\n", hex.EncodeToString(sum[:]))
	return b.Bytes(), nil
}

func bundleKDFLine(f *file) []byte {
	h := f.header()
	return h[len(magic)+1:]
}

// OpenBundle decrypts a bundle made by SealBundle.
func OpenBundle(pass, data []byte) ([]byte, error) {
	if len(data) > maxFile {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBundleDamaged, maxFile)
	}
	lines, err := splitLines(data)
	if err != nil || len(lines) != 5 {
		return nil, fmt.Errorf("%w: expected 5 lines (%q, kdf, key, payload, sum)", ErrBundleDamaged, bundleMagic)
	}
	sumHex, ok := strings.CutPrefix(lines[4].text, "sum ")
	sum := sha256.Sum256(data[:lines[4].off])
	if !ok || sumHex != hex.EncodeToString(sum[:]) {
		return nil, ErrBundleDamaged
	}
	if lines[0].text != bundleMagic {
		return nil, fmt.Errorf("%w: line 1: expected %q", ErrBundleDamaged, bundleMagic)
	}
	hf := &file{}
	if hf.kdf, hf.salt, err = parseKDF(lines[1].text); err != nil {
		return nil, fmt.Errorf("%w: line 2: %v", ErrBundleDamaged, err)
	}
	keyB64, ok := strings.CutPrefix(lines[2].text, "key ")
	if !ok {
		return nil, fmt.Errorf("%w: line 3: expected \"key BASE64\"", ErrBundleDamaged)
	}
	if hf.wrapped, err = parseSealed(keyB64, keyLen); err != nil {
		return nil, fmt.Errorf("%w: line 3: %v", ErrBundleDamaged, err)
	}
	ctB64, ok := strings.CutPrefix(lines[3].text, "payload ")
	ct, err := b64.DecodeString(ctB64)
	if !ok || err != nil {
		return nil, fmt.Errorf("%w: line 4: expected \"payload BASE64\"", ErrBundleDamaged)
	}
	// Canonical form, as for the store: one encoding per content.
	if !bytes.Equal(bundleKDFLine(hf), data[lines[1].off:lines[2].off]) ||
		b64.EncodeToString(hf.wrapped) != keyB64 || b64.EncodeToString(ct) != ctB64 {
		return nil, fmt.Errorf("%w: not in canonical form", ErrBundleDamaged)
	}
	kek := deriveKEK(pass, hf.salt, hf.kdf)
	defer wipe(kek)
	fileKey, err := open(kek, hf.wrapped, data[:lines[2].off])
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	defer wipe(fileKey)
	out, err := open(fileKey, ct, data[:lines[3].off])
	if err != nil {
		return nil, ErrBundleAltered
	}
	return out, nil
}
