package clishdcmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/atomicfile"
	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/paths"
	"github.com/spf13/pflag"
)

func runInit(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := pflag.NewFlagSet("clishd init", pflag.ContinueOnError)
	root := fs.String("root", "", "root directory (env CLISHD_ROOT; default /)")
	idStr := fs.String("id", "", "this orchestrator's ID, S_M")
	orchs := fs.String("orchestrators", "", "every orchestrator of the mesh, this one included: 1_1,1_2,2_1,2_2")
	mgmt := fs.String("mgmt-address", "", "management address the SSH server listens on")
	sets := fs.StringArray("set", nil, "KEY=VALUE: set any config key in the written file")
	force := fs.Bool("force", false, "replace an existing identity and config (peers must re-establish trust)")
	pwStdin := fs.Bool("admin-password-stdin", false, "create user admin with the password read from stdin (one line)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *idStr == "" {
		return usagef("missing --id: expected this orchestrator's ID S_M such as 1_1")
	}
	id, err := identity.ParseID(*idStr)
	if err != nil {
		return &UsageError{fmt.Errorf("--id: %w", err)}
	}
	l := paths.FromEnv(*root)
	doc, err := config.Render(config.InitValues{ID: id.String(), Orchestrators: *orchs, MgmtAddress: *mgmt})
	if err != nil {
		return err
	}
	tmpl, fromTemplate, err := packagedTemplate(l)
	if err != nil {
		return err
	}
	if fromTemplate && !*force {
		if doc, err = fillTemplate(tmpl, id.String(), *orchs, *mgmt); err != nil {
			return &UsageError{err}
		}
	}
	for _, kv := range *sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return usagef("--set %q: expected KEY=VALUE such as auth.cert_validity=10m", kv)
		}
		if doc, err = config.SetKey(doc, strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return &UsageError{err}
		}
	}
	// Everything is validated before anything is written.
	cfg, err := config.Parse(doc)
	if err != nil {
		return &UsageError{err}
	}
	// There is no default password: without one, only root on the
	// console (clish over the control socket) can log in.
	doc0 := configdb.Doc{Schema: configdb.SchemaVersion}
	if *pwStdin {
		pw, err := readPassword(stdin)
		if err != nil {
			return &UsageError{err}
		}
		hash, err := aaa.Hash(pw)
		if err != nil {
			return &UsageError{fmt.Errorf("admin password: %w", err)}
		}
		// The first password is root's choice at install time: the password
		// controls apply from the first change on (README, Decisions).
		now := time.Now().UTC().Truncate(time.Second)
		doc0.Users = []aaa.User{{Name: "admin", Roles: []string{aaa.AdminRole}, State: aaa.StateActive, PasswordHash: hash,
			PasswordChangedAt: now, Created: now}}
	}
	files := identity.Files{Key: l.IdentityKey(), Pub: l.IdentityPub(), Cert: l.Certificate()}
	if !*force {
		for _, p := range []string{files.Key, l.ConfigFile()} {
			if _, err := os.Stat(p); err == nil && !(fromTemplate && p == l.ConfigFile()) {
				return fmt.Errorf("%s already exists: this orchestrator is initialised; use --force to replace its identity (every peer must then re-establish trust)", p)
			}
		}
	}
	for _, d := range []string{l.EtcDir(), l.LibDir(), l.RunDir(), l.LogDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	ident, err := identity.Create(files, id, cfg.CertValidity, *force)
	if err != nil {
		if errors.Is(err, identity.ErrExists) {
			return err
		}
		return fmt.Errorf("creating identity: %w", err)
	}
	if err := atomicfile.WriteFile(l.ConfigFile(), doc, 0o644); err != nil {
		return err
	}
	if err := configdb.Create(l.SavedConfig(), doc0, *force); err != nil {
		return fmt.Errorf("writing the first saved configuration: %w", err)
	}
	fmt.Fprintf(stdout, "initialised orchestrator %s under %s\nfingerprint %s\ncertificate valid until %s\n",
		id, l.Root, ident.Fingerprint(), ident.Cert.NotAfter.UTC().Format("2006-01-02 15:04:05 MST"))
	if *pwStdin {
		fmt.Fprintln(stdout, "user admin created (adminRole)")
	} else {
		fmt.Fprintln(stdout, "no admin user: as root run clish -c \"add user admin role adminRole\", then clish -c \"set user admin password\"")
	}
	return nil
}

// readPassword reads one line from r. The password never appears in argv
// (ps) or shell history this way.
func readPassword(r io.Reader) (string, error) {
	b, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading admin password from stdin: %w", err)
	}
	pw := strings.TrimRight(b, "\r\n")
	if pw == "" {
		return "", fmt.Errorf("--admin-password-stdin: stdin held no password: expected the password on one line")
	}
	return pw, nil
}
