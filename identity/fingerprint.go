package identity

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Fingerprint returns the SHA-256 fingerprint of pub's SSH wire format,
// "SHA256:<unpadded base64>", exactly as ssh-keygen -lf prints it.
func Fingerprint(pub ed25519.PublicKey) string {
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		// Only reachable with a malformed key length, a programming error.
		panic(fmt.Sprintf("identity: bad ed25519 public key: %v", err))
	}
	return ssh.FingerprintSHA256(k)
}

// ParseFingerprint validates an admin-supplied fingerprint and returns it in
// canonical form.
func ParseFingerprint(s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("invalid fingerprint %q: %s (expected SHA256: followed by 43 base64 characters, as ssh-keygen -lf prints)", s, why)
	}
	rest, ok := strings.CutPrefix(s, "SHA256:")
	if !ok {
		return bad("missing SHA256: prefix")
	}
	if len(rest) != 43 {
		return bad(fmt.Sprintf("%d characters after the prefix", len(rest)))
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(rest)
	if err != nil || len(b) != 32 {
		return bad("not valid base64")
	}
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(b), nil
}
