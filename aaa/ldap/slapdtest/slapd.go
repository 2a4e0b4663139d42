// Package slapdtest runs a real OpenLDAP slapd for tests and benchmarks:
// its own directory, a test schema for ciscoAVPair, the memberof overlay,
// TLS from a test CA, on the addresses the caller gives. Stopped by PID.
// Never used by the daemon.
package slapdtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Directory facts the tests use.
const (
	Suffix   = "dc=orchd,dc=test"
	RootDN   = "cn=admin,dc=orchd,dc=test"
	RootPW   = "slapd-root-pw"
	PeopleDN = "ou=people,dc=orchd,dc=test"
	GroupsDN = "ou=groups,dc=orchd,dc=test"
)

// User is one test account.
type User struct {
	CN       string
	Password string
	AVPairs  []string // ciscoAVPair values
	Groups   []string // group CNs under GroupsDN it is a member of
}

// Server is a running slapd.
type Server struct {
	Dir    string
	CAFile string
	// URL per listener: "ldap://A:P" (plain and StartTLS) and "ldaps://A:P2".
	LDAP, LDAPS []string
	Port        int // plain port, the same on every address
	LDAPSPort   int
	cmd         *exec.Cmd
	exited      chan struct{}
	log         bytes.Buffer
}

// Lookup reports whether slapd is installed.
func Lookup() error {
	if _, err := os.Stat("/usr/sbin/slapd"); err != nil {
		return errors.New("slapd is not installed (apt-get install slapd ldap-utils; make test installs them as root)")
	}
	if _, err := os.Stat("/usr/lib/ldap/memberof.so"); err != nil {
		return errors.New("the slapd memberof module is missing (/usr/lib/ldap/memberof.so)")
	}
	return nil
}

// Start runs slapd in dir on every address of addrs (plain and ldaps
// ports picked free), with a server certificate naming certIPs only.
// Groups named by the users are created; then the users, over LDAP, so
// that the memberof overlay fills memberOf.
func Start(dir string, addrs []netip.Addr, certIPs []netip.Addr, users []User) (*Server, error) {
	if err := Lookup(); err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, exited: make(chan struct{})}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, err
	}
	if err := writeTLS(dir, certIPs); err != nil {
		return nil, err
	}
	s.CAFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(filepath.Join(dir, "orchd-test.schema"), []byte(schema), 0o644); err != nil {
		return nil, err
	}
	conf := strings.NewReplacer("@DIR@", dir, "@SUFFIX@", Suffix, "@ROOTDN@", RootDN, "@ROOTPW@", RootPW).Replace(slapdConf)
	if err := os.WriteFile(filepath.Join(dir, "slapd.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	var err error
	if s.Port, err = freePort(addrs[0]); err != nil {
		return nil, err
	}
	if s.LDAPSPort, err = freePort(addrs[0]); err != nil {
		return nil, err
	}
	var urls []string
	for _, a := range addrs {
		s.LDAP = append(s.LDAP, "ldap://"+net.JoinHostPort(a.String(), strconv.Itoa(s.Port)))
		s.LDAPS = append(s.LDAPS, "ldaps://"+net.JoinHostPort(a.String(), strconv.Itoa(s.LDAPSPort)))
		urls = append(urls, s.LDAP[len(s.LDAP)-1]+"/", s.LDAPS[len(s.LDAPS)-1]+"/")
	}
	s.cmd = exec.Command("/usr/sbin/slapd", "-d", "0", "-f", filepath.Join(dir, "slapd.conf"), "-h", strings.Join(urls, " "))
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting slapd: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(10 * time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.populate(users); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// PID is slapd's process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Log is what slapd printed.
func (s *Server) Log() string { return s.log.String() }

// Stop kills slapd by its PID and waits for it.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(3 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *Server) waitReady(max time.Duration) error {
	deadline := time.Now().Add(max)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("slapd exited at start: %s", s.log.String())
		default:
		}
		c, err := ldap.DialURL(s.LDAP[0], ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slapd not answering on %s after %s: %v: %s", s.LDAP[0], max, err, s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) populate(users []User) error {
	c, err := ldap.DialURL(s.LDAP[0])
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Bind(RootDN, RootPW); err != nil {
		return fmt.Errorf("binding as %s: %w", RootDN, err)
	}
	add := func(dn string, attrs map[string][]string) error {
		r := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			r.Attribute(k, v)
		}
		if err := c.Add(r); err != nil {
			return fmt.Errorf("adding %s: %w", dn, err)
		}
		return nil
	}
	if err := add(Suffix, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"orchd"}, "o": {"orchd test"}}); err != nil {
		return err
	}
	for _, ou := range []string{"people", "groups"} {
		if err := add("ou="+ou+","+Suffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {ou}}); err != nil {
			return err
		}
	}
	for _, u := range users {
		attrs := map[string][]string{"objectClass": {"inetOrgPerson", "orchdTestAccount"}, "cn": {u.CN}, "sn": {u.CN}, "userPassword": {u.Password}}
		if len(u.AVPairs) > 0 {
			attrs["ciscoAVPair"] = u.AVPairs
		}
		if err := add(UserDN(u.CN), attrs); err != nil {
			return err
		}
	}
	members := map[string][]string{}
	var order []string
	for _, u := range users {
		for _, g := range u.Groups {
			if _, ok := members[g]; !ok {
				order = append(order, g)
			}
			members[g] = append(members[g], UserDN(u.CN))
		}
	}
	for _, g := range order {
		if err := add(GroupDN(g), map[string][]string{"objectClass": {"groupOfNames"}, "cn": {g}, "member": members[g]}); err != nil {
			return err
		}
	}
	return nil
}

// UserDN and GroupDN name test entries.
func UserDN(cn string) string  { return "cn=" + cn + "," + PeopleDN }
func GroupDN(cn string) string { return "cn=" + cn + "," + GroupsDN }

func freePort(a netip.Addr) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(a.String(), "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeTLS writes ca.pem, server.pem and server.key: a test CA and a
// server certificate whose only names are ips.
func writeTLS(dir string, ips []netip.Addr) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "orchd test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "orchd test ldap"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	for name, blk := range map[string]*pem.Block{
		"ca.pem":     {Type: "CERTIFICATE", Bytes: caDER},
		"server.pem": {Type: "CERTIFICATE", Bytes: der},
		"server.key": {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(blk), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// schema defines ciscoAVPair under OpenLDAP's experimental arc, and an
// auxiliary class that may carry it.
const schema = `attributetype ( 1.3.6.1.4.1.4203.666.100.1 NAME 'ciscoAVPair'
	EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
objectclass ( 1.3.6.1.4.1.4203.666.100.2 NAME 'orchdTestAccount' AUXILIARY
	MAY ciscoAVPair )
`

const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include @DIR@/orchd-test.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile @DIR@/slapd.pid
TLSCACertificateFile @DIR@/ca.pem
TLSCertificateFile @DIR@/server.pem
TLSCertificateKeyFile @DIR@/server.key
database mdb
maxsize 16777216
suffix "@SUFFIX@"
rootdn "@ROOTDN@"
rootpw @ROOTPW@
directory @DIR@/db
overlay memberof
`
