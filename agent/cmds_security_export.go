package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/orchd/orchd/aaa"
	"github.com/orchd/orchd/atomicfile"
	"github.com/orchd/orchd/configdb"
	"github.com/orchd/orchd/secrets"
	"github.com/orchd/orchd/shell"
)

// exportFormat names the payload inside an export bundle.
const exportFormat = "orchd-configuration"

// exported is the payload of export configuration: the whole running
// configuration document (every section it has) and every secret.
type exported struct {
	Format       string          `json:"format"`
	Version      int             `json:"version"`
	ExportedFrom string          `json:"exported_from"`
	ExportedAt   time.Time       `json:"exported_at"`
	Config       json.RawMessage `json:"config"`
	Secrets      []secrets.Entry `json:"secrets"`
}

// exportPath resolves FILE: an absolute path, or a bare name under
// var/lib/clishd/exports.
func (a *Agent) exportPath(file string) (string, error) {
	switch {
	case filepath.IsAbs(file):
		return filepath.Clean(file), nil
	case file != "" && !strings.ContainsRune(file, '/') && file != "." && file != "..":
		return filepath.Join(a.opts.Layout.LibDir(), "exports", file), nil
	}
	return "", fmt.Errorf("invalid file %q: expected an absolute path, or a bare file name (kept in %s)", file, filepath.Join(a.opts.Layout.LibDir(), "exports"))
}

func (a *Agent) exportConfiguration(c *shell.Ctx, s *adminSession, file string) error {
	path, err := a.exportPath(file)
	if err != nil {
		return err
	}
	// Never overwrite: an export written as root must not replace a file.
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists: expected a new file name (nothing was written)", path)
	}
	var entries []secrets.Entry
	if a.secrets.Initialized() {
		if entries, err = a.secrets.All(); err != nil {
			return fmt.Errorf("reading the secrets: %w", err)
		}
	}
	defer func() {
		for _, e := range entries {
			wipeBytes(e.Value)
		}
	}()
	cfg, err := json.Marshal(a.db.Running())
	if err != nil {
		return fmt.Errorf("encoding the configuration: %w", err)
	}
	payload, err := json.Marshal(exported{Format: exportFormat, Version: 1, ExportedFrom: a.cfg.ID.String(),
		ExportedAt: time.Now().UTC(), Config: cfg, Secrets: entries})
	if err != nil {
		return fmt.Errorf("encoding the export: %w", err)
	}
	defer wipeBytes(payload)
	pass, err := askNewPassphrase(c, keyConfig, "Config passphrase: ")
	if err != nil {
		return err
	}
	defer wipeBytes(pass)
	bundle, err := secrets.SealBundle(pass, payload, secrets.DefaultKDF())
	if err != nil {
		return err
	}
	if strings.HasPrefix(path, filepath.Join(a.opts.Layout.LibDir(), "exports")+"/") {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
		}
	}
	if err := atomicfile.WriteFile(path, bundle, 0o600); err != nil {
		return fmt.Errorf("writing the export: %w", err)
	}
	a.securityEvent(s, "export", "ok", "")
	a.log.WithField("user", s.user).WithField("file", path).Info("configuration exported")
	fmt.Fprintf(c.Out, "configuration exported to %s (%d users, %d secrets), encrypted under the config passphrase\n",
		path, len(a.db.Running().Users), len(entries))
	return nil
}

// maxExport bounds what import reads.
const maxExport = 16 << 20

func (a *Agent) importConfiguration(c *shell.Ctx, s *adminSession, file string, dryRun bool) error {
	path, err := a.exportPath(file)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no file %s: expected a file written by export configuration", path)
		}
		return fmt.Errorf("reading %s: %w", path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxExport+1))
	f.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if err := a.lockoutCheck(s); err != nil {
		return err
	}
	pass, err := c.Prompt(keyConfig, "Config passphrase: ", true)
	if err != nil {
		return err
	}
	pb := []byte(pass)
	defer wipeBytes(pb)
	payload, err := secrets.OpenBundle(pb, data)
	switch {
	case errors.Is(err, secrets.ErrWrongPassphrase):
		return a.wrongPassphrase(s, "import", keyConfig)
	case errors.Is(err, secrets.ErrBundleDamaged), errors.Is(err, secrets.ErrBundleAltered):
		a.securityEvent(s, "import", "refused", err.Error())
		return fmt.Errorf("%s: %w: nothing changed", path, err)
	case err != nil:
		return fmt.Errorf("%s: %w: nothing changed", path, err)
	}
	defer wipeBytes(payload)
	doc, entries, from, err := decodeExport(payload)
	if err != nil {
		a.securityEvent(s, "import", "refused", err.Error())
		return fmt.Errorf("%s: %w: nothing changed", path, err)
	}
	defer func() {
		for _, e := range entries {
			wipeBytes(e.Value)
		}
	}()
	needStore := len(entries) > 0 || len(a.secrets.Names()) > 0
	cur := a.db.Running()
	var curSecrets []secrets.Entry
	if needStore && !a.secrets.Sealed() {
		if curSecrets, err = a.secrets.All(); err != nil {
			return err
		}
	}
	diff := configDiff(cur, doc, curSecrets, entries, a.secrets.Names(), !a.secrets.Sealed())
	fmt.Fprintf(c.Out, "export of orchestrator %s:\n", from)
	if len(diff) == 0 {
		fmt.Fprintln(c.Out, "  no difference")
	}
	for _, l := range diff {
		fmt.Fprintln(c.Out, "  "+l)
	}
	if dryRun {
		fmt.Fprintln(c.Out, "dry run: nothing changed")
		return nil
	}
	if needStore {
		if err := a.storeReady(); err != nil {
			return fmt.Errorf("%w: nothing changed", err)
		}
		if a.secrets.Sealed() {
			return fmt.Errorf("%w: nothing changed", secrets.ErrSealed)
		}
	}
	// Validate the configuration before touching anything, then the
	// secrets (one atomic write), then the configuration (saved: an import
	// is a restore, and its secrets are already written through).
	probe := doc
	if err := probe.Validate(); err != nil {
		return fmt.Errorf("%s: the configuration is invalid: %w: nothing changed", path, err)
	}
	if needStore {
		if err := a.secrets.Replace(entries); err != nil {
			return fmt.Errorf("%w: nothing changed", err)
		}
	}
	if err := a.db.Update(func(d *configdb.Doc) error { *d = doc; return nil }); err != nil {
		if needStore {
			if rerr := a.secrets.Replace(curSecrets); rerr != nil {
				a.log.WithError(rerr).Error("import: restoring the previous secrets failed")
			}
		}
		return fmt.Errorf("%s: %w: nothing changed", path, err)
	}
	a.markDirty()
	if err := a.db.Save(); err != nil {
		return fmt.Errorf("configuration imported into the running configuration, but saving it failed: %w (run save config)", err)
	}
	a.securityEvent(s, "import", "ok", "")
	a.log.WithField("user", s.user).WithField("file", path).WithField("exported_from", from).Info("configuration imported")
	fmt.Fprintf(c.Out, "configuration imported and saved (%d users, %d secrets)\n", len(doc.Users), len(entries))
	return nil
}

// decodeExport parses a payload strictly: unknown fields (a newer build's
// sections) are refused, naming them, rather than dropped.
func decodeExport(payload []byte) (configdb.Doc, []secrets.Entry, string, error) {
	var ex exported
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ex); err != nil {
		return configdb.Doc{}, nil, "", fmt.Errorf("parsing the export: %w", err)
	}
	if ex.Format != exportFormat || ex.Version != 1 {
		return configdb.Doc{}, nil, "", fmt.Errorf("export format %q version %d: expected %q version 1", ex.Format, ex.Version, exportFormat)
	}
	var doc configdb.Doc
	dec = json.NewDecoder(bytes.NewReader(ex.Config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return configdb.Doc{}, nil, "", fmt.Errorf("parsing the exported configuration: %w", err)
	}
	if doc.Schema != configdb.SchemaVersion {
		return configdb.Doc{}, nil, "", fmt.Errorf("exported configuration schema %d: expected %d", doc.Schema, configdb.SchemaVersion)
	}
	return doc, ex.Secrets, ex.ExportedFrom, nil
}

// configDiff lists what an import would change: configuration commands
// removed (-) and added (+), hidden values that change (~), and secrets by
// name (values compared only when the store is unsealed; never shown).
func configDiff(cur, next configdb.Doc, curSecrets, nextSecrets []secrets.Entry, curNames []secrets.Info, unsealed bool) []string {
	var out []string
	a, b := cur.Commands(), next.Commands()
	for _, l := range a {
		if !slices.Contains(b, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range b {
		if !slices.Contains(a, l) {
			out = append(out, "+ "+l)
		}
	}
	for _, u := range next.Users {
		if old, ok := cur.User(u.Name); ok && old.PasswordHash != "" && u.PasswordHash != "" && old.PasswordHash != u.PasswordHash {
			out = append(out, fmt.Sprintf("~ set user %s password-hash <changes, not shown>", u.Name))
		}
	}
	if cur.ExpertPasswordHash != "" && next.ExpertPasswordHash != "" && cur.ExpertPasswordHash != next.ExpertPasswordHash {
		out = append(out, "~ set expert-password-hash <changes, not shown>")
	}
	if len(out) == 0 && !sameDoc(cur, next) {
		out = append(out, "~ values that show configuration does not print differ")
	}
	have := map[string]secrets.Info{}
	for _, n := range curNames {
		have[n.Name] = n
	}
	vals := map[string][]byte{}
	for _, e := range curSecrets {
		vals[e.Name] = e.Value
	}
	seen := map[string]bool{}
	for _, e := range nextSecrets {
		seen[e.Name] = true
		old, ok := have[e.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("+ secret %s (owner %s)", e.Name, e.Owner))
		case old.Owner != e.Owner:
			out = append(out, fmt.Sprintf("~ secret %s (owner %s -> %s)", e.Name, old.Owner, e.Owner))
		case !unsealed:
			out = append(out, fmt.Sprintf("? secret %s (value not compared: the store is sealed)", e.Name))
		case !bytes.Equal(vals[e.Name], e.Value):
			out = append(out, fmt.Sprintf("~ secret %s (value changes, not shown)", e.Name))
		}
	}
	for _, n := range curNames {
		if !seen[n.Name] {
			out = append(out, fmt.Sprintf("- secret %s (owner %s)", n.Name, n.Owner))
		}
	}
	return out
}

func sameDoc(a, b configdb.Doc) bool {
	sortUsers := func(d configdb.Doc) configdb.Doc {
		d.Users = slices.Clone(d.Users)
		slices.SortFunc(d.Users, func(x, y aaa.User) int { return strings.Compare(x.Name, y.Name) })
		if d.Users == nil {
			d.Users = []aaa.User{}
		}
		return d
	}
	ja, _ := json.Marshal(sortUsers(a))
	jb, _ := json.Marshal(sortUsers(b))
	return bytes.Equal(ja, jb)
}
