package e2e

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The io_uring and Linux AIO interfaces, spoken with raw system calls so
// the tests need no library (the kernel matrix's VMs hold none).

type uringSQOffsets struct {
	Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1 uint32
	Resv2                                                           uint64
}

type uringCQOffsets struct {
	Head, Tail, RingMask, RingEntries, Overflow, CQEs, Flags, Resv1 uint32
	Resv2                                                           uint64
}

type uringParams struct {
	SQEntries, CQEntries, Flags, SQThreadCPU, SQThreadIdle, Features, WQFd uint32
	Resv                                                                   [3]uint32
	SQOff                                                                  uringSQOffsets
	CQOff                                                                  uringCQOffsets
}

type uringSQE struct {
	Opcode      uint8
	Flags       uint8
	IOPrio      uint16
	Fd          int32
	Off         uint64
	Addr        uint64
	Len         uint32
	RWFlags     uint32
	UserData    uint64
	BufIndex    uint16
	Personality uint16
	SpliceFdIn  int32
	Pad         [2]uint64
}

type uringCQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

const (
	uringOpWrite        = 23 // IORING_OP_WRITE, 5.6 and later
	uringEnterGetEvents = 1
	uringOffSQRing      = 0
	uringOffCQRing      = 0x8000000
	uringOffSQEs        = 0x10000000
)

// io_uring operations (IORING_OP_*).
const (
	uringOpFallocate = 17 // 5.6
	uringOpOpenat    = 18 // 5.6
	uringOpRenameat  = 35 // 5.11
	uringOpUnlinkat  = 36 // 5.11
	uringOpMkdirat   = 37 // 5.15
	uringOpSymlinkat = 38 // 5.15
	uringOpLinkat    = 39 // 5.15
)

// uringWrite writes data to fd at off through a one-entry io_uring and
// returns the completion's result (bytes written, or -errno).
func uringWrite(fd int, data []byte, off uint64) (int, error) {
	res, err := uringSubmit(uringSQE{Opcode: uringOpWrite, Fd: int32(fd), Off: off,
		Addr: uint64(uintptr(unsafe.Pointer(&data[0]))), Len: uint32(len(data))})
	runtime.KeepAlive(data)
	return res, err
}

// uringOpenat creates path (relative to the working directory) with io_uring.
func uringOpenat(path string, flags int, mode uint32) (int, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return 0, err
	}
	res, err := uringSubmit(uringSQE{Opcode: uringOpOpenat, Fd: unix.AT_FDCWD, Addr: uint64(uintptr(unsafe.Pointer(p))), Len: mode, RWFlags: uint32(flags)})
	runtime.KeepAlive(p)
	return res, err
}

// uringRenameat renames from to to with io_uring.
func uringRenameat(from, to string) (int, error) {
	f, err := unix.BytePtrFromString(from)
	if err != nil {
		return 0, err
	}
	t, err := unix.BytePtrFromString(to)
	if err != nil {
		return 0, err
	}
	// renameat: fd = old dfd, addr = old path, len = new dfd, off = new path.
	res, err := uringSubmit(uringSQE{Opcode: uringOpRenameat, Fd: unix.AT_FDCWD, Addr: uint64(uintptr(unsafe.Pointer(f))),
		Len: uint32(unix.AT_FDCWD & 0xffffffff), Off: uint64(uintptr(unsafe.Pointer(t)))})
	runtime.KeepAlive(f)
	runtime.KeepAlive(t)
	return res, err
}

// uringMkdirat makes directory path with io_uring.
func uringMkdirat(path string, mode uint32) (int, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return 0, err
	}
	res, err := uringSubmit(uringSQE{Opcode: uringOpMkdirat, Fd: unix.AT_FDCWD, Addr: uint64(uintptr(unsafe.Pointer(p))), Len: mode})
	runtime.KeepAlive(p)
	return res, err
}

// uringLink makes path a symbolic link holding target (symlinkat) or a hard
// link to the file target (linkat) with io_uring.
func uringLink(op uint8, target, path string) (int, error) {
	t, err := unix.BytePtrFromString(target)
	if err != nil {
		return 0, err
	}
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return 0, err
	}
	sqe := uringSQE{Opcode: op, Fd: unix.AT_FDCWD, Addr: uint64(uintptr(unsafe.Pointer(t))), Off: uint64(uintptr(unsafe.Pointer(p)))}
	if op == uringOpLinkat {
		sqe.Len = uint32(unix.AT_FDCWD & 0xffffffff) // the new path's dirfd
	}
	res, err := uringSubmit(sqe)
	runtime.KeepAlive(t)
	runtime.KeepAlive(p)
	return res, err
}

// uringUnlinkat removes path with io_uring.
func uringUnlinkat(path string) (int, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return 0, err
	}
	res, err := uringSubmit(uringSQE{Opcode: uringOpUnlinkat, Fd: unix.AT_FDCWD, Addr: uint64(uintptr(unsafe.Pointer(p)))})
	runtime.KeepAlive(p)
	return res, err
}

// uringSubmit runs one operation through a new one-entry io_uring and
// returns its completion's result (-errno on failure).
func uringSubmit(op uringSQE) (int, error) {
	var p uringParams
	ring, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return 0, fmt.Errorf("io_uring_setup: %w", errno)
	}
	defer unix.Close(int(ring))
	sq, err := unix.Mmap(int(ring), uringOffSQRing, int(p.SQOff.Array+p.SQEntries*4), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return 0, fmt.Errorf("mapping the submission ring: %w", err)
	}
	defer unix.Munmap(sq)
	cq, err := unix.Mmap(int(ring), uringOffCQRing, int(p.CQOff.CQEs+p.CQEntries*uint32(unsafe.Sizeof(uringCQE{}))), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return 0, fmt.Errorf("mapping the completion ring: %w", err)
	}
	defer unix.Munmap(cq)
	sqes, err := unix.Mmap(int(ring), uringOffSQEs, int(p.SQEntries*uint32(unsafe.Sizeof(uringSQE{}))), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return 0, fmt.Errorf("mapping the submission entries: %w", err)
	}
	defer unix.Munmap(sqes)

	u32 := func(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
	op.UserData = 7
	*(*uringSQE)(unsafe.Pointer(&sqes[0])) = op
	tail := atomic.LoadUint32(u32(sq, p.SQOff.Tail))
	mask := *u32(sq, p.SQOff.RingMask)
	*u32(sq, p.SQOff.Array+4*(tail&mask)) = 0
	atomic.StoreUint32(u32(sq, p.SQOff.Tail), tail+1)
	_, _, errno = unix.Syscall6(unix.SYS_IO_URING_ENTER, ring, 1, 1, uringEnterGetEvents, 0, 0)
	if errno != 0 {
		return 0, fmt.Errorf("io_uring_enter: %w", errno)
	}
	head := atomic.LoadUint32(u32(cq, p.CQOff.Head))
	if head == atomic.LoadUint32(u32(cq, p.CQOff.Tail)) {
		return 0, fmt.Errorf("io_uring: no completion")
	}
	cqe := (*uringCQE)(unsafe.Pointer(&cq[p.CQOff.CQEs+(head&*u32(cq, p.CQOff.RingMask))*uint32(unsafe.Sizeof(uringCQE{}))]))
	res := int(cqe.Res)
	atomic.StoreUint32(u32(cq, p.CQOff.Head), head+1)
	return res, nil
}

type aioIOCB struct {
	Data      uint64
	Key       uint32
	RWFlags   uint32
	Opcode    uint16
	ReqPrio   int16
	Fd        uint32
	Buf       uint64
	NBytes    uint64
	Offset    int64
	Reserved2 uint64
	Flags     uint32
	ResFd     uint32
}

type aioEvent struct {
	Data, Obj uint64
	Res, Res2 int64
}

const aioCmdPwrite = 1 // IOCB_CMD_PWRITE

// aioWrite writes data to fd at off with io_submit and returns the
// completion's result.
func aioWrite(fd int, data []byte, off int64) (int, error) {
	var ctx uintptr
	if _, _, errno := unix.Syscall(unix.SYS_IO_SETUP, 1, uintptr(unsafe.Pointer(&ctx)), 0); errno != 0 {
		return 0, fmt.Errorf("io_setup: %w", errno)
	}
	defer unix.Syscall(unix.SYS_IO_DESTROY, ctx, 0, 0)
	cb := aioIOCB{Data: 9, Opcode: aioCmdPwrite, Fd: uint32(fd), Buf: uint64(uintptr(unsafe.Pointer(&data[0]))), NBytes: uint64(len(data)), Offset: off}
	cbs := []*aioIOCB{&cb}
	if _, _, errno := unix.Syscall(unix.SYS_IO_SUBMIT, ctx, 1, uintptr(unsafe.Pointer(&cbs[0]))); errno != 0 {
		return 0, fmt.Errorf("io_submit: %w", errno)
	}
	var ev aioEvent
	n, _, errno := unix.Syscall6(unix.SYS_IO_GETEVENTS, ctx, 1, 1, uintptr(unsafe.Pointer(&ev)), 0, 0)
	runtime.KeepAlive(data)
	runtime.KeepAlive(cbs)
	if errno != 0 || n != 1 {
		return 0, fmt.Errorf("io_getevents: %d events: %v", n, errno)
	}
	return int(ev.Res), nil
}
