//go:build !linux

package threadprio

func raise() bool { return false }
