package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/mgmtapi"
	"github.com/orchd/orchd/shell"
)

// registerManagementCommands adds the trusted-manager API commands (DESIGN §10).
func (a *Agent) registerManagementCommands(e *shell.Engine, change func(func(*configdb.Doc) error) error, roles shell.Completer) {
	tokens := func() []string {
		var out []string
		for _, t := range a.db.Running().Management.Tokens {
			out = append(out, t.Name)
		}
		return out
	}
	setThumb := func(c *shell.Ctx, tp mgmtapi.Thumbprint, host string) error {
		if err := change(func(d *configdb.Doc) error {
			d.Management.Thumbprint, d.Management.Hostname = tp.String(), host
			return nil
		}); err != nil {
			return err
		}
		closed := a.managerChanged()
		fmt.Fprintf(c.Out, "trusted manager: certificate thumbprint %s, role %s (in effect now", tp, a.db.Running().Management.ManagerRole())
		if closed > 0 {
			fmt.Fprintf(c.Out, "; %d connection(s) of the previous manager closed", closed)
		}
		fmt.Fprintln(c.Out, ")")
		return nil
	}
	e.Register(shell.Command{Syntax: "set management trusted-manager thumbprint <hex:text>", Help: "trust the manager whose client certificate has this SHA-1 thumbprint",
		Write: true, Feature: aaa.FeatureManagement, Describe: map[string]string{"hex": "40 hex digits; colons or spaces allowed (quote it with spaces)"},
		Run: func(c *shell.Ctx, x shell.Args) error {
			tp, err := mgmtapi.ParseThumbprint(x.String("hex"))
			if err != nil {
				return err
			}
			return setThumb(c, tp, "")
		}})
	e.Register(shell.Command{Syntax: "set management trusted-manager hostname <host:text> [thumbprint <hex:text>]",
		Help:  "fetch the certificate HOST[:PORT] presents (port 443 by default), show it and trust it as the manager",
		Write: true, Feature: aaa.FeatureManagement, Describe: map[string]string{"host": "the manager's host name or address, optionally :PORT"},
		Run: func(c *shell.Ctx, x shell.Args) error {
			var named *mgmtapi.Thumbprint
			if x.Has("hex") {
				tp, err := mgmtapi.ParseThumbprint(x.String("hex"))
				if err != nil {
					return err
				}
				named = &tp
			}
			hostport := x.String("host")
			if _, _, err := net.SplitHostPort(hostport); err != nil {
				hostport = net.JoinHostPort(hostport, "443")
			}
			cert, err := fetchCertificate(c.Context, hostport)
			if err != nil {
				return err
			}
			tp := mgmtapi.Of(cert)
			fmt.Fprintf(c.Out, "%s presents:\n  subject:     %s\n  issuer:      %s\n  valid:       %s to %s\n  SHA-1:       %s\n",
				hostport, cert.Subject, cert.Issuer, fmtTime(cert.NotBefore), fmtTime(cert.NotAfter), tp)
			if named != nil {
				if !named.Equal(tp) {
					return fmt.Errorf("%s presents thumbprint %s, not the %s named: nothing changed", hostport, tp, named)
				}
			} else {
				ok, err := c.Confirm("Trust this certificate as the trusted manager?")
				if err != nil {
					return fmt.Errorf("%w; or name the certificate: set management trusted-manager hostname %s thumbprint %s", err, x.String("host"), tp)
				}
				if !ok {
					return errors.New("not confirmed: nothing changed")
				}
			}
			return setThumb(c, tp, hostport)
		}})
	e.Register(shell.Command{Syntax: "set management trusted-manager role <role:role>", Help: "the role the trusted manager's requests get (default monitorRole)",
		Write: true, Feature: aaa.FeatureManagement, Complete: map[string]shell.Completer{"role": roles},
		Run: func(c *shell.Ctx, x shell.Args) error {
			return change(func(d *configdb.Doc) error { d.Management.Role = x.String("role"); return nil })
		}})
	e.Register(shell.Command{Syntax: "delete management trusted-manager", Help: "trust no manager (its connections are closed)",
		Write: true, Feature: aaa.FeatureManagement,
		Run: func(c *shell.Ctx, _ shell.Args) error {
			if a.db.Running().Management.Thumbprint == "" {
				return errors.New("no trusted manager is set: nothing to delete")
			}
			if err := change(func(d *configdb.Doc) error {
				d.Management.Thumbprint, d.Management.Hostname = "", ""
				return nil
			}); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "trusted manager deleted; %d connection(s) closed\n", a.managerChanged())
			return nil
		}})
	e.Register(shell.Command{Syntax: "add management token <name:text> role <role:role>", Help: "a bearer token for scripts (shown once)",
		Write: true, Feature: aaa.FeatureManagement, Complete: map[string]shell.Completer{"role": roles},
		Run: func(c *shell.Ctx, x shell.Args) error {
			name, role := x.String("name"), x.String("role")
			if err := configdb.ValidateTokenName(name); err != nil {
				return err
			}
			if slices.Contains(tokens(), name) {
				return fmt.Errorf("token %q exists: delete management token %s first, or security refreshtokens for a new value", name, name)
			}
			store := a.tokenStore()
			if store == nil {
				return errNoSecretStore
			}
			tok, err := newTokenString()
			if err != nil {
				return err
			}
			if err := a.saveToken(store, name, tokenValue{Current: tok}); err != nil {
				return err
			}
			if err := change(func(d *configdb.Doc) error {
				d.Management.Tokens = append(d.Management.Tokens, configdb.Token{Name: name, Role: role, Created: time.Now().UTC().Truncate(time.Second)})
				return nil
			}); err != nil {
				store.Delete(tokenSecretName(name))
				return err
			}
			fmt.Fprintf(c.Out, "token %s (role %s): %s\nIt is shown only now; use it as: curl -H 'Authorization: Bearer TOKEN' https://...:%d/api/v1/state\n", name, role, tok, a.cfg.ManagementPort)
			return nil
		}})
	e.Register(shell.Command{Syntax: "delete management token <name:text>", Help: "revoke a bearer token at once",
		Write: true, Feature: aaa.FeatureManagement, Complete: map[string]shell.Completer{"name": tokens},
		Run: func(c *shell.Ctx, x shell.Args) error {
			name := x.String("name")
			if !slices.Contains(tokens(), name) {
				return fmt.Errorf("no token %q: expected one of %s", name, strings.Join(append(tokens(), "(none)")[:max(len(tokens()), 1)], ", "))
			}
			if err := change(func(d *configdb.Doc) error {
				d.Management.Tokens = slices.DeleteFunc(d.Management.Tokens, func(t configdb.Token) bool { return t.Name == name })
				return nil
			}); err != nil {
				return err
			}
			if store := a.tokenStore(); store != nil {
				// The token stops working with the config entry; a sealed
				// store keeps the stale value until the next delete.
				store.Delete(tokenSecretName(name))
			}
			fmt.Fprintf(c.Out, "token %s deleted\n", name)
			return nil
		}})
	e.Register(shell.Command{Syntax: "show management", Help: "API listener, trusted manager, its role, tokens",
		Feature: aaa.FeatureManagement, Run: func(c *shell.Ctx, _ shell.Args) error {
			m := a.db.Running().Management
			listen := "off (management.port 0)"
			if a.cfg.ManagementPort != 0 {
				host := "all addresses"
				if a.cfg.MgmtAddress.IsValid() {
					host = a.cfg.MgmtAddress.String()
				}
				listen = fmt.Sprintf("https://%s:%d  (server key = identity key %s)", host, a.cfg.ManagementPort, a.identity().Fingerprint())
			}
			fmt.Fprintf(c.Out, "API:              %s\n", listen)
			switch {
			case m.Thumbprint == "":
				fmt.Fprintln(c.Out, "Trusted manager:  none (every client certificate is refused; set management trusted-manager thumbprint HEX)")
			case m.Hostname != "":
				fmt.Fprintf(c.Out, "Trusted manager:  SHA-1 %s (fetched from %s)\n", m.Thumbprint, m.Hostname)
			default:
				fmt.Fprintf(c.Out, "Trusted manager:  SHA-1 %s\n", m.Thumbprint)
			}
			fmt.Fprintf(c.Out, "Manager role:     %s\n", m.ManagerRole())
			if len(m.Tokens) == 0 {
				fmt.Fprintln(c.Out, "Tokens:           none")
				return nil
			}
			fmt.Fprintln(c.Out, "Tokens:")
			tw := tabwriter.NewWriter(c.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  NAME\tROLE\tCREATED")
			for _, t := range m.Tokens {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.Name, t.Role, fmtTime(t.Created))
			}
			return tw.Flush()
		}})
}

// fetchCertificate returns the leaf certificate hostport presents. It is
// fetched to be shown and confirmed, not verified.
func fetchCertificate(ctx context.Context, hostport string) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("fetching the certificate of %s: %w (expected a TLS server there): nothing changed", hostport, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s presented no certificate: nothing changed", hostport)
	}
	return certs[0], nil
}
