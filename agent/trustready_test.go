package agent

import (
	"bufio"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orchd/orchd/identity"
	"github.com/sirupsen/logrus"
)

type recordAllow struct {
	mu  sync.Mutex
	got []string
}

func (r *recordAllow) Allow(ids []identity.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.got = append(r.got, id.String())
	}
}

// TestFollowReady: each ready line allows its members; a bad one is
// skipped; EOF, the session's end or the time limit end the wait.
func TestFollowReady(t *testing.T) {
	log := logrus.NewEntry(logrus.New())
	log.Logger.SetOutput(io.Discard)
	for _, tc := range []struct {
		name  string
		input string
		keep  bool // do not close: the limit ends it
		want  string
	}{
		{"two messages", `{"op":"ready","members":["2_1"]}` + "\n" + `{"op":"ready","members":["3_1","8_8"]}` + "\n", false, "2_1,3_1,8_8"},
		{"bad member skipped", `{"op":"ready","members":["2_1","9"]}` + "\n" + `{"op":"ready","members":["3_1"]}` + "\n", false, "3_1"},
		{"wrong op skipped", `{"op":"trust","members":["2_1"]}` + "\n", false, ""},
		{"nothing", "", false, ""},
		{"limit", `{"op":"ready","members":["2_2"]}` + "\n", true, "2_2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				io.WriteString(pw, tc.input)
				if !tc.keep {
					pw.Close()
				}
			}()
			defer pw.Close()
			var r recordAllow
			done := make(chan struct{})
			start := time.Now()
			go func() {
				followReady(context.Background(), bufio.NewReader(pr), &r, 300*time.Millisecond, log)
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("followReady did not return")
			}
			if took := time.Since(start); tc.keep != (took >= 300*time.Millisecond) {
				t.Errorf("returned after %s (input left open: %v)", took, tc.keep)
			}
			if got := strings.Join(r.got, ","); got != tc.want {
				t.Errorf("allowed %q, want %q", got, tc.want)
			}
		})
	}
}
