//go:build linux

package argon2

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on amd64 and arm64.
const hugePage = 2 << 20

// allocBlocks maps n blocks of fresh memory, aligned to and advised for
// transparent huge pages, and returns them with the function that unmaps
// them. From the Go heap, the 12 MiB of a login came in 3,072 page faults,
// and its random reads missed the TLB; in 2 MiB pages it is 6 faults. The
// unmap hands the memory back to the kernel at once (the daemon's idle RSS
// must not keep a login burst's high-water mark) and leaves no derived
// block behind in freed heap memory. Where the kernel refuses the mapping,
// the Go heap serves.
func allocBlocks(n uint32) ([]block, func()) {
	size := (int(n)*int(unsafe.Sizeof(block{})) + hugePage - 1) &^ (hugePage - 1)
	mem, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]block, n), func() {}
	}
	off := (hugePage - int(uintptr(unsafe.Pointer(&mem[0]))%hugePage)) % hugePage
	m := mem[off : off+size]
	// Advice only: without THP (enabled=never) the pages are small.
	_ = unix.Madvise(m, unix.MADV_HUGEPAGE)
	return unsafe.Slice((*block)(unsafe.Pointer(&m[0])), n), func() { _ = unix.Munmap(mem) }
}
