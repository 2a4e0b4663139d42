package sshserver

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Limits on client-supplied request payloads.
const (
	maxTermLen     = 256
	maxDimension   = 0xffff // window sizes must fit a struct winsize
	maxEnvVars     = 64
	maxEnvNameLen  = 256
	maxEnvValueLen = 4096
	maxCommandLen  = 64 << 10
	maxSubsysLen   = 256
)

var errShortPayload = errors.New("payload too short")

// reader decodes SSH wire-format fields (RFC 4251 §5) from a request payload.
type reader struct{ b []byte }

func (r *reader) uint32() (uint32, error) {
	if len(r.b) < 4 {
		return 0, errShortPayload
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v, nil
}

func (r *reader) string(limit int) (string, error) {
	n, err := r.uint32()
	if err != nil {
		return "", err
	}
	if uint64(n) > uint64(len(r.b)) {
		return "", errShortPayload
	}
	if int(n) > limit {
		return "", fmt.Errorf("string of %d bytes exceeds the limit of %d", n, limit)
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s, nil
}

func (r *reader) dimension() (int, error) {
	v, err := r.uint32()
	if err != nil {
		return 0, err
	}
	if v > maxDimension {
		return 0, fmt.Errorf("window dimension %d exceeds %d", v, maxDimension)
	}
	return int(v), nil
}

func (r *reader) end() error {
	if len(r.b) != 0 {
		return fmt.Errorf("%d unexpected trailing bytes", len(r.b))
	}
	return nil
}

// ptyRequest is a decoded "pty-req" payload (RFC 4254 §6.2).
type ptyRequest struct {
	Term          string
	Width, Height int // characters
	Modes         string
}

func parsePtyRequest(p []byte) (ptyRequest, error) {
	r := reader{p}
	var req ptyRequest
	var err error
	if req.Term, err = r.string(maxTermLen); err != nil {
		return req, fmt.Errorf("parsing pty-req terminal: %w", err)
	}
	if req.Width, req.Height, err = parseSize(&r); err != nil {
		return req, fmt.Errorf("parsing pty-req size: %w", err)
	}
	// Encoded terminal modes; bounded by the packet size.
	if req.Modes, err = r.string(len(p)); err != nil {
		return req, fmt.Errorf("parsing pty-req modes: %w", err)
	}
	if err := r.end(); err != nil {
		return req, fmt.Errorf("parsing pty-req: %w", err)
	}
	return req, nil
}

// parseSize reads columns, rows and the two pixel dimensions (ignored).
func parseSize(r *reader) (w, h int, err error) {
	if w, err = r.dimension(); err != nil {
		return 0, 0, err
	}
	if h, err = r.dimension(); err != nil {
		return 0, 0, err
	}
	if _, err = r.uint32(); err != nil {
		return 0, 0, err
	}
	if _, err = r.uint32(); err != nil {
		return 0, 0, err
	}
	return w, h, nil
}

// parseWindowChange decodes a "window-change" payload (RFC 4254 §6.7).
func parseWindowChange(p []byte) (WindowSize, error) {
	r := reader{p}
	w, h, err := parseSize(&r)
	if err == nil {
		err = r.end()
	}
	if err != nil {
		return WindowSize{}, fmt.Errorf("parsing window-change: %w", err)
	}
	return WindowSize{Width: w, Height: h}, nil
}

// parseEnv decodes an "env" payload (RFC 4254 §6.4). The name must be a
// portable shell variable name.
func parseEnv(p []byte) (name, value string, err error) {
	r := reader{p}
	if name, err = r.string(maxEnvNameLen); err != nil {
		return "", "", fmt.Errorf("parsing env name: %w", err)
	}
	if value, err = r.string(maxEnvValueLen); err != nil {
		return "", "", fmt.Errorf("parsing env value: %w", err)
	}
	if err := r.end(); err != nil {
		return "", "", fmt.Errorf("parsing env: %w", err)
	}
	if !validEnvName(name) {
		return "", "", fmt.Errorf("invalid environment variable name %q: expected letters, digits and _ not starting with a digit", name)
	}
	for i := 0; i < len(value); i++ {
		if value[i] == 0 {
			return "", "", fmt.Errorf("environment variable %s: value contains a NUL byte", name)
		}
	}
	return name, value, nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// parseExec decodes an "exec" payload (RFC 4254 §6.5): the command string.
func parseExec(p []byte) (string, error) {
	return parseOneString(p, maxCommandLen, "exec command")
}

// parseSubsystem decodes a "subsystem" payload (RFC 4254 §6.5): its name.
func parseSubsystem(p []byte) (string, error) {
	return parseOneString(p, maxSubsysLen, "subsystem name")
}

func parseOneString(p []byte, limit int, what string) (string, error) {
	r := reader{p}
	s, err := r.string(limit)
	if err == nil {
		err = r.end()
	}
	if err != nil {
		return "", fmt.Errorf("parsing %s: %w", what, err)
	}
	return s, nil
}
