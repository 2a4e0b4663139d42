// Package clishcmd implements the clish command: it connects to clishd's
// control socket and runs an interactive session (raw terminal, window
// resizes), one command (-c) or a file of commands (-f).
package clishcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/orchd/orchd/ctlsock"
	"github.com/orchd/orchd/paths"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Exit codes beyond the session's own (0 ok, 1 command failed, 2 usage).
const (
	ExitUsage       = 2
	ExitUnreachable = 3 // clishd not reachable
)

const usage = `usage: clish [--root DIR] [-c "COMMAND" | -f FILE] [--input-json]
  (no argument)   interactive session with the local clishd
  -c COMMAND      run one command and exit with its status
  -f FILE         run a file of commands, stopping at the first error
  --input-json    read prompt answers (e.g. {"password": "..."}) as one JSON
                  object from stdin; they are never echoed or logged`

// Main runs clish and returns its exit status.
func Main(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("clish", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cmd := fs.StringP("command", "c", "", "command")
	file := fs.StringP("file", "f", "", "command file")
	inputJSON := fs.Bool("input-json", false, "answers on stdin")
	root := fs.String("root", "", "root directory (env CLISHD_ROOT)")
	help := fs.BoolP("help", "h", false, "help")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "clish: %v\n%s\n", err, usage)
		return ExitUsage
	}
	if *help {
		fmt.Fprintln(stdout, usage)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "clish: unexpected argument %q (quote the command: clish -c \"show users\")\n", fs.Arg(0))
		return ExitUsage
	}
	if fs.Changed("command") && fs.Changed("file") {
		fmt.Fprintln(stderr, "clish: -c and -f exclude each other")
		return ExitUsage
	}
	h := &ctlsock.Hello{Mode: ctlsock.ModeInteractive}
	switch {
	case fs.Changed("command"):
		if *cmd == "" {
			fmt.Fprintln(stderr, "clish: -c needs a command such as \"show config-state\"")
			return ExitUsage
		}
		h.Mode, h.Command = ctlsock.ModeExec, *cmd
	case fs.Changed("file"):
		b, err := os.ReadFile(*file)
		if err != nil {
			fmt.Fprintf(stderr, "clish: reading command file: %v\n", err)
			return ExitUsage
		}
		h.Mode, h.Script, h.ScriptName = ctlsock.ModeScript, string(b), *file
	}
	if *inputJSON {
		if h.Mode == ctlsock.ModeInteractive {
			fmt.Fprintln(stderr, "clish: --input-json needs -c or -f (stdin carries the answers)")
			return ExitUsage
		}
		answers, err := readAnswers(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "clish: --input-json: %v\n", err)
			return ExitUsage
		}
		h.Answers = answers
	}
	sock := paths.FromEnv(*root).Socket()
	c, err := ctlsock.Dial(sock)
	if err != nil {
		fmt.Fprintf(stderr, "clish: %v\n", err)
		return ExitUnreachable
	}
	defer c.Close()
	var in io.Reader
	fd := int(stdin.Fd())
	if h.Mode == ctlsock.ModeInteractive {
		in = stdin
		if term.IsTerminal(fd) {
			h.TTY = true
			h.Term = os.Getenv("TERM")
			h.Width, h.Height, _ = term.GetSize(fd)
			old, err := term.MakeRaw(fd)
			if err == nil {
				defer term.Restore(fd, old)
			}
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, syscall.SIGWINCH)
			defer signal.Stop(winch)
			go func() {
				for range winch {
					if w, hh, err := term.GetSize(fd); err == nil {
						c.Resize(w, hh)
					}
				}
			}()
		}
	} else if !*inputJSON && h.Mode == ctlsock.ModeExec {
		// One command may still prompt (e.g. a password); pass stdin on.
		in = stdin
	}
	code, err := c.Run(h, in, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "clish: %v\n", err)
		return ExitUnreachable
	}
	return code
}

// readAnswers reads one JSON object of string values (object values are
// kept as their JSON text).
func readAnswers(r io.Reader) (map[string]string, error) {
	var raw map[string]any
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("expected one JSON object such as {\"password\": \"...\"} on stdin: %v", err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			out[k] = x
		case map[string]any:
			// An object answer (trust's "codes": {"2_1": "123456"})
			// travels as its JSON text; the command parses it.
			b, _ := json.Marshal(x)
			out[k] = string(b)
		default:
			return nil, fmt.Errorf("key %q: expected a string value (or an object, for \"codes\")", k)
		}
	}
	return out, nil
}
