// Package threadprio raises the scheduling priority of one OS thread: the
// few goroutines whose lateness others notice (the liveness tick, the
// state-file writer) run there, so that a host saturated by other work
// delays them least. Their work is small and bounded, so the priority
// cannot starve anything.
package threadprio

import "runtime"

// Nice is the niceness such a thread gets.
const Nice = -10

// Lock wires the calling goroutine to its OS thread and raises that
// thread's priority when the process may (root). It reports whether it
// did; the caller calls runtime.UnlockOSThread when done.
func Lock() bool {
	runtime.LockOSThread()
	return raise()
}
