package shell

import (
	"os"
	"strings"

	"github.com/chzyer/readline"
	"github.com/orchd/orchd/atomicfile"
)

// historyLimit is how many lines the editor recalls.
const historyLimit = 500

// loadHistory feeds the history file to the editor. The file is ours, not
// readline's, so it is created 0600 (lines may name users and hosts) and
// kept short. A missing or unreadable file just means no history.
func (s *Session) loadHistory(rl *readline.Instance) {
	if s.opts.HistoryFile == "" {
		return
	}
	data, err := os.ReadFile(s.opts.HistoryFile)
	if err != nil {
		return
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 2*historyLimit {
		lines = lines[len(lines)-historyLimit:]
		_ = atomicfile.WriteFile(s.opts.HistoryFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	}
	for _, l := range lines[max(0, len(lines)-historyLimit):] {
		rl.SaveHistory(l)
	}
}

// remember adds an entered line to the editor's history and the file.
func (s *Session) remember(rl *readline.Instance, line string) {
	rl.SaveHistory(line)
	if s.opts.HistoryFile == "" {
		return
	}
	f, err := os.OpenFile(s.opts.HistoryFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	f.WriteString(strings.ReplaceAll(line, "\n", " ") + "\n")
}
