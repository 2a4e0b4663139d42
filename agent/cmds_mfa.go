package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mdp/qrterminal/v3"
	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/mfa"
	"github.com/orchd/orchd/audit"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/secrets"
	"github.com/orchd/orchd/shell"
)

// newMFA builds the second-factor checker the Authenticator calls.
func (a *Agent) newMFA() *mfa.Manager {
	return &mfa.Manager{Secrets: agentSecrets(a), Mail: a.sendMail, Issuer: "orchd " + a.cfg.ID.String()}
}

// agentSecrets is the sealed store TOTP seeds and the SMTP password go in,
// looked up at each use: the store is opened after the Authenticator is
// built.
func agentSecrets(a *Agent) mfa.Secrets { return lazySecrets{a} }

type lazySecrets struct{ a *Agent }

func (l lazySecrets) store() (*secrets.Store, error) {
	if l.a.secrets == nil {
		return nil, mfa.ErrNoStore
	}
	return l.a.secrets, nil
}

func (l lazySecrets) Put(name, owner string, v []byte) error {
	st, err := l.store()
	if err != nil {
		return err
	}
	return st.Put(name, owner, v)
}

func (l lazySecrets) Get(name string) ([]byte, error) {
	st, err := l.store()
	if err != nil {
		return nil, err
	}
	return st.Get(name)
}

func (l lazySecrets) Delete(name string) error {
	st, err := l.store()
	if err != nil {
		return err
	}
	if err := st.Delete(name); err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return err
	}
	return nil
}

// Ready says why secrets cannot be written now (no store, not
// initialized, sealed), or nil.
func (l lazySecrets) Ready() error {
	st, err := l.store()
	if err != nil {
		return err
	}
	if st.Sealed() {
		if _, err := st.Get(mfa.MailSecretName); err != nil && !errors.Is(err, secrets.ErrNotFound) {
			return err
		}
		return secrets.ErrSealed
	}
	return nil
}

// sendMail sends through the configured mail server; its password, if
// any, comes from the secret store.
func (a *Agent) sendMail(ctx context.Context, to, subject, body string) error {
	ms := a.db.Running().MailServer
	if ms == nil {
		return errors.New("no mail server is configured: set mail-server host H")
	}
	pw := ""
	if ms.User != "" {
		b, err := agentSecrets(a).Get(mfa.MailSecretName)
		if err != nil {
			return fmt.Errorf("reading the mail server password: %w", err)
		}
		pw = string(b)
	}
	return ms.Send(ctx, pw, to, subject, body)
}

func (a *Agent) registerMFACommands(e *shell.Engine, s *adminSession) {
	users := func() []string {
		var out []string
		for _, u := range a.db.Running().Users {
			out = append(out, u.Name)
		}
		return out
	}
	// A user may turn their own second factor on or off; changing another
	// user's needs users read-write and the configuration lock. So these
	// commands are not Write (a read-only session may enrol itself) and
	// check in Run.
	mayChange := func(c *shell.Ctx, name string) error {
		if _, ok := a.db.LookupUser(name); !ok {
			return fmt.Errorf("no user %q: expected one of %s", name, strings.Join(users(), ", "))
		}
		if name == s.user {
			return nil
		}
		role, err := a.currentRole(s)
		if err != nil {
			return err
		}
		if !role.ReadWrite(aaa.FeatureUsers) {
			return fmt.Errorf("needs feature %s read-write to change the two-factor setting of another user (%s); user %s has roles %s",
				aaa.FeatureUsers, name, s.user, role.Name)
		}
		if c.ReadOnly {
			return errors.New(c.ReadOnlyReason)
		}
		return nil
	}
	audited := func(c *shell.Ctx, name, what string, err error) error {
		ev := audit.Event{Type: "command", User: s.user, Source: s.from, Command: c.Line, Result: "ok",
			Fields: map[string]string{"target": name, "two_factor": what}}
		if err != nil {
			ev.Result, ev.Reason = "failed", err.Error()
		}
		a.record(ev)
		if err == nil {
			a.log.WithField("user", s.user).WithField("target", name).WithField("two_factor", what).Warn("two-factor changed")
			a.markDirty()
		}
		return err
	}
	set := func(name string, tf *aaa.TwoFactor) error {
		err := a.db.Update(func(d *configdb.Doc) error { return d.SetTwoFactor(name, tf) })
		a.markDirty()
		return err
	}
	cmp := map[string]shell.Completer{"name": users}

	e.Register(shell.Command{Syntax: "set user <name:user> two-factor totp", Help: "turn on an authenticator-app code (shows a QR code, then asks for a code)",
		Feature: aaa.FeatureUsers, Complete: cmp,
		Run: func(c *shell.Ctx, x shell.Args) error {
			name := x.String("name")
			if err := mayChange(c, name); err != nil {
				return err
			}
			k, err := a.mfa.NewTOTP(name)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "Add this account to an authenticator app (RFC 6238: SHA-1, 30 s, 6 digits).\nScan the QR code or enter the URI:\n\n%s\n\n", k.URI)
			qrterminal.GenerateWithConfig(k.URI, qrterminal.Config{Level: qrterminal.L, Writer: c.Out, HalfBlocks: true,
				BlackChar: qrterminal.BLACK_BLACK, WhiteBlackChar: qrterminal.WHITE_BLACK, WhiteChar: qrterminal.WHITE_WHITE,
				BlackWhiteChar: qrterminal.BLACK_WHITE, QuietZone: 1})
			code, err := c.Prompt("code", "\nCode shown by the app: ", false)
			if err != nil {
				return err
			}
			err = a.mfa.ConfirmTOTP(name, k, code)
			if err == nil {
				err = set(name, &aaa.TwoFactor{Method: aaa.TwoFactorTOTP})
			} else {
				err = fmt.Errorf("%w: two-factor not turned on", err)
			}
			if err = audited(c, name, "totp", err); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "two-factor (totp) is on for %s: the next login asks for a code\n", name)
			return nil
		}})
	e.Register(shell.Command{Syntax: "set user <name:user> two-factor email <address:text>", Help: "turn on email codes (sends a code to ADDRESS, then asks for it)",
		Feature: aaa.FeatureUsers, Complete: cmp,
		Run: func(c *shell.Ctx, x shell.Args) error {
			name := x.String("name")
			if err := mayChange(c, name); err != nil {
				return err
			}
			addr, err := mfa.ValidateAddress(x.String("address"))
			if err != nil {
				return err
			}
			if err := a.mfa.SendEnrolCode(c.Context, name, addr); err != nil {
				return err
			}
			code, err := c.Prompt("code", fmt.Sprintf("Code sent to %s: ", addr), false)
			if err != nil {
				return err
			}
			err = a.mfa.ConfirmEmail(name, addr, code)
			if err == nil {
				err = set(name, &aaa.TwoFactor{Method: aaa.TwoFactorEmail, Email: addr})
			} else {
				err = fmt.Errorf("%w: two-factor not turned on", err)
			}
			if err = audited(c, name, "email", err); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "two-factor (email to %s) is on for %s\n", addr, name)
			return nil
		}})
	e.Register(shell.Command{Syntax: "set user <name:user> two-factor off", Help: "turn a user's second factor off",
		Feature: aaa.FeatureUsers, Complete: cmp,
		Run: func(c *shell.Ctx, x shell.Args) error {
			name := x.String("name")
			if err := mayChange(c, name); err != nil {
				return err
			}
			if err := audited(c, name, "off", set(name, nil)); err != nil {
				return err
			}
			if err := a.mfa.Off(name); err != nil {
				a.log.WithError(err).WithField("target", name).Warn("two-factor off: the TOTP seed stays in the secret store until replaced")
			}
			fmt.Fprintf(c.Out, "two-factor is off for %s\n", name)
			return nil
		}})

	e.Register(shell.Command{
		Syntax: "set mail-server host <host:text> [port <port:number:1-65535>] [from <from:text>] [starttls <starttls:onoff>] [user <smtpuser:text> prompt-secret]",
		Help:   "the SMTP server email verification codes go through", Write: true, Feature: aaa.FeatureAAA,
		Describe: map[string]string{"starttls": "on (default): require STARTTLS; off: send in clear", "user": "log in to the server; its password is asked (key \"secret\") and sealed"},
		Run: func(c *shell.Ctx, x shell.Args) error {
			ms := mfa.MailServer{Host: x.String("host"), Port: mfa.DefaultMailPort, From: "orchd@localhost", StartTLS: true}
			if x.Has("port") {
				ms.Port = x.Int("port")
			}
			if x.Has("from") {
				ms.From = x.String("from")
			}
			if x.Has("starttls") {
				ms.StartTLS = x.On("starttls")
			}
			if x.Has("smtpuser") {
				ms.User = x.String("smtpuser")
			}
			if err := ms.Validate(); err != nil {
				return err
			}
			st := agentSecrets(a)
			if ms.User != "" {
				if err := st.(lazySecrets).Ready(); err != nil {
					return err
				}
				pw, err := c.Prompt("secret", "SMTP password: ", true)
				if err != nil {
					return err
				}
				if pw == "" {
					return errors.New("empty SMTP password: nothing changed")
				}
				if err := st.Put(mfa.MailSecretName, mfa.Owner, []byte(pw)); err != nil {
					return fmt.Errorf("storing the SMTP password: %w", err)
				}
			} else if st.(lazySecrets).Ready() == nil {
				st.Delete(mfa.MailSecretName) // no login: no password to keep
			}
			err := a.db.Update(func(d *configdb.Doc) error { return d.SetMailServer(&ms) })
			a.markDirty()
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "mail server %s:%d set\n", ms.Host, ms.Port)
			return nil
		}})
	e.Register(shell.Command{Syntax: "show mail-server", Help: "the SMTP server of email verification codes (never its password)", Feature: aaa.FeatureAAA,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			ms := a.db.Running().MailServer
			if ms == nil {
				fmt.Fprintln(c.Out, "no mail server is configured (set mail-server host H)")
				return nil
			}
			user, pw := "-", "-"
			if ms.User != "" {
				user, pw = ms.User, "set (in the secret store, not shown)"
			}
			starttls := "off"
			if ms.StartTLS {
				starttls = "on"
			}
			fmt.Fprintf(c.Out, "Host:      %s\nPort:      %d\nFrom:      %s\nSTARTTLS:  %s\nUser:      %s\nPassword:  %s\n", ms.Host, ms.Port, ms.From, starttls, user, pw)
			return nil
		}})
}
