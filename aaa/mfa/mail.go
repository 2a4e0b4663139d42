package mfa

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// MailServer is the SMTP server email codes go through (`set mail-server`).
// Its password lives in the secret store as MailSecretName.
type MailServer struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	From     string `json:"from"`
	StartTLS bool   `json:"starttls"`
	User     string `json:"user,omitempty"`
}

// MailSecretName is the SMTP password's name in the secret store.
const MailSecretName = "aaa/mail-server"

// Defaults of `set mail-server`.
const (
	DefaultMailPort = 25
	mailTimeout     = 10 * time.Second
)

// DefaultFrom is the sender when none is configured.
func DefaultFrom(host string) string { return "orchd@" + host }

// ValidateHost checks a mail server host: a DNS name or an IP address.
func ValidateHost(h string) error {
	ok := len(h) > 0 && len(h) <= 253
	for i := 0; ok && i < len(h); i++ {
		c := h[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':'
	}
	if !ok || strings.HasPrefix(h, "-") || strings.HasPrefix(h, ".") {
		return fmt.Errorf("invalid mail server host %q: expected a host name or an IP address", h)
	}
	return nil
}

// ValidateAddress checks an email address and returns its bare form
// ("a@b.example"); display names and anything that could inject a header
// are refused.
func ValidateAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || strings.ContainsAny(s, "\r\n<>\" ,;") {
		return "", fmt.Errorf("invalid email address %q: expected a bare address such as admin@example.com", s)
	}
	return a.Address, nil
}

// Validate checks the whole setting.
func (m MailServer) Validate() error {
	if err := ValidateHost(m.Host); err != nil {
		return err
	}
	if m.Port < 1 || m.Port > 65535 {
		return fmt.Errorf("invalid mail server port %d: expected 1-65535", m.Port)
	}
	if _, err := ValidateAddress(m.From); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if m.User != "" && strings.ContainsAny(m.User, "\x00\r\n") {
		return fmt.Errorf("invalid mail server user %q: expected a user name without control characters", m.User)
	}
	return nil
}

// Send delivers one plain-text message through m. password is used when
// m.User is set; it is sent only over TLS (STARTTLS) or to a loopback
// server, as net/smtp's PLAIN auth insists.
func (m MailServer) Send(ctx context.Context, password, to, subject, body string) error {
	if _, err := ValidateAddress(to); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	addr := net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connecting to mail server %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, m.Host)
	if err != nil {
		return fmt.Errorf("mail server %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("mail server %s: EHLO: %w", addr, err)
	}
	if m.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("mail server %s does not offer STARTTLS (set mail-server ... starttls off to send in clear)", addr)
		}
		if err := c.StartTLS(&tls.Config{ServerName: m.Host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("mail server %s: STARTTLS: %w", addr, err)
		}
	}
	if m.User != "" {
		if err := c.Auth(smtp.PlainAuth("", m.User, password, m.Host)); err != nil {
			return fmt.Errorf("mail server %s: login as %s: %w", addr, m.User, err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("mail server %s: MAIL FROM: %w", addr, err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("mail server %s: RCPT TO %s: %w", addr, to, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail server %s: DATA: %w", addr, err)
	}
	msg := "From: " + m.From + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body
	if _, err := w.Write([]byte(msg)); err != nil {
		return fmt.Errorf("mail server %s: writing the message: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail server %s: message refused: %w", addr, err)
	}
	if err := c.Quit(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("mail server %s: QUIT: %w", addr, err)
	}
	return nil
}
