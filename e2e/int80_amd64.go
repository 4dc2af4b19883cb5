package e2e

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// int80 makes a system call through the 32-bit ABI (int $0x80): trap is an
// i386 call number, the arguments must fit 32 bits (pointers too).
func int80(trap, a1, a2, a3 uintptr) uintptr

// i386 system call numbers.
const (
	sys32Write  = 4
	sys32Unlink = 10
	sys32Rename = 38
)

// low32 copies strings NUL-terminated into memory below 4 GiB, where the
// 32-bit ABI can address them, and returns their addresses.
func low32(strs ...string) ([]uintptr, func(), error) {
	mem, err := unix.Mmap(-1, 0, 1<<16, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_32BIT)
	if err != nil {
		return nil, nil, fmt.Errorf("mapping memory below 4 GiB: %w", err)
	}
	var addrs []uintptr
	off := 0
	for _, s := range strs {
		if off+len(s)+1 > len(mem) {
			unix.Munmap(mem)
			return nil, nil, fmt.Errorf("strings too long for the low map")
		}
		copy(mem[off:], s)
		mem[off+len(s)] = 0
		addrs = append(addrs, uintptr(unsafe.Pointer(&mem[off])))
		off += len(s) + 1
	}
	return addrs, func() { unix.Munmap(mem) }, nil
}

// result32 turns an int $0x80 return into an error.
func result32(r uintptr) error {
	if n := int32(r); n < 0 && n > -4096 {
		return unix.Errno(-n)
	}
	return nil
}
