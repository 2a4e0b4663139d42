// Package clishdcmd implements the clishd command line: flag parsing and the
// init and run subcommands. The daemon itself lives in package agent.
package clishdcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/orchd/orchd/agent"
	"github.com/orchd/orchd/config"
	"github.com/orchd/orchd/logging"
	"github.com/orchd/orchd/paths"
	"github.com/spf13/pflag"
)

// Version is set at build time (-ldflags -X).
var Version = "dev"

// UsageError is a bad command line or configuration value: exit code 2,
// nothing changed on disk.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, a ...any) error { return &UsageError{fmt.Errorf(format, a...)} }

const usage = `usage:
  clishd init --id S_M [--root DIR] [--orchestrators ID,...] [--mgmt-address IP]
              [--set KEY=VALUE]... [--admin-password-stdin] [--force]
  clishd run  [--root DIR] [--config FILE] [--KEY VALUE]...   (the default)
  clishd version
Every config key (see etc/clishd/clishd.yaml) may be given as --KEY VALUE to run,
or as CLISHD_KEY in the environment (dots as underscores).`

// Main runs clishd with args (without the program name).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	sub := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "init":
		return runInit(args, stdin, stdout)
	case "run":
		return runDaemon(args, stderr)
	case "version":
		fmt.Fprintln(stdout, "clishd", Version)
		return nil
	case "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usagef("unknown subcommand %q: expected init, run or version\n%s", sub, usage)
}

func parse(fs *pflag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return usagef("%s", usage)
		}
		return usagef("%v\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q\n%s", fs.Arg(0), usage)
	}
	return nil
}

func runDaemon(args []string, stderr io.Writer) error {
	fs := pflag.NewFlagSet("clishd run", pflag.ContinueOnError)
	root := fs.String("root", "", "root directory of all state (env CLISHD_ROOT; default /)")
	cfgFile := fs.String("config", "", "config file (default ROOT/etc/clishd/clishd.yaml)")
	keys := make([]string, 0, len(config.Defaults))
	for k := range config.Defaults {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fs.String(k, "", "config key "+k)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	layout := paths.FromEnv(*root)
	file := *cfgFile
	if file == "" {
		file = layout.ConfigFile()
	}
	// Only flags the admin actually gave may override file and environment.
	given := pflag.NewFlagSet("given", pflag.ContinueOnError)
	fs.Visit(func(f *pflag.Flag) { given.AddFlag(f) })
	cfg, err := config.Load(file, given)
	if err != nil {
		var ke *config.KeyError
		if errors.As(err, &ke) {
			return &UsageError{err}
		}
		return err
	}
	if cfg.File == "" {
		return usagef("no config file at %s: run clishd init --id S_M first", file)
	}
	log := logging.New(cfg.LogLevel, cfg.LogFormat, os.Stderr)
	ports, err := newPortWatcher(cfg, log)
	if err != nil {
		return err
	}
	a, err := agent.New(agent.Options{Layout: layout, Config: cfg, Log: log, Ports: ports, Version: Version})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return a.Run(ctx)
}
