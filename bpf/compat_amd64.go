package bpf

// The 32-bit system calls (the i386 ABI: int $0x80, sysenter), which a
// 64-bit program may make as well: their numbers (the kernel's
// arch/x86/entry/syscalls/syscall_32.tbl), the native call each stands
// for, and how their arguments convert to its layout.

// Conversions, as enum fsa_compat_conv in fsaudit.bpf.c.
const (
	cvSame     uint8 = iota // the native layout, 32-bit values
	cvLen64                 // truncate64, ftruncate64: a 64-bit length in two registers
	cvID16                  // chown16 family: 16-bit ids, 0xffff for -1
	cvMmap2                 // mmap2: the offset in pages
	cvOldMmap               // old mmap: a pointer to its six arguments
	cvFalloc                // fallocate: the offset and length in two registers each
	cvTime32                // utimensat, utimes, futimesat, utime: 32-bit time fields
	cvWrite                 // write(2)
	cvPwrite64              // pwrite64(2): the offset in two registers
	cvWritev                // writev(2): 32-bit iovecs
	cvPwritev               // pwritev(2), pwritev2(2): 32-bit iovecs, the offset in two registers
)

type compatKind struct {
	name string       // the i386 call's name (its __NR_ name)
	kind fsauditFsaSc // 0 for the writes, which the entry reports itself
	conv uint8
}

var compatKinds = map[uint32]compatKind{
	4:   {"write", 0, cvWrite},
	5:   {"open", fsauditFsaScSC_OPEN, cvSame},
	8:   {"creat", fsauditFsaScSC_CREAT, cvSame},
	9:   {"link", fsauditFsaScSC_LINK, cvSame},
	10:  {"unlink", fsauditFsaScSC_UNLINK, cvSame},
	14:  {"mknod", fsauditFsaScSC_MKNOD, cvSame},
	15:  {"chmod", fsauditFsaScSC_CHMOD, cvSame},
	16:  {"lchown", fsauditFsaScSC_LCHOWN, cvID16},
	38:  {"rename", fsauditFsaScSC_RENAME, cvSame},
	39:  {"mkdir", fsauditFsaScSC_MKDIR, cvSame},
	40:  {"rmdir", fsauditFsaScSC_RMDIR, cvSame},
	83:  {"symlink", fsauditFsaScSC_SYMLINK, cvSame},
	90:  {"mmap", fsauditFsaScSC_MMAP, cvOldMmap},
	92:  {"truncate", fsauditFsaScSC_TRUNCATE, cvSame},
	93:  {"ftruncate", fsauditFsaScSC_FTRUNCATE, cvSame},
	94:  {"fchmod", fsauditFsaScSC_FCHMOD, cvSame},
	95:  {"fchown", fsauditFsaScSC_FCHOWN, cvID16},
	146: {"writev", 0, cvWritev},
	181: {"pwrite64", 0, cvPwrite64},
	182: {"chown", fsauditFsaScSC_CHOWN, cvID16},
	187: {"sendfile", fsauditFsaScSC_SENDFILE, cvSame},
	192: {"mmap2", fsauditFsaScSC_MMAP, cvMmap2},
	193: {"truncate64", fsauditFsaScSC_TRUNCATE, cvLen64},
	194: {"ftruncate64", fsauditFsaScSC_FTRUNCATE, cvLen64},
	198: {"lchown32", fsauditFsaScSC_LCHOWN, cvSame},
	207: {"fchown32", fsauditFsaScSC_FCHOWN, cvSame},
	212: {"chown32", fsauditFsaScSC_CHOWN, cvSame},
	226: {"setxattr", fsauditFsaScSC_SETXATTR, cvSame},
	227: {"lsetxattr", fsauditFsaScSC_LSETXATTR, cvSame},
	228: {"fsetxattr", fsauditFsaScSC_FSETXATTR, cvSame},
	235: {"removexattr", fsauditFsaScSC_REMOVEXATTR, cvSame},
	236: {"lremovexattr", fsauditFsaScSC_LREMOVEXATTR, cvSame},
	237: {"fremovexattr", fsauditFsaScSC_FREMOVEXATTR, cvSame},
	239: {"sendfile64", fsauditFsaScSC_SENDFILE, cvSame},
	295: {"openat", fsauditFsaScSC_OPENAT, cvSame},
	296: {"mkdirat", fsauditFsaScSC_MKDIRAT, cvSame},
	297: {"mknodat", fsauditFsaScSC_MKNODAT, cvSame},
	298: {"fchownat", fsauditFsaScSC_FCHOWNAT, cvSame},
	301: {"unlinkat", fsauditFsaScSC_UNLINKAT, cvSame},
	302: {"renameat", fsauditFsaScSC_RENAMEAT, cvSame},
	303: {"linkat", fsauditFsaScSC_LINKAT, cvSame},
	304: {"symlinkat", fsauditFsaScSC_SYMLINKAT, cvSame},
	306: {"fchmodat", fsauditFsaScSC_FCHMODAT, cvSame},
	313: {"splice", fsauditFsaScSC_SPLICE, cvSame},
	334: {"pwritev", 0, cvPwritev},
	353: {"renameat2", fsauditFsaScSC_RENAMEAT2, cvSame},
	377: {"copy_file_range", fsauditFsaScSC_COPY_FILE_RANGE, cvSame},
	379: {"pwritev2", 0, cvPwritev},
	437: {"openat2", fsauditFsaScSC_OPENAT2, cvSame},
	452: {"fchmodat2", fsauditFsaScSC_FCHMODAT2, cvSame},
	463: {"setxattrat", fsauditFsaScSC_SETXATTRAT, cvSame},
	466: {"removexattrat", fsauditFsaScSC_REMOVEXATTRAT, cvSame},
	30:  {"utime", fsauditFsaScSC_UTIME, cvTime32},
	54:  {"ioctl", fsauditFsaScSC_IOCTL, cvSame},
	271: {"utimes", fsauditFsaScSC_UTIMES, cvTime32},
	299: {"futimesat", fsauditFsaScSC_FUTIMESAT, cvTime32},
	320: {"utimensat", fsauditFsaScSC_UTIMENSAT, cvTime32},
	324: {"fallocate", fsauditFsaScSC_FALLOCATE, cvFalloc},
	412: {"utimensat_time64", fsauditFsaScSC_UTIMENSAT, cvSame},
	248: {"io_submit", fsauditFsaScSC_ASYNC_SUBMIT, cvSame},
	426: {"io_uring_enter", fsauditFsaScSC_ASYNC_SUBMIT, cvSame},
}
