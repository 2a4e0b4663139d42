package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/orchd/orchd/atomicfile"
	"golang.org/x/crypto/ssh"
)

// DefaultValidity is the certificate lifetime the design asks for.
const DefaultValidity = 365 * 24 * time.Hour

// Identity is an orchestrator's loaded key and certificate.
type Identity struct {
	ID      ID
	Key     ed25519.PrivateKey
	Cert    *x509.Certificate
	CertPEM []byte
}

// Public returns the identity's public key.
func (i *Identity) Public() ed25519.PublicKey { return i.Key.Public().(ed25519.PublicKey) }

// Fingerprint returns the identity key's fingerprint.
func (i *Identity) Fingerprint() string { return Fingerprint(i.Public()) }

// Files names where an identity lives on disk.
type Files struct{ Key, Pub, Cert string }

// ErrExists is returned by Create when an identity is already on disk.
var ErrExists = errors.New("identity already exists")

// Create generates a new key and certificate for id and writes them. It
// refuses to replace an existing key unless force is set, because a new key
// silently breaks every peer's trust in this orchestrator.
func Create(f Files, id ID, validity time.Duration, force bool) (*Identity, error) {
	if !force {
		if _, err := os.Stat(f.Key); err == nil {
			return nil, fmt.Errorf("%w at %s: peers trust its key; use --force to replace it (every peer must then re-establish trust)", ErrExists, f.Key)
		}
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating ed25519 key: %w", err)
	}
	certPEM, err := NewCertificate(id, key, validity, time.Now())
	if err != nil {
		return nil, err
	}
	blk, err := ssh.MarshalPrivateKey(key, "orchd "+id.String())
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	// Certificate first: a key without its certificate is recoverable (the
	// daemon re-issues), a certificate without its key is not.
	if err := atomicfile.WriteFile(f.Cert, certPEM, 0o644); err != nil {
		return nil, err
	}
	pubLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " orchd " + id.String() + "\n"
	if err := atomicfile.WriteFile(f.Pub, []byte(pubLine), 0o644); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(f.Key, pem.EncodeToMemory(blk), 0o600); err != nil {
		return nil, err
	}
	return Load(f)
}

// Load reads the identity key and certificate. The certificate must carry
// the same key.
func Load(f Files) (*Identity, error) {
	raw, err := os.ReadFile(f.Key)
	if err != nil {
		return nil, fmt.Errorf("reading identity key: %w", err)
	}
	k, err := ssh.ParseRawPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing identity key %s: %w", f.Key, err)
	}
	var key ed25519.PrivateKey
	switch v := k.(type) {
	case *ed25519.PrivateKey:
		key = *v
	case ed25519.PrivateKey:
		key = v
	default:
		return nil, fmt.Errorf("identity key %s is %T, expected ed25519", f.Key, k)
	}
	certPEM, err := os.ReadFile(f.Cert)
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %w", err)
	}
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", f.Cert, err)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("certificate %s does not carry the identity key", f.Cert)
	}
	id, err := CertificateID(cert)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", f.Cert, err)
	}
	return &Identity{ID: id, Key: key, Cert: cert, CertPEM: certPEM}, nil
}

// Renew issues a fresh certificate for the same key and writes it.
func (i *Identity) Renew(f Files, validity time.Duration, now time.Time) error {
	certPEM, err := NewCertificate(i.ID, i.Key, validity, now)
	if err != nil {
		return err
	}
	cert, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(f.Cert, certPEM, 0o644); err != nil {
		return err
	}
	i.Cert, i.CertPEM = cert, certPEM
	return nil
}

// idURI is the SAN that names the orchestrator ID in its certificate.
func idURI(id ID) *url.URL {
	return &url.URL{Scheme: "orchd", Host: "orchestrator", Path: "/" + id.String()}
}

// NewCertificate issues a self-signed certificate for key naming id, valid
// from one minute before now (clock skew) for validity.
func NewCertificate(id ID, key ed25519.PrivateKey, validity time.Duration, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "orchestrator " + id.String(), Organization: []string{"orchd"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		URIs:                  []*url.URL{idURI(id)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate for %s: %w", id, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// ParseCertificatePEM parses one PEM certificate.
func ParseCertificatePEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// CertificateID returns the orchestrator ID a certificate names.
func CertificateID(c *x509.Certificate) (ID, error) {
	for _, u := range c.URIs {
		if u.Scheme == "orchd" && u.Host == "orchestrator" && len(u.Path) > 1 {
			return ParseID(u.Path[1:])
		}
	}
	return ID{}, errors.New("certificate names no orchestrator ID")
}
