package shell

import (
	"errors"
	"strings"
)

// token is one word of a command line. Offsets are kept so completion knows
// which word the cursor is on.
type token struct {
	text       string // with quotes and escapes removed
	start, end int    // byte offsets in the line, end exclusive
	quoted     bool
	open       bool // an unterminated quote (only when tokenizing leniently)
}

var errUnterminated = errors.New(`unterminated quote: expected a closing "`)

func isBlank(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// tokenize splits line on blanks. "Double quotes" keep blanks inside one
// word; inside them \" and \\ stand for " and \. With lenient set an
// unterminated quote ends the last token instead of being an error, because
// completion and help run on half-typed lines.
func tokenize(line string, lenient bool) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i >= len(line) {
			return toks, nil
		}
		t := token{start: i}
		var b strings.Builder
		inQuote := false
		for i < len(line) {
			c := line[i]
			if !inQuote && isBlank(c) {
				break
			}
			switch {
			case c == '"':
				inQuote = !inQuote
				t.quoted = true
			case inQuote && c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\'):
				i++
				b.WriteByte(line[i])
			default:
				b.WriteByte(c)
			}
			i++
		}
		if inQuote {
			if !lenient {
				return nil, errUnterminated
			}
			t.open = true
		}
		t.text, t.end = b.String(), i
		toks = append(toks, t)
	}
}

// inOpenQuote reports whether line ends inside an unterminated quote, where
// `?` is an ordinary character rather than a request for help.
func inOpenQuote(line string) bool {
	toks, _ := tokenize(line, true)
	return len(toks) > 0 && toks[len(toks)-1].open
}
