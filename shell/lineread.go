package shell

import (
	"errors"
	"io"
	"unicode/utf8"
)

// errCancelled is returned when Ctrl-C abandons an answer.
var errCancelled = errors.New("cancelled")

// readLine reads one line for owner who: a prompt's answer, or a command on
// a plain stream. On a terminal it does the editing a tty would (echo,
// Backspace, Ctrl-U, Ctrl-C, Ctrl-D) since the far side is raw; there is no
// history or completion here, and nothing is echoed unless echo is set.
func (s *Session) readLine(who uint64, echo bool) (string, error) {
	var line []byte
	one := make([]byte, 1)
	next := func() (byte, error) {
		_, err := s.in.read(one, who, 1, false)
		return one[0], err
	}
	show := func(b ...byte) {
		if echo && s.opts.Term {
			s.out.Write(b)
		}
	}
	for {
		b, err := next()
		if err != nil {
			if s.in.lineTooLong() {
				return "", lineTooLong(s.in.meter.limit)
			}
			if len(line) > 0 && !s.opts.Term && errors.Is(err, io.EOF) {
				return string(line), nil // a last line without its newline
			}
			return "", err
		}
		if len(line) >= MaxLine && b != '\n' && b != '\r' {
			s.in.refuseLine()
			return "", lineTooLong(MaxLine)
		}
		if !s.opts.Term {
			switch b {
			case '\n':
				return string(line), nil
			case '\r':
			default:
				line = append(line, b)
			}
			continue
		}
		skipLF := s.skipLF
		s.skipLF = false
		switch {
		case b == '\n' && skipLF:
			// the second half of a "\r\n" Enter
		case b == '\r' || b == '\n':
			s.skipLF = b == '\r'
			s.out.Write([]byte("\n"))
			return string(line), nil
		case b == 3: // Ctrl-C
			s.out.Write([]byte("^C\n"))
			return "", errCancelled
		case b == 4 && len(line) == 0: // Ctrl-D
			s.out.Write([]byte("\n"))
			return "", io.EOF
		case b == 0x7f || b == 8: // Backspace
			if len(line) > 0 {
				_, size := utf8.DecodeLastRune(line)
				line = line[:len(line)-size]
				show('\b', ' ', '\b')
			}
		case b == 0x15: // Ctrl-U
			for range utf8.RuneCount(line) {
				show('\b', ' ', '\b')
			}
			line = line[:0]
		case b == 0x1b: // an escape sequence (arrow keys): not ours, skip it
			if err := skipEscape(next); err != nil {
				return "", err
			}
		case b < 0x20:
		default:
			line = append(line, b)
			show(b)
		}
	}
}

// skipEscape consumes the rest of an ESC [ ... or ESC O x sequence.
func skipEscape(next func() (byte, error)) error {
	b, err := next()
	if err != nil || (b != '[' && b != 'O') {
		return err
	}
	for {
		b, err := next()
		if err != nil || (b >= 0x40 && b <= 0x7e) {
			return err
		}
	}
}
