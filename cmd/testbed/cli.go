package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/orchd/orchd/identity"
	"github.com/orchd/orchd/testbed"
	"github.com/spf13/pflag"
)

const usage = `usage:
  testbed up [--sites N] [--per-site M] [--admin-password P | --admin-password-stdin] [--set KEY=VALUE]...
             [--init-arg ARG]... [--prefix P] [--mgmt-net CIDR] [--bin-dir DIR]
  testbed down [--purge]
  testbed exec ID -- CMD [ARG]...
  testbed addr ID mgmt|internal|external
  testbed link ID internal|external down|up
  testbed add ID [--admin-password P | --admin-password-stdin]
                         a new orchestrator in the running testbed, initialised
                         alone (it joins the mesh when a member trusts it)
  testbed stop|start|kill ID
  testbed status
Every command takes --dir DIR (default $ORCHD_TESTBED_DIR or /var/tmp/orchd-testbed).
IDs are S_M, such as 1_2. Examples:
  testbed up --sites 2 --per-site 2 --admin-password secret
  ssh admin@$(testbed addr 1_1 mgmt)
  testbed exec 1_1 -- orch_stat -Av
  testbed link 1_2 internal down`

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// exitStatus passes a command's exit status through, printing nothing.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// report prints err and returns the exit status for it.
func report(err error, stderr io.Writer) int {
	var es exitStatus
	if errors.As(err, &es) {
		return int(es)
	}
	fmt.Fprintln(stderr, "testbed:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// invocation is a parsed command line.
type invocation struct {
	cmd   string
	opts  testbed.Options // opts.Dir for every command, the rest for up
	purge bool
	// pwStdin reads the admin password from stdin (kept out of ps).
	pwStdin bool
	id      string
	which   string // addr: mgmt|internal|external; link: internal|external
	up      bool   // link
	argv    []string
}

var commands = []string{"up", "down", "add", "exec", "addr", "link", "stop", "start", "kill", "status", "help"}

func parseArgs(args []string) (invocation, error) {
	var inv invocation
	if len(args) == 0 {
		return inv, usagef("missing command: expected one of %s\n%s", strings.Join(commands, ", "), usage)
	}
	inv.cmd, args = args[0], args[1:]
	fs := pflag.NewFlagSet("testbed "+inv.cmd, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&inv.opts.Dir, "dir", "", "testbed directory")
	help := fs.BoolP("help", "h", false, "usage")
	var sites, perSite, mgmtNet string
	var sets []string
	positional := 0 // expected positional arguments
	switch inv.cmd {
	case "up":
		fs.StringVar(&sites, "sites", "", "number of sites")
		fs.StringVar(&perSite, "per-site", "", "orchestrators per site")
		fs.StringVar(&inv.opts.AdminPassword, "admin-password", "", "administrator password")
		fs.BoolVar(&inv.pwStdin, "admin-password-stdin", false, "read the administrator password from stdin (one line)")
		fs.StringArrayVar(&inv.opts.InitArgs, "init-arg", nil, "extra argument to clishd init")
		fs.StringArrayVar(&sets, "set", nil, "KEY=VALUE for clishd init --set")
		fs.StringVar(&inv.opts.Prefix, "prefix", "", "name prefix")
		fs.StringVar(&mgmtNet, "mgmt-net", "", "management network")
		fs.StringVar(&inv.opts.BinDir, "bin-dir", "", "directory of clishd")
	case "down":
		fs.BoolVar(&inv.purge, "purge", false, "also delete the node roots and logs")
	case "exec":
	case "addr", "link":
		positional = 2
		if inv.cmd == "link" {
			positional = 3
		}
	case "stop", "start", "kill":
		positional = 1
	case "add":
		positional = 1
		fs.StringVar(&inv.opts.AdminPassword, "admin-password", "", "administrator password")
		fs.BoolVar(&inv.pwStdin, "admin-password-stdin", false, "read the administrator password from stdin (one line)")
	case "status":
	case "help", "-h", "--help":
		inv.cmd = "help"
		return inv, nil
	default:
		return inv, usagef("unknown command %q: expected one of %s", inv.cmd, strings.Join(commands, ", "))
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			inv.cmd = "help"
			return inv, nil
		}
		msg := err.Error()
		if strings.HasPrefix(msg, "unknown") {
			var names []string
			fs.VisitAll(func(f *pflag.Flag) { names = append(names, "--"+f.Name) })
			msg += ": expected " + strings.Join(names, ", ")
			if inv.cmd == "exec" {
				msg += " (put -- before the command: exec ID -- CMD...)"
			}
		}
		return inv, usagef("%s: %s", inv.cmd, msg)
	}
	if *help {
		inv.cmd = "help"
		return inv, nil
	}
	rest := fs.Args()
	if inv.cmd == "exec" {
		return parseExec(inv, rest, fs.ArgsLenAtDash())
	}
	if len(rest) != positional {
		want := map[int]string{0: "no arguments", 1: "ID", 2: "ID mgmt|internal|external", 3: "ID internal|external down|up"}[positional]
		if len(rest) > positional {
			return inv, usagef("%s: unexpected argument %q: expected %s", inv.cmd, rest[positional], want)
		}
		return inv, usagef("%s: missing arguments: expected %s", inv.cmd, want)
	}
	if positional > 0 {
		if _, err := identity.ParseID(rest[0]); err != nil {
			return inv, usagef("%s: %v", inv.cmd, err)
		}
		inv.id = rest[0]
	}
	switch inv.cmd {
	case "up":
		return parseUp(inv, sites, perSite, mgmtNet, sets, fs)
	case "addr":
		inv.which = rest[1]
		if inv.which != testbed.RoleMgmt && inv.which != testbed.RoleInternal && inv.which != testbed.RoleExternal {
			return inv, usagef("addr: invalid address kind %q: expected mgmt, internal or external", inv.which)
		}
	case "link":
		inv.which = rest[1]
		if inv.which != testbed.RoleInternal && inv.which != testbed.RoleExternal {
			return inv, usagef("link: invalid link %q: expected internal or external", inv.which)
		}
		switch rest[2] {
		case "up":
			inv.up = true
		case "down":
		default:
			return inv, usagef("link: invalid state %q: expected down or up", rest[2])
		}
	}
	return inv, nil
}

// parseExec takes ID -- CMD... (dash is where "--" was, -1 if absent; the
// "--" itself is gone).
func parseExec(inv invocation, rest []string, dash int) (invocation, error) {
	if len(rest) == 0 || dash == 0 {
		return inv, usagef("exec: missing ID: expected exec ID -- CMD [ARG]...")
	}
	if dash > 1 {
		return inv, usagef("exec: unexpected argument %q before --: expected exec ID -- CMD [ARG]...", rest[1])
	}
	if _, err := identity.ParseID(rest[0]); err != nil {
		return inv, usagef("exec: %v", err)
	}
	inv.id, rest = rest[0], rest[1:]
	if len(rest) == 0 {
		return inv, usagef("exec: missing command: expected exec ID -- CMD [ARG]...")
	}
	inv.argv = rest
	return inv, nil
}

func parseUp(inv invocation, sites, perSite, mgmtNet string, sets []string, fs *pflag.FlagSet) (invocation, error) {
	count := func(flag, v string) (int, error) {
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > identity.MaxSite {
			return 0, usagef("up: --%s %q: expected a whole number from 1 to %d, such as 2", flag, v, identity.MaxSite)
		}
		return n, nil
	}
	var err error
	if inv.opts.Sites, err = count("sites", sites); err != nil {
		return inv, err
	}
	if inv.opts.PerSite, err = count("per-site", perSite); err != nil {
		return inv, err
	}
	if mgmtNet != "" {
		if inv.opts.MgmtNet, err = netip.ParsePrefix(mgmtNet); err != nil {
			return inv, usagef("up: --mgmt-net %q: expected a network such as 198.19.128.0/20", mgmtNet)
		}
	}
	for _, kv := range sets {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return inv, usagef("up: --set %q: expected KEY=VALUE such as auth.cert_validity=10m", kv)
		}
		inv.opts.InitArgs = append(inv.opts.InitArgs, "--set", kv)
	}
	if inv.pwStdin && fs.Changed("admin-password") {
		return inv, usagef("up: --admin-password and --admin-password-stdin exclude each other")
	}
	if fs.Changed("admin-password") && inv.opts.AdminPassword == "" {
		return inv, usagef("up: --admin-password: expected a non-empty password")
	}
	if err := inv.opts.Validate(); err != nil {
		return inv, usagef("up: %v", err)
	}
	return inv, nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	inv, err := parseArgs(args)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "testbed: "+format+"\n", a...) }
	if inv.cmd == "help" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	if inv.pwStdin {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading the admin password from stdin: %w", err)
		}
		if inv.opts.AdminPassword = strings.TrimRight(line, "\r\n"); inv.opts.AdminPassword == "" {
			return usagef("%s: --admin-password-stdin: stdin held no password", inv.cmd)
		}
	}
	switch inv.cmd {
	case "up":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		inv.opts.Logf = logf
		tb, err := testbed.Up(ctx, inv.opts)
		if err != nil {
			return err
		}
		return printNodes(stdout, tb, false)
	}
	tb, err := testbed.Open(inv.opts.Dir)
	if inv.cmd == "down" && errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stderr, "testbed: already down")
		return nil
	}
	if err != nil {
		return err
	}
	tb.SetLogf(logf)
	switch inv.cmd {
	case "down":
		return tb.Teardown(inv.purge)
	case "exec":
		return execIn(tb, inv, stdin, stdout, stderr)
	case "addr":
		a, err := tb.Addr(inv.id, inv.which)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, a.Addr())
		return nil
	case "link":
		return tb.Link(inv.id, inv.which, inv.up)
	case "stop":
		return tb.Stop(inv.id)
	case "start":
		return tb.Start(inv.id)
	case "kill":
		return tb.Kill(inv.id)
	case "status":
		return printNodes(stdout, tb, true)
	case "add":
		id, _ := identity.ParseID(inv.id)
		if _, err := tb.AddNode(context.Background(), id, inv.opts.AdminPassword); err != nil {
			return err
		}
		return printNodes(stdout, tb, false)
	}
	return fmt.Errorf("command %q not implemented", inv.cmd)
}

// execIn runs inv.argv in the node's namespace, passing the standard
// streams and the exit status through. SIGINT and SIGQUIT reach the command
// from the terminal; we only keep them from ending testbed first.
func execIn(tb *testbed.Testbed, inv invocation, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, err := tb.Command(inv.id, inv.argv...)
	if err != nil {
		return err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, os.Interrupt, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running %s in %s: %w", inv.argv[0], inv.id, err)
	}
	go func() {
		for s := range sig {
			if s == syscall.SIGTERM || s == syscall.SIGHUP {
				cmd.Process.Signal(s)
			}
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitStatus(128 + int(ws.Signal()))
		}
		return exitStatus(ee.ExitCode())
	}
	return err
}

func printNodes(w io.Writer, tb *testbed.Testbed, status bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if status {
		fmt.Fprintln(tw, "ID\tNAMESPACE\tMGMT\tPID\tDAEMON")
	} else {
		fmt.Fprintln(tw, "ID\tNAMESPACE\tMGMT\tINTERNAL\tEXTERNAL\tPID")
	}
	for _, n := range tb.Nodes {
		if status {
			state := "running"
			if !n.Running() {
				state = "stopped"
			}
			pid := "-"
			if n.PID != 0 {
				pid = strconv.Itoa(n.PID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.ID, n.Namespace, n.Mgmt.Addr(), pid, state)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", n.ID, n.Namespace, n.Mgmt.Addr(), n.Internal, n.External, n.PID)
	}
	return tw.Flush()
}
