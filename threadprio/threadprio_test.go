package threadprio

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLock(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		raised := Lock()
		defer runtime.UnlockOSThread()
		if os.Geteuid() != 0 {
			if raised {
				t.Error("raised the priority without root")
			}
			return
		}
		if !raised {
			t.Error("not raised as root")
			return
		}
		// getpriority(2) returns 20 - nice.
		p, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
		if err != nil {
			t.Error(err)
			return
		}
		if nice := 20 - p; nice != Nice {
			t.Errorf("thread niceness %d, want %d", nice, Nice)
		}
	}()
	<-done
}
