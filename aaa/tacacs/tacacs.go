// Package tacacs authenticates administrators against a TACACS+ server
// (RFC 8907): a PAP authentication, then an authorization request for
// service=shell whose reply arguments carry the role strings.
//
// It is a small client of its own rather than tacquito's: tacquito's root
// package pulls Prometheus (and its metrics registry) into the daemon, its
// dialer has no timeout, and its de-obfuscation is skipped when a reply
// sets the unencrypted flag. Here every step has a deadline, each request
// uses its own connection (as many servers close after one), and a reply
// with the unencrypted flag is refused. Tests run it against tacquito's
// server.
package tacacs

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/orchd/orchd/aaa"
)

// Defaults from DESIGN §8.5.
const (
	DefaultPort    = 49
	DefaultTimeout = 3 * time.Second
)

// Config is one TACACS+ provider.
type Config struct {
	Host     string
	Port     int // DefaultPort when 0
	Timeout  time.Duration
	Attempts int // tries when the server cannot be asked; 1 when 0
	Secret   []byte
	// Port and RemAddr fields of the requests (informational).
	TTY     string
	RemAddr string
}

// Client is a TACACS+ provider.
type Client struct{ cfg Config }

// New checks cfg and returns its client.
func New(cfg Config) (*Client, error) {
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 1
	}
	if cfg.TTY == "" {
		cfg.TTY = "ssh"
	}
	switch {
	case cfg.Host == "":
		return nil, errors.New("tacacs: no host")
	case len(cfg.Secret) == 0:
		return nil, errors.New("tacacs: no shared secret")
	}
	return &Client{cfg: cfg}, nil
}

// Addr is the server's host:port.
func (c *Client) Addr() string { return net.JoinHostPort(c.cfg.Host, strconv.Itoa(c.cfg.Port)) }

// Authenticate authenticates user with PAP and asks authorization for
// service=shell; the reply's arguments are the result's Values. A FAIL
// from either step is an error matching aaa.ErrRejected.
func (c *Client) Authenticate(ctx context.Context, user, password string) (aaa.ProviderResult, error) {
	if password == "" {
		return aaa.ProviderResult{}, fmt.Errorf("%w: empty password", aaa.ErrRejected)
	}
	if len(user) > 255 || len(password) > 255 {
		return aaa.ProviderResult{}, fmt.Errorf("%w: user name or password longer than 255 bytes", aaa.ErrRejected)
	}
	var err error
	for i := 0; i < c.cfg.Attempts; i++ {
		if err = c.authenticate(ctx, user, password); err == nil || errors.Is(err, aaa.ErrRejected) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return aaa.ProviderResult{}, err
	}
	var args []string
	for i := 0; i < c.cfg.Attempts; i++ {
		if args, err = c.authorize(ctx, user); err == nil || errors.Is(err, aaa.ErrRejected) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return aaa.ProviderResult{}, err
	}
	return aaa.ProviderResult{Values: args}, nil
}

// Packet types, versions, flags and statuses from RFC 8907.
const (
	typeAuthen = 1
	typeAuthor = 2

	versionDefault = 0xc0
	versionOne     = 0xc1

	flagUnencrypted = 0x01

	authenLogin        = 1
	authenTypePAP      = 2
	authenServiceLogin = 1
	authenMethTACACS   = 6
	privLvlUser        = 1

	authenPass  = 1
	authenFail  = 2
	authenError = 7

	authorPassAdd  = 1
	authorPassRepl = 2
	authorFail     = 0x10
	authorError    = 0x11

	headerLen = 12
	maxBody   = 64 << 10
)

func (c *Client) authenticate(ctx context.Context, user, password string) error {
	body := []byte{authenLogin, privLvlUser, authenTypePAP, authenServiceLogin,
		byte(len(user)), byte(len(c.cfg.TTY)), byte(len(c.cfg.RemAddr)), byte(len(password))}
	body = append(body, user...)
	body = append(body, c.cfg.TTY...)
	body = append(body, c.cfg.RemAddr...)
	body = append(body, password...)
	reply, err := c.roundTrip(ctx, typeAuthen, versionOne, body)
	if err != nil {
		return err
	}
	r, err := parseAuthenReply(reply)
	if err != nil {
		return fmt.Errorf("tacacs %s: authentication reply: %w", c.Addr(), err)
	}
	switch r.status {
	case authenPass:
		return nil
	case authenFail:
		return fmt.Errorf("%w: authentication FAIL%s", aaa.ErrRejected, quoteMsg(r.msg))
	case authenError:
		return fmt.Errorf("tacacs %s: authentication ERROR%s", c.Addr(), quoteMsg(r.msg))
	}
	// GETDATA/GETUSER/GETPASS (a PAP login is one step), RESTART, FOLLOW.
	return fmt.Errorf("%w: authentication status %#x, which a PAP login does not expect%s", aaa.ErrRejected, r.status, quoteMsg(r.msg))
}

func (c *Client) authorize(ctx context.Context, user string) ([]string, error) {
	args := []string{"service=shell", "cmd="}
	body := []byte{authenMethTACACS, privLvlUser, authenTypePAP, authenServiceLogin,
		byte(len(user)), byte(len(c.cfg.TTY)), byte(len(c.cfg.RemAddr)), byte(len(args))}
	for _, a := range args {
		body = append(body, byte(len(a)))
	}
	body = append(body, user...)
	body = append(body, c.cfg.TTY...)
	body = append(body, c.cfg.RemAddr...)
	for _, a := range args {
		body = append(body, a...)
	}
	reply, err := c.roundTrip(ctx, typeAuthor, versionDefault, body)
	if err != nil {
		return nil, err
	}
	r, err := ParseAuthorReply(reply)
	if err != nil {
		return nil, fmt.Errorf("tacacs %s: authorization reply: %w", c.Addr(), err)
	}
	switch r.Status {
	case authorPassAdd, authorPassRepl:
		return r.Args, nil
	case authorFail:
		return nil, fmt.Errorf("%w: authorization FAIL for service=shell%s", aaa.ErrRejected, quoteMsg(r.Msg))
	case authorError:
		return nil, fmt.Errorf("tacacs %s: authorization ERROR%s", c.Addr(), quoteMsg(r.Msg))
	}
	return nil, fmt.Errorf("%w: authorization status %#x%s", aaa.ErrRejected, r.Status, quoteMsg(r.Msg))
}

// roundTrip sends one request packet (seq 1) on a new connection and
// reads the reply (seq 2), within the timeout.
func (c *Client) roundTrip(ctx context.Context, typ, version byte, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Addr())
	if err != nil {
		return nil, fmt.Errorf("tacacs %s: %w", c.Addr(), err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	var sid [4]byte
	if _, err := io.ReadFull(rand.Reader, sid[:]); err != nil {
		return nil, err
	}
	session := binary.BigEndian.Uint32(sid[:])
	hdr := Header{Version: version, Type: typ, Seq: 1, Session: session, Length: uint32(len(body))}
	pkt := hdr.Marshal()
	pkt = append(pkt, crypt(body, hdr, c.cfg.Secret)...)
	if _, err := conn.Write(pkt); err != nil {
		return nil, fmt.Errorf("tacacs %s: sending: %w", c.Addr(), c.ctxErr(ctx, err))
	}
	var hb [headerLen]byte
	if _, err := io.ReadFull(conn, hb[:]); err != nil {
		return nil, fmt.Errorf("tacacs %s: reading the reply: %w", c.Addr(), c.ctxErr(ctx, err))
	}
	rh, err := ParseHeader(hb[:])
	if err != nil {
		return nil, fmt.Errorf("tacacs %s: %w", c.Addr(), err)
	}
	switch {
	case rh.Flags&flagUnencrypted != 0:
		return nil, fmt.Errorf("tacacs %s: the reply sets the unencrypted flag: refused (a shared secret is configured)", c.Addr())
	case rh.Type != typ || rh.Seq != 2 || rh.Session != session:
		return nil, fmt.Errorf("tacacs %s: reply type %d seq %d session %#x does not answer type %d seq 1 session %#x", c.Addr(), rh.Type, rh.Seq, rh.Session, typ, session)
	case rh.Version>>4 != 0xc:
		return nil, fmt.Errorf("tacacs %s: reply major version %#x: expected 0xc", c.Addr(), rh.Version>>4)
	}
	rb := make([]byte, rh.Length)
	if _, err := io.ReadFull(conn, rb); err != nil {
		return nil, fmt.Errorf("tacacs %s: reading the reply body: %w", c.Addr(), c.ctxErr(ctx, err))
	}
	return crypt(rb, rh, c.cfg.Secret), nil
}

func (c *Client) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("no reply within %s: %w", c.cfg.Timeout, ctx.Err())
	}
	return err
}

// Header is the 12-byte TACACS+ packet header.
type Header struct {
	Version, Type, Seq, Flags byte
	Session, Length           uint32
}

// Marshal encodes h.
func (h Header) Marshal() []byte {
	b := []byte{h.Version, h.Type, h.Seq, h.Flags, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:8], h.Session)
	binary.BigEndian.PutUint32(b[8:12], h.Length)
	return b
}

// ParseHeader decodes a header; a body longer than 64 KiB is refused.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < headerLen {
		return Header{}, fmt.Errorf("header of %d bytes: expected %d", len(b), headerLen)
	}
	h := Header{Version: b[0], Type: b[1], Seq: b[2], Flags: b[3],
		Session: binary.BigEndian.Uint32(b[4:8]), Length: binary.BigEndian.Uint32(b[8:12])}
	if h.Length > maxBody {
		return Header{}, fmt.Errorf("body length %d: expected at most %d", h.Length, maxBody)
	}
	return h, nil
}

// crypt (de)obfuscates body with the MD5 pad of RFC 8907 §4.5.
func crypt(body []byte, h Header, key []byte) []byte {
	out := make([]byte, len(body))
	var sid [4]byte
	binary.BigEndian.PutUint32(sid[:], h.Session)
	var prev []byte
	for i := 0; i < len(body); i += md5.Size {
		m := md5.New()
		m.Write(sid[:])
		m.Write(key)
		m.Write([]byte{h.Version, h.Seq})
		m.Write(prev)
		prev = m.Sum(nil)
		for j := 0; j < md5.Size && i+j < len(body); j++ {
			out[i+j] = body[i+j] ^ prev[j]
		}
	}
	return out
}

type authenReply struct {
	status byte
	msg    string
}

func parseAuthenReply(b []byte) (authenReply, error) {
	if len(b) < 6 {
		return authenReply{}, fmt.Errorf("%d bytes: expected at least 6", len(b))
	}
	msgLen := int(binary.BigEndian.Uint16(b[2:4]))
	dataLen := int(binary.BigEndian.Uint16(b[4:6]))
	if 6+msgLen+dataLen != len(b) {
		return authenReply{}, fmt.Errorf("lengths %d+%d do not match the body of %d bytes (wrong shared secret?)", msgLen, dataLen, len(b)-6)
	}
	return authenReply{status: b[0], msg: string(b[6 : 6+msgLen])}, nil
}

// AuthorReply is a decoded authorization RESPONSE body.
type AuthorReply struct {
	Status byte
	Msg    string
	Args   []string
}

// ParseAuthorReply decodes an authorization RESPONSE body; every length
// must add up exactly.
func ParseAuthorReply(b []byte) (AuthorReply, error) {
	if len(b) < 6 {
		return AuthorReply{}, fmt.Errorf("%d bytes: expected at least 6", len(b))
	}
	n := int(b[1])
	msgLen := int(binary.BigEndian.Uint16(b[2:4]))
	dataLen := int(binary.BigEndian.Uint16(b[4:6]))
	if len(b) < 6+n {
		return AuthorReply{}, fmt.Errorf("%d argument lengths do not fit in %d bytes (wrong shared secret?)", n, len(b))
	}
	total := 6 + n + msgLen + dataLen
	for _, l := range b[6 : 6+n] {
		total += int(l)
	}
	if total != len(b) {
		return AuthorReply{}, fmt.Errorf("lengths add up to %d bytes, the body has %d (wrong shared secret?)", total, len(b))
	}
	r := AuthorReply{Status: b[0]}
	off := 6 + n
	r.Msg = string(b[off : off+msgLen])
	off += msgLen + dataLen
	for _, l := range b[6 : 6+n] {
		r.Args = append(r.Args, string(b[off:off+int(l)]))
		off += int(l)
	}
	return r, nil
}

func quoteMsg(m string) string {
	if m == "" {
		return ""
	}
	b := []rune(m)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return fmt.Sprintf(" (%q)", string(b))
}
