package configdb

import (
	"fmt"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/aaa/mfa"
)

// SetTwoFactor turns user name's second factor on (tf) or off (nil). The
// TOTP seed itself lives in the secret store, never here.
func (d *Doc) SetTwoFactor(name string, tf *aaa.TwoFactor) error {
	i, err := d.mustUser(name)
	if err != nil {
		return err
	}
	if tf != nil {
		c := *tf
		tf = &c
		if err := validateTwoFactor(name, tf); err != nil {
			return err
		}
	}
	d.Users[i].TwoFactor = tf
	return nil
}

func validateTwoFactor(user string, tf *aaa.TwoFactor) error {
	switch tf.Method {
	case aaa.TwoFactorTOTP:
		if tf.Email != "" {
			return fmt.Errorf("user %q: two-factor totp takes no email address", user)
		}
	case aaa.TwoFactorEmail:
		if _, err := mfa.ValidateAddress(tf.Email); err != nil {
			return fmt.Errorf("user %q: two-factor email: %w", user, err)
		}
	default:
		return fmt.Errorf("user %q: two-factor method %q: expected totp or email", user, tf.Method)
	}
	return nil
}

// SetMailServer sets (or with nil removes) the SMTP server of email codes.
func (d *Doc) SetMailServer(m *mfa.MailServer) error {
	if m != nil {
		c := *m
		if err := c.Validate(); err != nil {
			return err
		}
		m = &c
	}
	d.MailServer = m
	return nil
}

// validateMFA is Validate's part for two-factor and the mail server.
func (d Doc) validateMFA() error {
	for _, u := range d.Users {
		if u.TwoFactor != nil {
			if err := validateTwoFactor(u.Name, u.TwoFactor); err != nil {
				return err
			}
		}
	}
	if d.MailServer != nil {
		if err := d.MailServer.Validate(); err != nil {
			return fmt.Errorf("mail server: %w", err)
		}
	}
	return nil
}

// mfaCommands are the show-configuration lines of two-factor settings.
// Turning two-factor on needs the user's code, so these lines say what is
// on rather than recreate it silently.
func (d Doc) mfaCommands() []string {
	var lines []string
	if m := d.MailServer; m != nil {
		l := fmt.Sprintf("set mail-server host %s port %d from %s starttls %s", m.Host, m.Port, m.From, onOff(m.StartTLS))
		if m.User != "" {
			l += fmt.Sprintf(" user %s prompt-secret", m.User)
		}
		lines = append(lines, l)
	}
	for _, u := range d.Users {
		switch {
		case u.TwoFactor == nil:
		case u.TwoFactor.Method == aaa.TwoFactorEmail:
			lines = append(lines, fmt.Sprintf("set user %s two-factor email %s", u.Name, u.TwoFactor.Email))
		default:
			lines = append(lines, fmt.Sprintf("set user %s two-factor %s", u.Name, u.TwoFactor.Method))
		}
	}
	return lines
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
