package bpf

import "golang.org/x/sys/unix"

// syscallKinds maps this architecture's syscall numbers to what the
// syscall point's exit program does with them (enum fsa_sc), and to the
// names of their syscalls:sys_enter_<name> and sys_exit_<name> tracepoints.
var syscallKinds = map[uint32]syscallKind{
	unix.SYS_OPEN:            {fsauditFsaScSC_OPEN, "open"},
	unix.SYS_CREAT:           {fsauditFsaScSC_CREAT, "creat"},
	unix.SYS_OPENAT:          {fsauditFsaScSC_OPENAT, "openat"},
	unix.SYS_OPENAT2:         {fsauditFsaScSC_OPENAT2, "openat2"},
	unix.SYS_MKNOD:           {fsauditFsaScSC_MKNOD, "mknod"},
	unix.SYS_MKNODAT:         {fsauditFsaScSC_MKNODAT, "mknodat"},
	unix.SYS_MKDIR:           {fsauditFsaScSC_MKDIR, "mkdir"},
	unix.SYS_MKDIRAT:         {fsauditFsaScSC_MKDIRAT, "mkdirat"},
	unix.SYS_LINK:            {fsauditFsaScSC_LINK, "link"},
	unix.SYS_LINKAT:          {fsauditFsaScSC_LINKAT, "linkat"},
	unix.SYS_SYMLINK:         {fsauditFsaScSC_SYMLINK, "symlink"},
	unix.SYS_SYMLINKAT:       {fsauditFsaScSC_SYMLINKAT, "symlinkat"},
	unix.SYS_TRUNCATE:        {fsauditFsaScSC_TRUNCATE, "truncate"},
	unix.SYS_FTRUNCATE:       {fsauditFsaScSC_FTRUNCATE, "ftruncate"},
	unix.SYS_RENAME:          {fsauditFsaScSC_RENAME, "rename"},
	unix.SYS_RENAMEAT:        {fsauditFsaScSC_RENAMEAT, "renameat"},
	unix.SYS_RENAMEAT2:       {fsauditFsaScSC_RENAMEAT2, "renameat2"},
	unix.SYS_UNLINK:          {fsauditFsaScSC_UNLINK, "unlink"},
	unix.SYS_UNLINKAT:        {fsauditFsaScSC_UNLINKAT, "unlinkat"},
	unix.SYS_RMDIR:           {fsauditFsaScSC_RMDIR, "rmdir"},
	unix.SYS_CHMOD:           {fsauditFsaScSC_CHMOD, "chmod"},
	unix.SYS_FCHMOD:          {fsauditFsaScSC_FCHMOD, "fchmod"},
	unix.SYS_FCHMODAT:        {fsauditFsaScSC_FCHMODAT, "fchmodat"},
	unix.SYS_FCHMODAT2:       {fsauditFsaScSC_FCHMODAT2, "fchmodat2"},
	unix.SYS_CHOWN:           {fsauditFsaScSC_CHOWN, "chown"},
	unix.SYS_FCHOWN:          {fsauditFsaScSC_FCHOWN, "fchown"},
	unix.SYS_LCHOWN:          {fsauditFsaScSC_LCHOWN, "lchown"},
	unix.SYS_FCHOWNAT:        {fsauditFsaScSC_FCHOWNAT, "fchownat"},
	unix.SYS_SETXATTR:        {fsauditFsaScSC_SETXATTR, "setxattr"},
	unix.SYS_LSETXATTR:       {fsauditFsaScSC_LSETXATTR, "lsetxattr"},
	unix.SYS_FSETXATTR:       {fsauditFsaScSC_FSETXATTR, "fsetxattr"},
	unix.SYS_SETXATTRAT:      {fsauditFsaScSC_SETXATTRAT, "setxattrat"},
	unix.SYS_REMOVEXATTR:     {fsauditFsaScSC_REMOVEXATTR, "removexattr"},
	unix.SYS_LREMOVEXATTR:    {fsauditFsaScSC_LREMOVEXATTR, "lremovexattr"},
	unix.SYS_FREMOVEXATTR:    {fsauditFsaScSC_FREMOVEXATTR, "fremovexattr"},
	unix.SYS_REMOVEXATTRAT:   {fsauditFsaScSC_REMOVEXATTRAT, "removexattrat"},
	unix.SYS_MMAP:            {fsauditFsaScSC_MMAP, "mmap"},
	unix.SYS_SENDFILE:        {fsauditFsaScSC_SENDFILE, "sendfile64"},
	unix.SYS_SPLICE:          {fsauditFsaScSC_SPLICE, "splice"},
	unix.SYS_COPY_FILE_RANGE: {fsauditFsaScSC_COPY_FILE_RANGE, "copy_file_range"},
	unix.SYS_FALLOCATE:       {fsauditFsaScSC_FALLOCATE, "fallocate"},
	unix.SYS_UTIMENSAT:       {fsauditFsaScSC_UTIMENSAT, "utimensat"},
	unix.SYS_UTIMES:          {fsauditFsaScSC_UTIMES, "utimes"},
	unix.SYS_FUTIMESAT:       {fsauditFsaScSC_FUTIMESAT, "futimesat"},
	unix.SYS_UTIME:           {fsauditFsaScSC_UTIME, "utime"},
	unix.SYS_IOCTL:           {fsauditFsaScSC_IOCTL, "ioctl"},
	unix.SYS_IO_URING_ENTER:  {fsauditFsaScSC_ASYNC_SUBMIT, "io_uring_enter"},
	unix.SYS_IO_SUBMIT:       {fsauditFsaScSC_ASYNC_SUBMIT, "io_submit"},
}

// rawKinds are the calls that the syscall point's entry program handles
// itself when it runs at every call (Capture.RawSyscalls), in place of
// their own tracepoints' programs: the write point's, and close's for the
// coalescing windows.
var rawKinds = map[uint32]fsauditFsaSc{
	unix.SYS_WRITE:    fsauditFsaScSC_WRITE,
	unix.SYS_PWRITE64: fsauditFsaScSC_PWRITE64,
	unix.SYS_WRITEV:   fsauditFsaScSC_WRITEV,
	unix.SYS_PWRITEV:  fsauditFsaScSC_PWRITEV,
	unix.SYS_PWRITEV2: fsauditFsaScSC_PWRITEV2,
	unix.SYS_CLOSE:    fsauditFsaScSC_CLOSE,
}
