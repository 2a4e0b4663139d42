package threadprio

import "golang.org/x/sys/unix"

func raise() bool {
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), Nice) == nil
}
