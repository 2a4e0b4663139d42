// Package secrets owns the sealed secret store (DESIGN §9): provider
// secrets, LDAP bind passwords, the SMTP password, TOTP seeds and API tokens,
// each encrypted under one random data key, which is itself wrapped under a
// key derived from the cluster passphrase (argon2id). Nothing else in orchd
// reads secret bytes from disk.
//
// The store is one file, rewritten atomically (package atomicfile, 0600) on
// every change, so kill -9 at any moment leaves the old or the new content.
// Changing the passphrase rewraps only the data key: the secrets' ciphertexts
// are copied unchanged.
//
// # File format (version 1)
//
// A text file of lines, every byte of which is authenticated:
//
//	orchd-secrets v1
//	kdf argon2id t=3 m=65536 p=2 salt=BASE64
//	key term=1 BASE64(nonce || XChaCha20-Poly1305(KEK, dataKey, AAD = the two lines above))
//	auto BASE64(nonce || XChaCha20-Poly1305(unsealKey, dataKey, AAD = "orchd-secrets v1 auto"))   (optional)
//	secret NAME OWNER UPDATED-UNIX-NANOS term=1 BASE64(nonce || XChaCha20-Poly1305(entryKey, value, AAD = name, owner, term))
//	mac BASE64(HMAC-SHA256(macKey, every byte above))
//	sum HEX(SHA-256(every byte above))
//
// KEK = argon2id(passphrase, salt, t, m, p); entryKey and macKey are derived
// from the data key with HKDF-SHA256 under separate labels. The KDF parameters
// are capped when reading, so a tampered header cannot make an unseal
// allocate gigabytes. The sum line tells a damaged or naively edited file
// ("damaged") apart from a wrong passphrase (the key line does not open) and
// from a crafted edit (the MAC does not verify: "altered").
package secrets
