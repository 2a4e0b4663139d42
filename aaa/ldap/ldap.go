// Package ldap authenticates administrators against an LDAP directory:
// bind as the service account, search for the one entry the filter names,
// bind as that entry with the user's password, then re-bind as the service
// account to read the entry's role attribute or its memberOf groups.
package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/orchd/orchd/aaa"
)

// TLS modes.
const (
	SSLOff      = "off"
	SSLStartTLS = "starttls"
	SSLLDAPS    = "ldaps"
)

// Validation levels.
const (
	Permissive  = "permissive"  // any certificate, for encryption only
	Restrictive = "restrictive" // the chain against the CA file, and the host name
)

// Authorization kinds.
const (
	AuthzAVPair   = "av-pair"
	AuthzGroupMap = "group-map"
)

// Defaults from DESIGN §8.5.
const (
	DefaultPort      = 389
	DefaultLDAPSPort = 636
	DefaultTimeout   = 3 * time.Second
	DefaultFilter    = "(cn={username})"
	DefaultAttribute = "ciscoAVPair"
	usernameToken    = "{username}"
	memberOf         = "memberOf"
)

// GroupMap grants Roles to members of the group DN.
type GroupMap struct {
	DN    string
	Roles []string
}

// Config is one LDAP provider.
type Config struct {
	Host          string
	Port          int // DefaultPort (DefaultLDAPSPort for ldaps) when 0
	BaseDN        string
	BindDN        string
	BindPassword  []byte
	SSL           string // SSLOff (default), SSLStartTLS, SSLLDAPS
	Validation    string // Restrictive (default) or Permissive
	CAFile        string // PEM roots for Restrictive; the system roots when ""
	Filter        string // DefaultFilter when ""; must hold {username}
	Authorization string // AuthzAVPair (default) or AuthzGroupMap
	Attribute     string // DefaultAttribute, or memberOf for group maps
	GroupMaps     []GroupMap
	Timeout       time.Duration
	Attempts      int
}

// Client is an LDAP provider.
type Client struct {
	cfg Config
	tls *tls.Config
}

// New checks cfg, loads the CA file and returns the client.
func New(cfg Config) (*Client, error) {
	if cfg.SSL == "" {
		cfg.SSL = SSLOff
	}
	if cfg.Validation == "" {
		cfg.Validation = Restrictive
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
		if cfg.SSL == SSLLDAPS {
			cfg.Port = DefaultLDAPSPort
		}
	}
	if cfg.Filter == "" {
		cfg.Filter = DefaultFilter
	}
	if cfg.Authorization == "" {
		cfg.Authorization = AuthzAVPair
	}
	if cfg.Attribute == "" {
		cfg.Attribute = DefaultAttribute
		if cfg.Authorization == AuthzGroupMap {
			cfg.Attribute = memberOf
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 1
	}
	if err := CheckFilter(cfg.Filter); err != nil {
		return nil, err
	}
	switch {
	case cfg.Host == "":
		return nil, errors.New("ldap: no host")
	case cfg.BaseDN == "" || cfg.BindDN == "":
		return nil, errors.New("ldap: base-dn and bind-dn are required")
	case cfg.SSL != SSLOff && cfg.SSL != SSLStartTLS && cfg.SSL != SSLLDAPS:
		return nil, fmt.Errorf("ldap: ssl %q: expected off, starttls or ldaps", cfg.SSL)
	case cfg.Validation != Permissive && cfg.Validation != Restrictive:
		return nil, fmt.Errorf("ldap: validation %q: expected permissive or restrictive", cfg.Validation)
	case cfg.Authorization != AuthzAVPair && cfg.Authorization != AuthzGroupMap:
		return nil, fmt.Errorf("ldap: authorization %q: expected av-pair or group-map", cfg.Authorization)
	}
	c := &Client{cfg: cfg}
	if cfg.SSL != SSLOff {
		// Only "permissive" may skip verification; restrictive checks the
		// chain and that the certificate names the configured host.
		c.tls = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
		switch cfg.Validation {
		case Permissive:
			c.tls.InsecureSkipVerify = true
		case Restrictive:
			if cfg.CAFile != "" {
				pem, err := os.ReadFile(cfg.CAFile)
				if err != nil {
					return nil, fmt.Errorf("ldap: reading ca-file: %w", err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return nil, fmt.Errorf("ldap: ca-file %s holds no PEM certificate", cfg.CAFile)
				}
				c.tls.RootCAs = pool
			}
		}
	}
	return c, nil
}

// CheckFilter checks that f is a filter holding {username} once.
func CheckFilter(f string) error {
	if strings.Count(f, usernameToken) != 1 {
		return fmt.Errorf("ldap filter %q: expected {username} exactly once, such as %s", f, DefaultFilter)
	}
	if _, err := ldap.CompileFilter(strings.Replace(f, usernameToken, "x", 1)); err != nil {
		return fmt.Errorf("ldap filter %q: %v", f, err)
	}
	return nil
}

// Filter returns the search filter for user, escaped.
func (c *Client) Filter(user string) string {
	return strings.Replace(c.cfg.Filter, usernameToken, ldap.EscapeFilter(user), 1)
}

// URL is the server's URL.
func (c *Client) URL() string {
	scheme := "ldap"
	if c.cfg.SSL == SSLLDAPS {
		scheme = "ldaps"
	}
	return scheme + "://" + net.JoinHostPort(c.cfg.Host, strconv.Itoa(c.cfg.Port))
}

// Authenticate logs user in. An empty password is refused before it
// reaches the server (an empty simple bind is an unauthenticated bind
// that servers accept, RFC 4513 §5.1.2). No entry, several entries, or
// wrong credentials match aaa.ErrRejected; connection, TLS and timeout
// failures do not.
func (c *Client) Authenticate(ctx context.Context, user, password string) (aaa.ProviderResult, error) {
	if password == "" {
		return aaa.ProviderResult{}, fmt.Errorf("%w: empty password", aaa.ErrRejected)
	}
	var res aaa.ProviderResult
	var err error
	for i := 0; i < c.cfg.Attempts; i++ {
		if res, err = c.attempt(ctx, user, password); err == nil || errors.Is(err, aaa.ErrRejected) || ctx.Err() != nil {
			break
		}
	}
	return res, err
}

func (c *Client) attempt(ctx context.Context, user, password string) (aaa.ProviderResult, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return aaa.ProviderResult{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if err := conn.Bind(c.cfg.BindDN, string(c.cfg.BindPassword)); err != nil {
		return aaa.ProviderResult{}, fmt.Errorf("ldap %s: binding as the service account %s: %w", c.URL(), c.cfg.BindDN, err)
	}
	secs := int(c.cfg.Timeout / time.Second)
	sr, err := conn.Search(ldap.NewSearchRequest(c.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, secs, false, c.Filter(user), []string{"1.1"}, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return aaa.ProviderResult{}, fmt.Errorf("ldap %s: searching %s: %w", c.URL(), c.cfg.Filter, err)
	}
	// Errors name the filter as configured, not as filled in: a name no
	// entry matches may be a password typed into the name field, and these
	// errors reach the log and the audit.
	switch n := len(sr.Entries); {
	case n == 0:
		return aaa.ProviderResult{}, fmt.Errorf("%w: no entry under %s matches %s", aaa.ErrRejected, c.cfg.BaseDN, c.cfg.Filter)
	case n > 1 || err != nil:
		return aaa.ProviderResult{}, fmt.Errorf("%w: more than one entry under %s matches %s: expected exactly one", aaa.ErrRejected, c.cfg.BaseDN, c.cfg.Filter)
	}
	dn := sr.Entries[0].DN
	if err := conn.Bind(dn, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return aaa.ProviderResult{}, fmt.Errorf("%w: invalid credentials for %s", aaa.ErrRejected, dn)
		}
		return aaa.ProviderResult{}, fmt.Errorf("ldap %s: binding as %s: %w", c.URL(), dn, err)
	}
	// The user may not read its own groups or role attribute: read them as
	// the service account.
	if err := conn.Bind(c.cfg.BindDN, string(c.cfg.BindPassword)); err != nil {
		return aaa.ProviderResult{}, fmt.Errorf("ldap %s: re-binding as the service account: %w", c.URL(), err)
	}
	er, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, secs, false, "(objectClass=*)", []string{c.cfg.Attribute}, nil))
	if err != nil || len(er.Entries) != 1 {
		return aaa.ProviderResult{}, fmt.Errorf("ldap %s: reading %s of %s: %v", c.URL(), c.cfg.Attribute, dn, err)
	}
	vals := er.Entries[0].GetEqualFoldAttributeValues(c.cfg.Attribute)
	if c.cfg.Authorization == AuthzGroupMap {
		return aaa.ProviderResult{GroupMap: true, Groups: vals, GroupRoles: MatchGroups(c.cfg.GroupMaps, vals)}, nil
	}
	return aaa.ProviderResult{Values: vals}, nil
}

func (c *Client) connect(ctx context.Context) (*ldap.Conn, error) {
	d := &net.Dialer{Timeout: c.cfg.Timeout}
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(d)}
	if c.cfg.SSL == SSLLDAPS {
		opts = append(opts, ldap.DialWithTLSConfig(c.tls))
	}
	conn, err := ldap.DialURL(c.URL(), opts...)
	if err != nil {
		return nil, fmt.Errorf("ldap %s: %w", c.URL(), err)
	}
	conn.SetTimeout(c.cfg.Timeout)
	if c.cfg.SSL == SSLStartTLS {
		if err := conn.StartTLS(c.tls); err != nil {
			conn.Close()
			return nil, tlsError{fmt.Errorf("ldap %s: StartTLS: %w", c.URL(), err)}
		}
	}
	return conn, nil
}

// tlsError is a StartTLS failure: go-ldap flattens the handshake error
// to text, so the error says itself that it is about TLS (the login
// domain tells the client "TLS failure" rather than "error").
type tlsError struct{ err error }

func (e tlsError) Error() string    { return e.err.Error() }
func (e tlsError) Unwrap() error    { return e.err }
func (e tlsError) TLSFailure() bool { return true }

// MatchGroups returns the roles of every group map whose DN is one of
// groups (DNs compared as DNs, case-insensitively), each role once.
func MatchGroups(maps []GroupMap, groups []string) []string {
	var out []string
	for _, g := range groups {
		gdn, err := ldap.ParseDN(g)
		if err != nil {
			continue
		}
		for _, m := range maps {
			mdn, err := ldap.ParseDN(m.DN)
			if err != nil || !gdn.EqualFold(mdn) {
				continue
			}
			for _, r := range m.Roles {
				if !contains(out, r) {
					out = append(out, r)
				}
			}
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
