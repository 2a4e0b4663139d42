// Package radius authenticates administrators against a RADIUS server
// (RFC 2865) with PAP or CHAP, and returns the Cisco-AVPair values of an
// Access-Accept as their role strings.
//
// Every Access-Request carries a Message-Authenticator (RFC 3579), and a
// response that carries one is verified (Blast-RADIUS, CVE-2024-3596):
// layeh.com/radius builds and parses the packets but does neither.
package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/orchd/orchd/aaa"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// Protocols.
const (
	PAP  = "pap"
	CHAP = "chap"
)

// Defaults from DESIGN §8.5.
const (
	DefaultPort    = 1812
	DefaultTimeout = 3 * time.Second
)

// Config is one RADIUS provider.
type Config struct {
	Host     string
	Port     int    // DefaultPort when 0
	Protocol string // PAP (default) or CHAP
	Timeout  time.Duration
	Attempts int // sends of the request, each waiting Timeout; 1 when 0
	Secret   []byte
	// NASIdentifier names this orchestrator in requests.
	NASIdentifier string
}

// Client is a RADIUS provider.
type Client struct{ cfg Config }

// New checks cfg and returns its client.
func New(cfg Config) (*Client, error) {
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Protocol == "" {
		cfg.Protocol = PAP
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 1
	}
	switch {
	case cfg.Host == "":
		return nil, errors.New("radius: no host")
	case cfg.Protocol != PAP && cfg.Protocol != CHAP:
		return nil, fmt.Errorf("radius: protocol %q: expected %s or %s", cfg.Protocol, PAP, CHAP)
	case len(cfg.Secret) == 0:
		return nil, errors.New("radius: no shared secret")
	}
	return &Client{cfg: cfg}, nil
}

// Addr is the server's host:port.
func (c *Client) Addr() string { return net.JoinHostPort(c.cfg.Host, strconv.Itoa(c.cfg.Port)) }

// Authenticate sends one Access-Request for user. Only an Access-Accept
// is success; an Access-Reject (or Challenge, which we do not answer) is
// an error matching aaa.ErrRejected. Anything else — no answer within
// Timeout after each of Attempts sends, an unreachable host, a response
// that fails verification — is "could not ask".
func (c *Client) Authenticate(ctx context.Context, user, password string) (aaa.ProviderResult, error) {
	if password == "" {
		return aaa.ProviderResult{}, fmt.Errorf("%w: empty password", aaa.ErrRejected)
	}
	req, err := c.request(user, password)
	if err != nil {
		return aaa.ProviderResult{}, err
	}
	resp, err := c.exchange(ctx, req)
	if err != nil {
		return aaa.ProviderResult{}, err
	}
	switch resp.Code {
	case radius.CodeAccessAccept:
		vals, err := CiscoAVPairs(resp)
		if err != nil {
			return aaa.ProviderResult{}, fmt.Errorf("radius %s: Access-Accept: %w", c.Addr(), err)
		}
		return aaa.ProviderResult{Values: vals}, nil
	case radius.CodeAccessReject:
		msg := rfc2865.ReplyMessage_GetString(resp)
		if msg != "" {
			return aaa.ProviderResult{}, fmt.Errorf("%w: Access-Reject (%q)", aaa.ErrRejected, printable(msg))
		}
		return aaa.ProviderResult{}, fmt.Errorf("%w: Access-Reject", aaa.ErrRejected)
	case radius.CodeAccessChallenge:
		return aaa.ProviderResult{}, fmt.Errorf("%w: Access-Challenge (challenge-response is not supported)", aaa.ErrRejected)
	}
	return aaa.ProviderResult{}, fmt.Errorf("radius %s: unexpected response code %v", c.Addr(), resp.Code)
}

// request builds the Access-Request with its Message-Authenticator.
func (c *Client) request(user, password string) (*radius.Packet, error) {
	p := radius.New(radius.CodeAccessRequest, c.cfg.Secret)
	if err := rfc2865.UserName_SetString(p, user); err != nil {
		return nil, fmt.Errorf("radius: user name: %w", err)
	}
	switch c.cfg.Protocol {
	case CHAP:
		challenge := make([]byte, 16)
		if _, err := io.ReadFull(rand.Reader, challenge); err != nil {
			return nil, err
		}
		id := p.Identifier
		h := md5.New()
		h.Write([]byte{id})
		h.Write([]byte(password))
		h.Write(challenge)
		rfc2865.CHAPPassword_Set(p, append([]byte{id}, h.Sum(nil)...))
		rfc2865.CHAPChallenge_Set(p, challenge)
	default:
		if err := rfc2865.UserPassword_SetString(p, password); err != nil {
			return nil, fmt.Errorf("radius: password: %w", err)
		}
	}
	if c.cfg.NASIdentifier != "" {
		rfc2865.NASIdentifier_SetString(p, c.cfg.NASIdentifier)
	}
	if err := SignRequest(p); err != nil {
		return nil, err
	}
	return p, nil
}

// exchange sends req up to Attempts times, each waiting Timeout, and
// returns the first authentic response.
func (c *Client) exchange(ctx context.Context, req *radius.Packet) (*radius.Packet, error) {
	wire, err := req.Encode()
	if err != nil {
		return nil, fmt.Errorf("radius: encoding the request: %w", err)
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	conn, err := d.DialContext(dctx, "udp", c.Addr())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("radius %s: %w", c.Addr(), err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, radius.MaxPacketLength)
	var lastBad error
	for attempt := 0; attempt < c.cfg.Attempts; attempt++ {
		if _, err := conn.Write(wire); err != nil {
			return nil, fmt.Errorf("radius %s: sending: %w", c.Addr(), err)
		}
		deadline := time.Now().Add(c.cfg.Timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		conn.SetReadDeadline(deadline)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, fmt.Errorf("radius %s: %w", c.Addr(), ctx.Err())
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // next attempt
				}
				return nil, fmt.Errorf("radius %s: %w", c.Addr(), err) // ICMP port unreachable
			}
			resp, err := verifyResponse(bytes.Clone(buf[:n]), wire, req.Secret)
			if err != nil {
				lastBad = err // a stray or forged datagram: keep waiting
				continue
			}
			return resp, nil
		}
	}
	if lastBad != nil {
		return nil, fmt.Errorf("radius %s: no valid response after %d attempt(s) of %s (last invalid one: %v)", c.Addr(), c.cfg.Attempts, c.cfg.Timeout, lastBad)
	}
	return nil, fmt.Errorf("radius %s: %w after %d attempt(s) of %s", c.Addr(), ErrTimeout, c.cfg.Attempts, c.cfg.Timeout)
}

// ErrTimeout is returned when no response arrived. It is a net.Error
// whose Timeout is true, so a login domain tells the client "no answer in
// time" as for any other timeout.
var ErrTimeout error = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string   { return "no response" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// verifyResponse checks raw against the request wire bytes: identifier,
// Response Authenticator, and the Message-Authenticator when present.
func verifyResponse(raw, wire, secret []byte) (*radius.Packet, error) {
	if len(raw) < 20 || raw[1] != wire[1] {
		return nil, errors.New("not a response to our request")
	}
	if !radius.IsAuthenticResponse(raw, wire, secret) {
		return nil, errors.New("bad Response Authenticator (wrong shared secret?)")
	}
	resp, err := radius.Parse(raw, secret)
	if err != nil {
		return nil, fmt.Errorf("malformed response: %w", err)
	}
	if err := VerifyResponseAuthenticator(raw, wire[4:20], secret); err != nil {
		return nil, err
	}
	return resp, nil
}

// typeMessageAuthenticator is RFC 3579's Message-Authenticator (80).
const typeMessageAuthenticator = 80

// SignRequest sets the Message-Authenticator of an Access-Request (or
// Status-Server): HMAC-MD5 under the shared secret over the packet with the
// field zeroed. Its Request Authenticator must be final.
func SignRequest(p *radius.Packet) error {
	p.Attributes.Del(typeMessageAuthenticator)
	p.Attributes.Add(typeMessageAuthenticator, make([]byte, 16))
	b, err := p.MarshalBinary()
	if err != nil {
		return fmt.Errorf("radius: encoding the request: %w", err)
	}
	mac := hmac.New(md5.New, p.Secret)
	mac.Write(b)
	p.Attributes.Del(typeMessageAuthenticator)
	p.Attributes.Add(typeMessageAuthenticator, mac.Sum(nil))
	return nil
}

// VerifyResponseAuthenticator checks the Message-Authenticator of a raw
// response, if it carries one: HMAC-MD5 over the response with the
// Request Authenticator in place of its own and the field zeroed. More
// than one, or one of the wrong length, is an error.
func VerifyResponseAuthenticator(raw, requestAuth, secret []byte) error {
	off, err := findAttr(raw, typeMessageAuthenticator)
	if err != nil || off < 0 {
		return err
	}
	b := bytes.Clone(raw)
	got := bytes.Clone(b[off+2 : off+18])
	copy(b[4:20], requestAuth)
	clear(b[off+2 : off+18])
	mac := hmac.New(md5.New, secret)
	mac.Write(b)
	if !hmac.Equal(mac.Sum(nil), got) {
		return errors.New("bad Message-Authenticator in the response")
	}
	return nil
}

// findAttr returns the offset of the one attribute of type t in raw, -1
// when there is none.
func findAttr(raw []byte, t byte) (int, error) {
	if len(raw) < 20 {
		return -1, errors.New("short packet")
	}
	found := -1
	for i := 20; i < len(raw); {
		if i+2 > len(raw) || raw[i+1] < 2 || i+int(raw[i+1]) > len(raw) {
			return -1, errors.New("malformed attributes")
		}
		if raw[i] == t {
			if found >= 0 {
				return -1, errors.New("more than one Message-Authenticator")
			}
			if raw[i+1] != 18 {
				return -1, errors.New("Message-Authenticator of the wrong length")
			}
			found = i
		}
		i += int(raw[i+1])
	}
	return found, nil
}

func printable(s string) string {
	b := []rune(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}
