// Package ctlsock owns the local control socket between clish and clishd:
// a small framed protocol that carries one shell session (stdin, stdout,
// stderr, window size, exit status) over a unix socket, and the peer
// credentials (SO_PEERCRED) that identify the local user.
//
// Frame: 1 byte type, 4 bytes big-endian length, payload (at most MaxFrame).
// Client to server: 'h' hello (JSON, first frame), 'd' stdin bytes,
// 'e' stdin closed, 'w' window size (JSON). Server to client: 'o' stdout
// bytes, 'r' stderr bytes, 'x' exit status (4 bytes, last frame).
package ctlsock

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Frame types.
const (
	FrameHello  = 'h'
	FrameStdin  = 'd'
	FrameEOF    = 'e'
	FrameWindow = 'w'
	FrameStdout = 'o'
	FrameStderr = 'r'
	FrameExit   = 'x'
)

// MaxFrame bounds a frame's payload; a larger one is a protocol error.
const MaxFrame = 1 << 20

// Session modes a client can ask for.
const (
	ModeInteractive = "interactive"
	ModeExec        = "exec"
	ModeScript      = "script"
)

// Hello opens a session.
type Hello struct {
	Mode    string `json:"mode"`
	Command string `json:"command,omitempty"` // ModeExec
	Script  string `json:"script,omitempty"`  // ModeScript: the file's content
	// ScriptName is shown in errors ("FILE line 3: ...").
	ScriptName string `json:"script_name,omitempty"`
	// Answers are prompt answers from --input-json (e.g. "password"); they
	// are secrets and never logged.
	Answers map[string]string `json:"answers,omitempty"`
	TTY     bool              `json:"tty"`
	Term    string            `json:"term,omitempty"`
	Width   int               `json:"width,omitempty"`
	Height  int               `json:"height,omitempty"`
}

// Validate checks a hello from an untrusted peer.
func (h *Hello) Validate() error {
	switch h.Mode {
	case ModeInteractive:
	case ModeExec:
		if h.Command == "" {
			return errors.New("exec session without a command")
		}
	case ModeScript:
	default:
		return fmt.Errorf("unknown session mode %q: expected interactive, exec or script", h.Mode)
	}
	if h.Width < 0 || h.Height < 0 || h.Width > 10000 || h.Height > 10000 {
		return fmt.Errorf("window size %dx%d out of range", h.Width, h.Height)
	}
	return nil
}

// WindowSize is a terminal size change.
type WindowSize struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, typ byte, payload []byte) error {
	if len(payload) > MaxFrame {
		return fmt.Errorf("frame of %d bytes exceeds %d", len(payload), MaxFrame)
	}
	buf := make([]byte, 5+len(payload))
	buf[0] = typ
	binary.BigEndian.PutUint32(buf[1:5], uint32(len(payload)))
	copy(buf[5:], payload)
	_, err := w.Write(buf)
	return err
}

// ReadFrame reads one frame.
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes exceeds %d", n, MaxFrame)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, fmt.Errorf("reading frame payload: %w", err)
	}
	return hdr[0], p, nil
}

// WriteJSON writes a frame with a JSON payload.
func WriteJSON(w io.Writer, typ byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return WriteFrame(w, typ, b)
}

// DecodeHello parses and validates a hello payload.
func DecodeHello(p []byte) (*Hello, error) {
	var h Hello
	if err := json.Unmarshal(p, &h); err != nil {
		return nil, fmt.Errorf("decoding hello: %w", err)
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return &h, nil
}

// DecodeWindow parses a window-size payload.
func DecodeWindow(p []byte) (WindowSize, error) {
	var ws WindowSize
	if err := json.Unmarshal(p, &ws); err != nil {
		return ws, fmt.Errorf("decoding window size: %w", err)
	}
	if ws.Width < 0 || ws.Height < 0 || ws.Width > 10000 || ws.Height > 10000 {
		return WindowSize{}, fmt.Errorf("window size %dx%d out of range", ws.Width, ws.Height)
	}
	return ws, nil
}
