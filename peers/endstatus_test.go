package peers

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/orchd/orchd/state"
)

func TestEndStatus(t *testing.T) {
	cases := []struct {
		name         string
		err          error
		status, want string
	}{
		{"silent", silenceError{}, state.Unreachable, "no heartbeat from 1_2 for 750ms over external sync"},
		{"silent for the limit used", silenceError{after: 750 * time.Millisecond}, state.Unreachable, "no heartbeat from 1_2 for 750ms over external sync"},
		// Under strain, or at the peer's ask, the limit was longer.
		{"silent, strained", silenceError{after: 3 * time.Second}, state.Unreachable, "no heartbeat from 1_2 for 3s over external sync"},
		// A write deadline is not a heartbeat: a local stall hit it.
		{"write stall", writeStallError{os.ErrDeadlineExceeded}, state.Unreachable, "1_2 took none of our data for 5s over external sync"},
		{"tcp user timeout", &os.SyscallError{Syscall: "write", Err: syscall.ETIMEDOUT}, state.Unreachable, "session with 1_2 over external sync timed out: connection timed out"},
		{"eof", fmt.Errorf("reading: %w", io.EOF), state.Unreachable, "1_2 closed the session over external sync"},
		{"reset", &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}, state.Unreachable, "session with 1_2 over external sync failed: connection reset by peer"},
		{"protocol", protoError{errors.New("bad frame")}, state.Unknown, "closed the session with 1_2: protocol error: bad frame"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, reason := endStatus(c.err, "1_2", "external", 750*time.Millisecond)
			if status != c.status || reason != c.want {
				t.Errorf("got %s %q, want %s %q", status, reason, c.status, c.want)
			}
		})
	}
}
