package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/domain"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

var secret = []byte("test-secret")

// server runs a layeh PacketServer on 127.0.0.1:0 with h and returns its
// port.
func server(t *testing.T, h radius.HandlerFunc) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &radius.PacketServer{Handler: h, SecretSource: radius.StaticSecretSource(secret), ErrorLog: log.New(io.Discard, "", 0)}
	go s.Serve(pc)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// requestMAValid checks the request's Message-Authenticator as a server
// that requires it would.
func requestMAValid(p *radius.Packet) bool {
	raw, err := p.MarshalBinary()
	if err != nil {
		return false
	}
	off, err := findAttr(raw, typeMessageAuthenticator)
	if err != nil || off < 0 {
		return false
	}
	got := bytes.Clone(raw[off+2 : off+18])
	clear(raw[off+2 : off+18])
	mac := hmac.New(md5.New, p.Secret)
	mac.Write(raw)
	return hmac.Equal(mac.Sum(nil), got)
}

// signResponse adds a Message-Authenticator to resp, a response to req.
func signResponse(t *testing.T, resp *radius.Packet, req *radius.Packet, corrupt bool) {
	t.Helper()
	resp.Add(typeMessageAuthenticator, make([]byte, 16))
	b, err := resp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	copy(b[4:20], req.Authenticator[:])
	mac := hmac.New(md5.New, resp.Secret)
	mac.Write(b)
	sum := mac.Sum(nil)
	if corrupt {
		sum[0] ^= 1
	}
	resp.Attributes.Del(typeMessageAuthenticator)
	resp.Add(typeMessageAuthenticator, sum)
}

func checkPassword(r *radius.Request, want string) bool {
	if chap := rfc2865.CHAPPassword_Get(r.Packet); len(chap) == 17 {
		h := md5.New()
		h.Write(chap[:1])
		h.Write([]byte(want))
		h.Write(rfc2865.CHAPChallenge_Get(r.Packet))
		return bytes.Equal(h.Sum(nil), chap[1:])
	}
	return rfc2865.UserPassword_GetString(r.Packet) == want
}

func accept(t *testing.T, avpairs ...string) radius.HandlerFunc {
	return func(w radius.ResponseWriter, r *radius.Request) {
		if !requestMAValid(r.Packet) {
			return // as require_message_authenticator = yes: silently dropped
		}
		if rfc2865.UserName_GetString(r.Packet) != "alice" || !checkPassword(r, "pw") {
			resp := r.Response(radius.CodeAccessReject)
			rfc2865.ReplyMessage_SetString(resp, "nope")
			w.Write(resp)
			return
		}
		resp := r.Response(radius.CodeAccessAccept)
		for _, v := range avpairs {
			a, err := CiscoVSA(v)
			if err != nil {
				t.Error(err)
			}
			resp.Add(typeVendorSpec, a)
		}
		signResponse(t, resp, r.Packet, false)
		w.Write(resp)
	}
}

func client(t *testing.T, port int, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Host: "127.0.0.1", Port: port, Secret: secret, Timeout: 300 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAuthenticate(t *testing.T) {
	port := server(t, accept(t, "shell:msc-roles=adminRole", "priv-lvl=15"))
	for _, proto := range []string{PAP, CHAP} {
		t.Run(proto, func(t *testing.T) {
			c := client(t, port, func(c *Config) { c.Protocol = proto })
			res, err := c.Authenticate(context.Background(), "alice", "pw")
			if err != nil {
				t.Fatalf("accept: %v", err)
			}
			if got := strings.Join(res.Values, ";"); got != "shell:msc-roles=adminRole;priv-lvl=15" {
				t.Errorf("values = %q", got)
			}
			_, err = c.Authenticate(context.Background(), "alice", "wrong")
			if !errors.Is(err, aaa.ErrRejected) || !strings.Contains(err.Error(), `"nope"`) {
				t.Errorf("wrong password: %v, want a rejection with the reply message", err)
			}
			_, err = c.Authenticate(context.Background(), "alice", "")
			if !errors.Is(err, aaa.ErrRejected) {
				t.Errorf("empty password: %v, want a rejection", err)
			}
		})
	}
}

func TestCouldNotAsk(t *testing.T) {
	var calls atomic.Int32
	drop := server(t, func(w radius.ResponseWriter, r *radius.Request) { calls.Add(1) })
	delay := server(t, func(w radius.ResponseWriter, r *radius.Request) {
		calls.Add(1)
		time.Sleep(150 * time.Millisecond)
		accept(t)(w, r)
	})
	wrongSecret := server(t, func(w radius.ResponseWriter, r *radius.Request) {
		resp := r.Response(radius.CodeAccessAccept)
		resp.Secret = []byte("other")
		w.Write(resp)
	})
	badMA := server(t, func(w radius.ResponseWriter, r *radius.Request) {
		resp := r.Response(radius.CodeAccessAccept)
		signResponse(t, resp, r.Packet, true)
		w.Write(resp)
	})
	// A port nobody listens on: ICMP port unreachable, no waiting.
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	closed := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()

	tests := []struct {
		name    string
		port    int
		timeout time.Duration
		tries   int
		want    string
		calls   int32
		cause   string // what the client is told (domain.Cause)
	}{
		{"drop", drop, 100 * time.Millisecond, 3, "no response after 3 attempt(s)", 3, "no answer in time"},
		{"delay beyond timeout", delay, 50 * time.Millisecond, 1, "no response", 1, "no answer in time"},
		{"wrong secret", wrongSecret, 100 * time.Millisecond, 1, "bad Response Authenticator", 0, "error"},
		{"bad message-authenticator", badMA, 100 * time.Millisecond, 1, "bad Message-Authenticator", 0, "error"},
		{"unreachable", closed, time.Second, 1, "refused", 0, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls.Store(0)
			c := client(t, tt.port, func(c *Config) { c.Timeout, c.Attempts = tt.timeout, tt.tries })
			start := time.Now()
			_, err := c.Authenticate(context.Background(), "alice", "pw")
			if err == nil || errors.Is(err, aaa.ErrRejected) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want could-not-ask containing %q", err, tt.want)
			}
			if el := time.Since(start); el > time.Duration(tt.tries)*tt.timeout+time.Second {
				t.Errorf("took %v", el)
			}
			if tt.calls > 0 && calls.Load() != tt.calls {
				t.Errorf("server saw %d requests, want %d", calls.Load(), tt.calls)
			}
			if got := domain.Cause(err); got != tt.cause {
				t.Errorf("cause of %v = %q, want %q", err, got, tt.cause)
			}
		})
	}
	t.Run("delay within timeout", func(t *testing.T) {
		c := client(t, delay, func(c *Config) { c.Timeout = time.Second })
		if _, err := c.Authenticate(context.Background(), "alice", "pw"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		c := client(t, drop, func(c *Config) { c.Timeout = 5 * time.Second })
		start := time.Now()
		if _, err := c.Authenticate(ctx, "alice", "pw"); err == nil || time.Since(start) > time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
	})
}

func TestNewRefuses(t *testing.T) {
	for _, cfg := range []Config{{Secret: secret}, {Host: "h"}, {Host: "h", Secret: secret, Protocol: "mschap"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
