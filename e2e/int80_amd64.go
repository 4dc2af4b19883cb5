package e2e

import (
	"fmt"
	"os"
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

// i386 system call numbers beyond the ones above.
const sys32Ftruncate = 93

// int80Helper is the helper that, in FSAUDIT_E2E_DIR, writes "i80" to
// the file i80 (opened with the native open), truncates it, renames it to
// i80-moved and unlinks that, each through int $0x80; then the same
// natively on the file native (the control).
func int80Helper() int {
	dir := os.Getenv("FSAUDIT_E2E_DIR")
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		return 1
	}
	fd, err := unix.Open(dir+"/i80", unix.O_WRONLY|unix.O_CREAT, 0o644)
	if err != nil {
		return fail("open", err)
	}
	a, free, err := low32("i80", dir+"/i80", dir+"/i80-moved")
	if err != nil {
		return fail("low32", err)
	}
	defer free()
	if err := result32(int80(sys32Write, uintptr(fd), a[0], 3)); err != nil {
		return fail("write", err)
	}
	if err := result32(int80(sys32Ftruncate, uintptr(fd), 1, 0)); err != nil {
		return fail("ftruncate", err)
	}
	unix.Close(fd)
	if err := result32(int80(sys32Rename, a[1], a[2], 0)); err != nil {
		return fail("rename", err)
	}
	if err := result32(int80(sys32Unlink, a[2], 0, 0)); err != nil {
		return fail("unlink", err)
	}
	// The control: the same, natively.
	fd, err = unix.Open(dir+"/native", unix.O_WRONLY|unix.O_CREAT, 0o644)
	if err != nil {
		return fail("open", err)
	}
	if _, err := unix.Write(fd, []byte("nat")); err != nil {
		return fail("write", err)
	}
	if err := unix.Ftruncate(fd, 1); err != nil {
		return fail("ftruncate", err)
	}
	unix.Close(fd)
	if err := unix.Rename(dir+"/native", dir+"/native-moved"); err != nil {
		return fail("rename", err)
	}
	if err := unix.Unlink(dir + "/native-moved"); err != nil {
		return fail("unlink", err)
	}
	return 0
}
