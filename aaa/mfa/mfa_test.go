package mfa

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/totp"
)

var errSealed = errors.New("the secret store is sealed: run security unseal")

type fakeStore struct {
	mu     sync.Mutex
	sealed bool
	m      map[string][]byte
}

func (s *fakeStore) Put(name, owner string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed {
		return errSealed
	}
	s.m[name] = v
	return nil
}
func (s *fakeStore) Get(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed {
		return nil, errSealed
	}
	v, ok := s.m[name]
	if !ok {
		return nil, errors.New("no such secret")
	}
	return v, nil
}
func (s *fakeStore) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed {
		return errSealed
	}
	delete(s.m, name)
	return nil
}

type outbox struct {
	mu   sync.Mutex
	to   []string
	body []string
	fail error
}

func (o *outbox) send(_ context.Context, to, subject, body string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.to, o.body = append(o.to, to), append(o.body, body)
	return nil
}

var codeRE = regexp.MustCompile(`code for .* is (\d{6})\.`)

func (o *outbox) lastCode(t *testing.T) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.body) == 0 {
		t.Fatal("no mail sent")
	}
	m := codeRE.FindStringSubmatch(o.body[len(o.body)-1])
	if m == nil {
		t.Fatalf("no code in %q", o.body[len(o.body)-1])
	}
	return m[1]
}

func TestTOTPEnrolAndLogin(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	st := &fakeStore{m: map[string][]byte{}}
	m := &Manager{Secrets: st, Issuer: "orchd 1_1", Now: func() time.Time { return now }}
	k, err := m.NewTOTP("admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ConfirmTOTP("admin", k, "000000"); err == nil {
		t.Fatal("a wrong enrolment code stored the seed")
	}
	if _, err := st.Get(TOTPSecretName("admin")); err == nil {
		t.Fatal("seed stored before confirmation")
	}
	c, _ := totp.Code(k.Secret, now)
	if err := m.ConfirmTOTP("admin", k, c); err != nil {
		t.Fatal(err)
	}
	u := aaa.User{Name: "admin", TwoFactor: &aaa.TwoFactor{Method: aaa.TwoFactorTOTP}}
	ctx := context.Background()
	if err := m.Challenge(ctx, u); err != nil {
		t.Fatal(err)
	}
	// The enrolment code cannot be replayed at login.
	if err := m.Verify(ctx, u, c); !errors.Is(err, totp.ErrReplayed) {
		t.Errorf("enrolment code replayed at login: %v", err)
	}
	now = now.Add(totp.Period)
	c2, _ := totp.Code(k.Secret, now)
	if err := m.Verify(ctx, u, c2); err != nil {
		t.Errorf("next code refused: %v", err)
	}
	if err := m.Verify(ctx, u, c2); !errors.Is(err, totp.ErrReplayed) {
		t.Errorf("replayed login code: %v", err)
	}
	// Sealed: the second step cannot start; the message says why.
	st.sealed = true
	if err := m.Challenge(ctx, u); err == nil || !strings.Contains(err.Error(), "sealed") {
		t.Errorf("sealed store: %v", err)
	}
	st.sealed = false
	if err := m.Off("admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(TOTPSecretName("admin")); err == nil {
		t.Error("seed kept after two-factor off")
	}
	if _, err := (&Manager{}).NewTOTP("x"); !errors.Is(err, ErrNoStore) {
		t.Errorf("no store: %v", err)
	}
}

func TestEmailCodes(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ob := &outbox{}
	m := &Manager{Mail: ob.send, Issuer: "orchd 1_1", Now: func() time.Time { return now }}
	u := aaa.User{Name: "ops", TwoFactor: &aaa.TwoFactor{Method: aaa.TwoFactorEmail, Email: "ops@example.com"}}
	ctx := context.Background()

	tests := []struct {
		name string
		run  func(t *testing.T) error
		want error
	}{
		{"right code", func(t *testing.T) error {
			m.Challenge(ctx, u)
			return m.Verify(ctx, u, ob.lastCode(t))
		}, nil},
		{"used once", func(t *testing.T) error {
			m.Challenge(ctx, u)
			c := ob.lastCode(t)
			m.Verify(ctx, u, c)
			return m.Verify(ctx, u, c)
		}, ErrNoCode},
		{"expired after 5 minutes", func(t *testing.T) error {
			m.Challenge(ctx, u)
			c := ob.lastCode(t)
			now = now.Add(5 * time.Minute)
			return m.Verify(ctx, u, c)
		}, ErrCodeExpired},
		{"valid just before 5 minutes", func(t *testing.T) error {
			m.Challenge(ctx, u)
			c := ob.lastCode(t)
			now = now.Add(5*time.Minute - time.Second)
			return m.Verify(ctx, u, c)
		}, nil},
		{"wrong code", func(t *testing.T) error {
			m.Challenge(ctx, u)
			return m.Verify(ctx, u, "12345x")
		}, ErrWrongCode},
		{"dropped after five wrong codes", func(t *testing.T) error {
			m.Challenge(ctx, u)
			c := ob.lastCode(t)
			for range 5 {
				m.Verify(ctx, u, "------")
			}
			return m.Verify(ctx, u, c)
		}, ErrNoCode},
		{"an enrolment code is not a login code", func(t *testing.T) error {
			m.SendEnrolCode(ctx, "ops", "ops@example.com")
			return m.Verify(ctx, u, ob.lastCode(t))
		}, ErrNoCode},
		{"enrolment to another address", func(t *testing.T) error {
			m.SendEnrolCode(ctx, "ops", "new@example.com")
			return m.ConfirmEmail("ops", "other@example.com", ob.lastCode(t))
		}, ErrNoCode},
		{"enrolment confirmed", func(t *testing.T) error {
			m.SendEnrolCode(ctx, "ops", "new@example.com")
			return m.ConfirmEmail("ops", "new@example.com", ob.lastCode(t))
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(t); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	ob.fail = errors.New("connection refused")
	if err := m.Challenge(ctx, u); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("mail failure: %v", err)
	}
	if err := (&Manager{}).Challenge(ctx, u); err == nil || !strings.Contains(err.Error(), "set mail-server") {
		t.Errorf("no mail server: %v", err)
	}
}

func TestNewEmailCode(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := NewEmailCode()
		if err != nil || len(c) != 6 || strings.Trim(c, "0123456789") != "" {
			t.Fatalf("code %q, %v", c, err)
		}
		seen[c] = true
	}
	if len(seen) < 190 {
		t.Errorf("only %d distinct codes of 200", len(seen))
	}
}

func TestValidate(t *testing.T) {
	good := MailServer{Host: "127.0.0.1", Port: 25, From: "orchd@example.com"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		m    MailServer
		want string
	}{
		{MailServer{Host: "", Port: 25, From: "a@b.c"}, "host"},
		{MailServer{Host: "mail example", Port: 25, From: "a@b.c"}, `"mail example"`},
		{MailServer{Host: "-x", Port: 25, From: "a@b.c"}, "host"},
		{MailServer{Host: "m", Port: 0, From: "a@b.c"}, "port 0"},
		{MailServer{Host: "m", Port: 25, From: "Bob <a@b.c>"}, "bare address"},
		{MailServer{Host: "m", Port: 25, From: "a@b.c\r\nBcc: x@y.z"}, "bare address"},
	} {
		if err := tc.m.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.m, err, tc.want)
		}
	}
}

func FuzzValidateAddress(f *testing.F) {
	for _, s := range []string{"a@b.c", "Bob <a@b.c>", "a@b.c\r\nBcc: x", "\"x y\"@b.c", "@", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ValidateAddress(s)
		if err != nil {
			return
		}
		if a != s || strings.ContainsAny(a, "\r\n") {
			t.Fatalf("ValidateAddress(%q) = %q", s, a)
		}
	})
}
