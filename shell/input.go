package shell

import (
	"io"
	"sync"
)

// Owners of the input stream. The line editor is owner 0; each running
// command, and each Raw taken by one, gets a fresh number.
const (
	ownerEditor uint64 = 0
	ownerNobody uint64 = 1
)

// maxPending bounds what the pump reads ahead of its consumers.
const maxPending = 64 << 10

// input shares the session's byte stream between the line editor and the
// commands. One goroutine reads the stream into pending; only the current
// owner may take bytes from it. This is what keeps readline from swallowing
// keystrokes while a command runs (readline reads ahead whenever it is
// kicked, and a blocked Read on an SSH channel cannot be taken back): bytes
// typed during a command stay here for the command, or for the next prompt.
type input struct {
	src io.Reader

	mu      sync.Mutex
	cond    sync.Cond
	started bool
	pending []byte
	err     error // from src, reported once pending is drained
	closed  bool
	owner   uint64
	last    uint64 // last owner number handed out
	// editorEnd is set once the line editor has been told the stream
	// ended: readline then flushes a half-typed line as if Enter had been
	// pressed, and the session must not run it.
	editorEnd bool
	// meter counts the editor's current line; tooLong is set once a line
	// went over MaxLine (see refuseLine).
	meter   lineMeter
	tooLong bool
}

func newInput(src io.Reader) *input {
	in := &input{src: src, last: ownerNobody, meter: lineMeter{limit: MaxLine}}
	in.cond.L = &in.mu
	if src == nil {
		in.started, in.err = true, io.EOF
	}
	return in
}

// pump copies src into pending. It starts at the first read so that a
// session that never reads (clish -c without prompts) leaves src alone.
func (in *input) pump() {
	buf := make([]byte, 4096)
	for {
		in.mu.Lock()
		for len(in.pending) >= maxPending && !in.closed {
			in.cond.Wait()
		}
		closed := in.closed
		in.mu.Unlock()
		if closed {
			return
		}
		n, err := in.src.Read(buf)
		in.mu.Lock()
		in.pending = append(in.pending, buf[:n]...)
		if err != nil {
			in.err = err
		}
		in.cond.Broadcast()
		in.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// newOwner hands the stream to a new owner and returns its number.
func (in *input) newOwner() uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.last++
	in.owner = in.last
	in.cond.Broadcast()
	return in.owner
}

func (in *input) setOwner(o uint64) {
	in.mu.Lock()
	in.owner = o
	in.cond.Broadcast()
	in.mu.Unlock()
}

// swapOwner hands the stream from one owner to another, unless it has
// already moved on (a Raw closed after its command returned must not take
// the stream back from the line editor).
func (in *input) swapOwner(from, to uint64) {
	in.mu.Lock()
	if in.owner == from {
		in.owner = to
		in.cond.Broadcast()
	}
	in.mu.Unlock()
}

// close makes every read return io.EOF. The pump stops at its next turn;
// if it is blocked in src.Read, closing src (the caller's job) frees it.
func (in *input) close() {
	in.mu.Lock()
	in.closed = true
	in.cond.Broadcast()
	in.mu.Unlock()
}

// read takes up to max bytes for owner who. While another owner holds the
// stream it waits, or, with lease set, returns io.EOF: a lease reader
// belongs to one command and must not outlive it.
func (in *input) read(p []byte, who uint64, max int, lease bool) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.started {
		in.started = true
		go in.pump()
	}
	for {
		switch {
		case in.closed:
			in.editorEnd = in.editorEnd || who == ownerEditor
			return 0, io.EOF
		case in.owner != who:
			if lease {
				return 0, io.EOF
			}
		case len(in.pending) > 0:
			n := copy(p[:min(len(p), max)], in.pending)
			if who == ownerEditor && (in.meter.add(p[:n]) || in.meter.over(in.pending[n:])) {
				// Inline refuseLine: the lock is held.
				in.tooLong, in.closed, in.pending, in.editorEnd = true, true, nil, true
				in.cond.Broadcast()
				return 0, io.EOF
			}
			in.pending = in.pending[n:]
			in.cond.Broadcast() // the pump may be waiting for room
			return n, nil
		case in.err != nil:
			in.editorEnd = in.editorEnd || who == ownerEditor
			return 0, in.err
		}
		in.cond.Wait()
	}
}

func (in *input) editorEnded() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.editorEnd
}

// reader is an io.Reader for one owner.
type reader struct {
	in    *input
	who   uint64
	max   int
	lease bool
}

func (r *reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return r.in.read(p, r.who, r.max, r.lease)
}

// Close lets a reader serve as readline's Stdin; the stream itself is
// closed by its owner, not by readline.
func (r *reader) Close() error { return nil }
