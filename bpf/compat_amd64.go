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
	cvWrite                 // write(2)
	cvPwrite64              // pwrite64(2): the offset in two registers
	cvWritev                // writev(2): 32-bit iovecs
	cvPwritev               // pwritev(2), pwritev2(2): 32-bit iovecs, the offset in two registers
)

type compatKind struct {
	kind fsauditFsaSc // 0 for the writes, which the entry reports itself
	conv uint8
}

var compatKinds = map[uint32]compatKind{
	4:   {0, cvWrite}, // write
	5:   {fsauditFsaScSC_OPEN, cvSame},
	8:   {fsauditFsaScSC_CREAT, cvSame},
	9:   {fsauditFsaScSC_LINK, cvSame},
	10:  {fsauditFsaScSC_UNLINK, cvSame},
	14:  {fsauditFsaScSC_MKNOD, cvSame},
	15:  {fsauditFsaScSC_CHMOD, cvSame},
	16:  {fsauditFsaScSC_LCHOWN, cvID16}, // lchown16
	38:  {fsauditFsaScSC_RENAME, cvSame},
	39:  {fsauditFsaScSC_MKDIR, cvSame},
	40:  {fsauditFsaScSC_RMDIR, cvSame},
	83:  {fsauditFsaScSC_SYMLINK, cvSame},
	90:  {fsauditFsaScSC_MMAP, cvOldMmap},
	92:  {fsauditFsaScSC_TRUNCATE, cvSame},
	93:  {fsauditFsaScSC_FTRUNCATE, cvSame},
	94:  {fsauditFsaScSC_FCHMOD, cvSame},
	95:  {fsauditFsaScSC_FCHOWN, cvID16}, // fchown16
	146: {0, cvWritev},                   // writev
	181: {0, cvPwrite64},                 // pwrite64
	182: {fsauditFsaScSC_CHOWN, cvID16},  // chown16
	187: {fsauditFsaScSC_SENDFILE, cvSame},
	192: {fsauditFsaScSC_MMAP, cvMmap2},
	193: {fsauditFsaScSC_TRUNCATE, cvLen64},  // truncate64
	194: {fsauditFsaScSC_FTRUNCATE, cvLen64}, // ftruncate64
	198: {fsauditFsaScSC_LCHOWN, cvSame},     // lchown32
	207: {fsauditFsaScSC_FCHOWN, cvSame},     // fchown32
	212: {fsauditFsaScSC_CHOWN, cvSame},      // chown32
	226: {fsauditFsaScSC_SETXATTR, cvSame},
	227: {fsauditFsaScSC_LSETXATTR, cvSame},
	228: {fsauditFsaScSC_FSETXATTR, cvSame},
	235: {fsauditFsaScSC_REMOVEXATTR, cvSame},
	236: {fsauditFsaScSC_LREMOVEXATTR, cvSame},
	237: {fsauditFsaScSC_FREMOVEXATTR, cvSame},
	239: {fsauditFsaScSC_SENDFILE, cvSame}, // sendfile64
	295: {fsauditFsaScSC_OPENAT, cvSame},
	296: {fsauditFsaScSC_MKDIRAT, cvSame},
	297: {fsauditFsaScSC_MKNODAT, cvSame},
	298: {fsauditFsaScSC_FCHOWNAT, cvSame},
	301: {fsauditFsaScSC_UNLINKAT, cvSame},
	302: {fsauditFsaScSC_RENAMEAT, cvSame},
	303: {fsauditFsaScSC_LINKAT, cvSame},
	304: {fsauditFsaScSC_SYMLINKAT, cvSame},
	306: {fsauditFsaScSC_FCHMODAT, cvSame},
	313: {fsauditFsaScSC_SPLICE, cvSame},
	334: {0, cvPwritev}, // pwritev
	353: {fsauditFsaScSC_RENAMEAT2, cvSame},
	377: {fsauditFsaScSC_COPY_FILE_RANGE, cvSame},
	379: {0, cvPwritev}, // pwritev2
	437: {fsauditFsaScSC_OPENAT2, cvSame},
	452: {fsauditFsaScSC_FCHMODAT2, cvSame},
	463: {fsauditFsaScSC_SETXATTRAT, cvSame},
	466: {fsauditFsaScSC_REMOVEXATTRAT, cvSame},
}
