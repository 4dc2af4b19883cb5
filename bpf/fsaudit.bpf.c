//go:build ignore

// fsaudit's kernel side: one event per change to a file (a write, a
// create, a truncate, a rename, a delete, a chmod or chown, an extended
// attribute set or removed, a shared writable mapping), from the hook modes
// each change can be seen in (fentry, kprobe, syscall tracepoints), built in
// a per-CPU scratch buffer and copied into a BPF ring buffer with only the
// bytes it uses.
//
// The helpers are in lib/*.h by topic, included once each into this one
// object; the programs, by the hook they attach to, are here.
//
// Compiled twice by bpf2go: with HAVE_BPF_LOOP (kernels 5.17 and later walk
// the dentry chain in bpf_loop) and without it (older kernels walk it in a
// bounded loop the verifier unrolls). Both take the same FSA_WALK_STEPS.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#include "lib/layout.h"
#include "lib/admit.h"
#include "lib/walk.h"
#include "lib/event.h"
#include "lib/coalesce.h"

/* ---- fentry ---- */

/* The loff_t *pos argument of an fentry program, copied out of the
 * trampoline's frame: 5.10's verifier refuses direct loads of arguments whose
 * BTF type points to anything but a struct. */
static __always_inline loff_t *fentry_pos(__u64 *ctx, int n)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), &ctx[n]);
	return (loff_t *)v;
}

/* vfs_write(struct file *file, const char __user *buf, size_t count, loff_t *pos) */
SEC("fentry/vfs_write")
int fentry_vfs_write(__u64 *ctx)
{
	struct config *cfg = admit_write();
	if (!cfg)
		return 0;
	struct file *file = (struct file *)ctx[0];
	__u16 flags = 0;
	__s64 off = read_pos(fentry_pos(ctx, 3), &flags);
	return emit_write(cfg, file, ctx[2], off, flags, FSA_HOOK_FENTRY);
}

/* vfs_writev(struct file *file, const struct iovec __user *vec, unsigned long vlen, loff_t *pos, rwf_t flags) */
SEC("fentry/vfs_writev")
int fentry_vfs_writev(__u64 *ctx)
{
	struct config *cfg = admit_write();
	if (!cfg)
		return 0;
	struct file *file = (struct file *)ctx[0];
	__u16 flags = 0;
	__s64 off = read_pos(fentry_pos(ctx, 3), &flags);
	__u64 bytes = iov_bytes((const struct iovec *)ctx[1], ctx[2], &flags);
	return emit_write(cfg, file, bytes, off, flags, FSA_HOOK_FENTRY);
}

/* ---- kprobe: arguments from the registers, as PT_REGS_PARM1.. give them ---- */

SEC("kprobe/vfs_write")
int kprobe_vfs_write(struct pt_regs *regs)
{
	struct config *cfg = admit_write();
	if (!cfg)
		return 0;
	struct file *file = (struct file *)PT_REGS_PARM1(regs);
	size_t count = (size_t)PT_REGS_PARM3(regs);
	loff_t *pos = (loff_t *)PT_REGS_PARM4(regs);
	__u16 flags = 0;
	__s64 off = read_pos(pos, &flags);
	return emit_write(cfg, file, count, off, flags, FSA_HOOK_KPROBE);
}

SEC("kprobe/vfs_writev")
int kprobe_vfs_writev(struct pt_regs *regs)
{
	struct config *cfg = admit_write();
	if (!cfg)
		return 0;
	struct file *file = (struct file *)PT_REGS_PARM1(regs);
	const struct iovec *vec = (const struct iovec *)PT_REGS_PARM2(regs);
	unsigned long vlen = PT_REGS_PARM3(regs);
	loff_t *pos = (loff_t *)PT_REGS_PARM4(regs);
	__u16 flags = 0;
	__s64 off = read_pos(pos, &flags);
	__u64 bytes = iov_bytes(vec, vlen, &flags);
	return emit_write(cfg, file, bytes, off, flags, FSA_HOOK_KPROBE);
}

/* ---- syscall tracepoints: the fd is looked up in the task's file table ---- */

static __always_inline int tp_write(struct trace_event_raw_sys_enter *ctx, int vectored, __s64 pos)
{
	struct config *cfg = admit_write();
	if (!cfg)
		return 0;
	struct file *file = current_fd_file(ctx->args[0]);
	__u16 flags = 0;
	__u64 bytes;
	if (vectored)
		bytes = iov_bytes((const struct iovec *)ctx->args[1], ctx->args[2], &flags);
	else
		bytes = ctx->args[2];
	return emit_write(cfg, file, bytes, pos, flags, FSA_HOOK_TRACEPOINT);
}

SEC("tracepoint/syscalls/sys_enter_write")
int tp_sys_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return tp_write(ctx, 0, -1);
}

SEC("tracepoint/syscalls/sys_enter_pwrite64")
int tp_sys_enter_pwrite64(struct trace_event_raw_sys_enter *ctx)
{
	return tp_write(ctx, 0, (__s64)ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int tp_sys_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return tp_write(ctx, 1, -1);
}

SEC("tracepoint/syscalls/sys_enter_pwritev")
int tp_sys_enter_pwritev(struct trace_event_raw_sys_enter *ctx)
{
	return tp_write(ctx, 1, (__s64)ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_pwritev2")
int tp_sys_enter_pwritev2(struct trace_event_raw_sys_enter *ctx)
{
	/* An offset of -1 means the file's own position. */
	return tp_write(ctx, 1, (__s64)ctx->args[3]);
}

/* close(fd): the window of the process's writes to that file ends; the
 * sweep reports what it merged, and drops the entry when nothing waits. */
static __always_inline int closed(__u64 fd)
{
	struct config *cfg = admit();
	if (!cfg || !cfg->window_ns)
		return 0;
	struct file *file = current_fd_file(fd);
	if (!file || !(BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
		return 0;
	struct coalesce_key k = {};
	coalesce_key_of(&k, BPF_CORE_READ(file, f_inode));
	struct coalesce_val *v = bpf_map_lookup_elem(&coalesce, &k);
	if (!v)
		return 0;
	v->window_ns = 0;
	if (v->writes == 0)
		bpf_map_delete_elem(&coalesce, &k);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int tp_sys_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return closed(ctx->args[0]);
}

/* Run by the agent (BPF_PROG_TEST_RUN), never attached: returns the calling
 * process's tgid as the kernel knows it (in the initial pid namespace), which
 * the agent's own getpid() is not when it runs in a pid namespace of its own
 * (a container without the host's pids). The agent's own changes are left
 * out by this number. */
SEC("raw_tp/fsaudit_whoami")
int whoami(void *ctx)
{
	return bpf_get_current_pid_tgid() >> 32;
}

/* Run by the agent (BPF_PROG_TEST_RUN), never attached: reports the writes
 * merged in one entry and takes them out of it. The arguments are the key
 * (tgid, inode, cred) and whether to drop the entry (its process is gone). Writers only ever add to an entry and this
 * is the only program that subtracts, so writes merged meanwhile stay for
 * the next report. Returns 1 when it reported, 0 when nothing waited, 2 when
 * the ring buffer had no room (nothing is taken out: the next sweep retries). */
SEC("raw_tp/fsaudit_flush")
int flush_coalesced(__u64 *ctx)
{
	struct coalesce_key k = {};
	k.tgid = ctx[0];
	k.inode = ctx[1];
	k.cred = ctx[2];
	int drop = ctx[3] != 0;
	struct coalesce_val *v = bpf_map_lookup_elem(&coalesce, &k);
	if (!v)
		return 0;
	__u64 writes = v->writes;
	int ret = 0;
	if (writes) {
		__u32 zero = 0;
		struct event *e = bpf_map_lookup_elem(&scratch, &zero);
		if (!e)
			return 2;
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		start(e, task, FSA_OP_WRITE, v->hook);
		__builtin_memset(e->comm, 0, sizeof(e->comm));
		e->pid = k.tgid;
		e->tid = 0;
		e->ppid = 0;
		e->start_ns = 0;
		e->cgroup_id = 0;
		e->mnt_ns = 0;
		e->uid = v->uid;
		e->euid = v->euid;
		e->gid = 0;
		e->egid = 0;
		e->loginuid = (__u32)-1;
		e->exec_id = v->exec_id;
		e->ino = v->ino;
		e->generation = v->generation;
		e->dev = v->dev;
		e->mode = v->mode;
		e->flags = FSA_F_COALESCED | v->flags;
		e->ts_ns = v->first_ns;
		e->end_ns = v->last_ns;
		e->offset = v->first_off;
		e->writes = writes;
		e->bytes = v->bytes;
		if (bpf_ringbuf_output(&events, e, offsetof(struct event, path), 0))
			return 2;
		__sync_fetch_and_add(&v->writes, -writes);
		__sync_fetch_and_add(&v->bytes, -e->bytes);
		ret = 1;
	}
	if (drop)
		bpf_map_delete_elem(&coalesce, &k);
	return ret;
}

/* ---- syscalls that change files other than by write: one program on
 * the entry of each of these calls keeps the arguments of those it watches,
 * one on their exits reports the call when it succeeded. ---- */

/* What the exit program does with a syscall; user space maps this
 * architecture's syscall numbers to these in syscall_kinds. */
enum fsa_sc {
	SC_OPEN = 1,      /* path, flags */
	SC_CREAT,         /* path */
	SC_OPENAT,        /* dfd, path, flags */
	SC_OPENAT2,       /* dfd, path, how */
	SC_MKNOD,         /* path, mode */
	SC_MKNODAT,       /* dfd, path, mode */
	SC_MKDIR,         /* path, mode */
	SC_MKDIRAT,       /* dfd, path, mode */
	SC_LINK,          /* old, new */
	SC_LINKAT,        /* olddfd, old, newdfd, new, flags */
	SC_SYMLINK,       /* text, path */
	SC_SYMLINKAT,     /* text, dfd, path */
	SC_TRUNCATE,      /* path, length */
	SC_FTRUNCATE,     /* fd, length */
	SC_RENAME,        /* old, new */
	SC_RENAMEAT,      /* olddfd, old, newdfd, new */
	SC_RENAMEAT2,     /* olddfd, old, newdfd, new, flags */
	SC_UNLINK,        /* path */
	SC_UNLINKAT,      /* dfd, path, flags */
	SC_RMDIR,         /* path */
	SC_CHMOD,         /* path, mode */
	SC_FCHMOD,        /* fd, mode */
	SC_FCHMODAT,      /* dfd, path, mode */
	SC_FCHMODAT2,     /* dfd, path, mode, flags */
	SC_CHOWN,         /* path, uid, gid */
	SC_FCHOWN,        /* fd, uid, gid */
	SC_LCHOWN,        /* path, uid, gid */
	SC_FCHOWNAT,      /* dfd, path, uid, gid, flags */
	SC_SETXATTR,      /* path, name */
	SC_LSETXATTR,     /* path, name */
	SC_FSETXATTR,     /* fd, name */
	SC_SETXATTRAT,    /* dfd, path, at_flags, name */
	SC_REMOVEXATTR,   /* path, name */
	SC_LREMOVEXATTR,  /* path, name */
	SC_FREMOVEXATTR,  /* fd, name */
	SC_REMOVEXATTRAT, /* dfd, path, at_flags, name */
	SC_MMAP,          /* addr, len, prot, flags, fd, off */
	SC_SENDFILE,      /* out_fd, in_fd, offset, count */
	SC_SPLICE,        /* fd_in, off_in, fd_out, off_out, len */
	SC_COPY_FILE_RANGE, /* fd_in, off_in, fd_out, off_out, len */
	SC_FALLOCATE,     /* fd, mode, offset, len */
	SC_UTIMENSAT,     /* dfd, path (NULL: dfd itself), timespec[2], flags */
	SC_UTIMES,        /* path, timeval[2] */
	SC_FUTIMESAT,     /* dfd, path, timeval[2] */
	SC_UTIME,         /* path, utimbuf */
	SC_IOCTL,         /* fd, cmd, arg: kept only for FICLONE, FICLONERANGE, FIDEDUPERANGE */
	SC_ASYNC_SUBMIT,  /* io_uring_enter, io_submit: kept only so that rw_verify_area knows */
	/* Handled at their entry only, by any_sys_enter: */
	SC_WRITE,         /* fd, buf, count */
	SC_PWRITE64,      /* fd, buf, count, pos */
	SC_WRITEV,        /* fd, iovec *, vlen */
	SC_PWRITEV,       /* fd, iovec *, vlen, pos */
	SC_PWRITEV2,      /* fd, iovec *, vlen, pos (-1: the file's own), flags */
	SC_CLOSE,         /* fd: a coalescing window ends */
	SC_MAX,
};

#define FSA_MAX_SYSCALL 512
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FSA_MAX_SYSCALL);
	__type(key, __u32);
	__type(value, __u8); /* enum fsa_sc, | FSA_SC_WATCHED when its entry and exit are kept */
} syscall_kinds SEC(".maps");

/* The 32-bit calls, by i386 number (see compat_enter). */
enum fsa_compat_conv {
	CV_SAME = 0,     /* the native layout, 32-bit values */
	CV_LEN64,        /* truncate64, ftruncate64: (x, lo, hi) -> (x, lo | hi << 32) */
	CV_ID16,         /* chown16 family: (x, uid16, gid16): 0xffff is -1 */
	CV_MMAP2,        /* mmap2: the offset is in pages */
	CV_OLD_MMAP,     /* old mmap: one pointer to six 32-bit values */
	CV_FALLOC,       /* fallocate: 64-bit offset and length in two registers each */
	CV_TIME32,       /* utimensat, utimes, futimesat, utime: 32-bit seconds (and 32-bit fields) */
	CV_WRITE,        /* write(fd, buf, count) */
	CV_PWRITE64,     /* pwrite64(fd, buf, count, lo, hi) */
	CV_WRITEV,       /* writev(fd, compat_iovec *, vlen) */
	CV_PWRITEV,      /* pwritev(fd, compat_iovec *, vlen, lo, hi), pwritev2 (…, flags) */
};

struct compat_kind {
	__u8 kind; /* enum fsa_sc | FSA_SC_WATCHED; 0 for the writes */
	__u8 conv; /* enum fsa_compat_conv */
};

#define FSA_MAX_COMPAT 512
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FSA_MAX_COMPAT);
	__type(key, __u32);
	__type(value, struct compat_kind);
} compat_kinds SEC(".maps");
#define FSA_SC_WATCHED 0x80
#define FSA_SC_TRACK 0x40 /* at its entry, whether watched or not: see track() */
#define FSA_SC_KIND 0x3f  /* enum fsa_sc */

/* A watched call between its entry and its exit, by thread. */
struct pending {
	__u64 args[6];
	__s64 pos;   /* transfers: the output file's offset before the call; openat2: how->flags */
	enum fsa_sc kind;
	__u32 flags; /* transfers: FSA_F_APPEND when the output appends; FSA_P_COMPAT */
	/* The structure a call reads its input from, copied at its entry as
	 * the kernel copies it (another thread could change it before the
	 * exit): the times of utimensat and its kin, FICLONERANGE's range.
	 * FSA_P_DATA says it was read. */
	__u8 data[32];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending);
} pending_copy SEC(".maps");

/* pending.flags: kept by compat_enter, from a 32-bit call; its time
 * structures have 32-bit fields */
#define FSA_P_COMPAT (1u << 31)
#define FSA_P_TIME32 (1u << 30)
#define FSA_P_SAVED (1u << 29) /* its strings are in saved_strs */
#define FSA_P_DATA (1u << 28)  /* data holds its input structure */

/* The strings a path-named call names its files (and attributes) by,
 * copied at its entry, as the kernel copies them: read again at its exit,
 * they could be another file's, written into the buffer by another thread
 * of the caller while the call ran. Not preallocated: only the calls in
 * flight hold an entry. */
#define FSA_SAVED_STRS 2
struct saved_strs {
	__u64 ptr[FSA_SAVED_STRS]; /* the user addresses they were read from */
	__s64 len[FSA_SAVED_STRS]; /* bytes with the NUL, or the read's error */
	char buf[FSA_SAVED_STRS][FSA_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct saved_strs);
} saved_strs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct saved_strs);
} saved_scratch SEC(".maps");

/* The reflink and dedupe ioctls, which write their destination files. */
#define FSA_FICLONE 0x40049409
#define FSA_FICLONERANGE 0x4020940d
#define FSA_FIDEDUPERANGE 0xc0189436
static __always_inline int clone_ioctl(__u64 cmd)
{
	__u32 c = cmd;
	return c == FSA_FICLONE || c == FSA_FICLONERANGE || c == FSA_FIDEDUPERANGE;
}

__noinline int fsa_syscall_exit(long ret, __u32 compat);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct pending);
} pending SEC(".maps");

/* rw_verify_area(int read_write, struct file *file, const loff_t *ppos, size_t count):
 * every write through the VFS passes here before it starts. vfs_write and
 * vfs_writev report the write(2) family and the syscall point the transfers
 * (sendfile, splice, copy_file_range), so this reports only what neither
 * sees: writes an io_uring worker does, and writes done inside io_uring_enter
 * and io_submit (io_uring's inline issue, Linux AIO). Nested calls (the
 * kernel's own writes within a transfer, an overlay's write to its upper
 * file) come from none of those. */
static __always_inline int async_write(struct file *file, __u64 count, loff_t *ppos, __u16 hook)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (!(BPF_CORE_READ(task, flags) & FSA_PF_IO_WORKER)) {
		__u64 id = bpf_get_current_pid_tgid();
		struct pending *p = bpf_map_lookup_elem(&pending, &id);
		if (!p || p->kind != SC_ASYNC_SUBMIT)
			return 0;
	}
	struct config *cfg = admit_write();
	if (!cfg)
		return 0;
	__u16 flags = 0;
	__s64 off = read_pos((loff_t *)ppos, &flags);
	return emit_write(cfg, file, count, off, flags, hook);
}

SEC("fentry/rw_verify_area")
int fentry_rw_verify_area(__u64 *ctx)
{
	if ((int)ctx[0] != FSA_WRITE)
		return 0;
	return async_write((struct file *)ctx[1], ctx[3], fentry_pos(ctx, 2), FSA_HOOK_FENTRY);
}

SEC("kprobe/rw_verify_area")
int kprobe_rw_verify_area(struct pt_regs *regs)
{
	if ((int)PT_REGS_PARM1(regs) != FSA_WRITE)
		return 0;
	return async_write((struct file *)PT_REGS_PARM2(regs), PT_REGS_PARM4(regs), (loff_t *)PT_REGS_PARM3(regs), FSA_HOOK_KPROBE);
}

#define FSA_AT_FDCWD -100
#define FSA_AT_EMPTY_PATH 0x1000
#define FSA_AT_REMOVEDIR 0x200
#define FSA_AT_SYMLINK_NOFOLLOW 0x100
#define FSA_AT_SYMLINK_FOLLOW 0x400
#define FSA_O_CREAT 0100
#define FSA_O_TRUNC 01000
#define FSA_O_WRONLY 01
#define FSA_PROT_WRITE 0x2
#define FSA_MAP_TYPE 0x0f
#define FSA_MAP_SHARED 0x01
#define FSA_MAP_SHARED_VALIDATE 0x03
#define FSA_MAP_ANONYMOUS 0x20
#define FSA_O_PATH 010000000
#define FSA_RENAME_EXCHANGE 2
#define FSA_S_IFDIR 0040000
#define FSA_S_IFLNK 0120000
#define FSA_TS_COMPAT 0x0002

/* Whether the current system call is a 32-bit one, as cheaply as the
 * kernel lets a program ask: run at every system call's entry and exit. */
static __always_inline int compat_call(void)
{
#ifdef HAVE_BPF_LOOP
	return bpf_get_current_task_btf()->thread_info.status & FSA_TS_COMPAT;
#else
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, thread_info.status) & FSA_TS_COMPAT;
#endif
}

/* A 32-bit task's syscall numbers are not this architecture's. */
static __always_inline int compat_task(struct task_struct *task)
{
	if (!bpf_core_field_exists(task->thread_info.status))
		return 0;
	return BPF_CORE_READ(task, thread_info.status) & FSA_TS_COMPAT;
}

/* The offset a transfer writes the output file at, read before the call. */
static __always_inline void transfer_pos(struct pending *p, struct task_struct *task, int fd, __u64 off_ptr)
{
	struct file *f = fd_file(task, fd);
	p->pos = -1;
	if (!f)
		return;
	if (BPF_CORE_READ(f, f_flags) & FSA_O_APPEND) {
		p->flags |= FSA_F_APPEND;
		p->pos = BPF_CORE_READ(f, f_inode, i_size);
		return;
	}
	if (off_ptr) {
		__s64 v = -1;
		if (bpf_probe_read_user(&v, sizeof(v), (void *)off_ptr) == 0)
			p->pos = v;
		return;
	}
	p->pos = BPF_CORE_READ(f, f_pos);
}

/* The record of the syscalls:sys_enter_<call> tracepoints. Unlike
 * raw_syscalls' record, the call's number is an int, and
 * an entry holds only the arguments its call takes: the verifier checks the
 * farthest direct read against each tracepoint's record, so one program
 * serving calls of one to six arguments copies them with a probe read (the
 * kernel hands BPF a frame with room for six). */
struct syscall_enter {
	__u64 common;
	int nr;
	__u32 _pad;
	__u64 args[6];
};

/* Copies the input structure of a call that has one into p->data: its
 * size by the call and the ABI (32-bit times from a 32-bit call). */
static __always_inline void keep_data(struct pending *p)
{
	__u64 *a = p->args;
	__u64 ptr = 0;
	__u32 size = 32;
	int time32 = p->flags & FSA_P_TIME32;
	switch (p->kind) {
	case SC_UTIMENSAT: case SC_FUTIMESAT: /* timespec[2], timeval[2] */
		ptr = a[2];
		size = time32 ? 16 : 32;
		break;
	case SC_UTIMES: /* timeval[2] */
		ptr = a[1];
		size = time32 ? 16 : 32;
		break;
	case SC_UTIME: /* utimbuf */
		ptr = a[1];
		size = time32 ? 8 : 16;
		break;
	case SC_IOCTL:
		if ((__u32)a[1] == FSA_FICLONERANGE)
			ptr = a[2];
		break;
	default:
		break;
	}
	if (!ptr)
		return;
	long err;
	if (size == 32)
		err = bpf_probe_read_user(p->data, 32, (void *)ptr);
	else if (size == 16)
		err = bpf_probe_read_user(p->data, 16, (void *)ptr);
	else
		err = bpf_probe_read_user(p->data, 8, (void *)ptr);
	if (!err)
		p->flags |= FSA_P_DATA;
}

/* Which arguments of a call are the strings it names files and attributes
 * by, a bit each (the first two set are saved). Opens are named by the
 * descriptor they return. */
static __always_inline __u32 string_args(enum fsa_sc kind)
{
	switch (kind) {
	case SC_MKNOD: case SC_MKDIR: case SC_TRUNCATE: case SC_UNLINK: case SC_RMDIR: case SC_CHMOD:
	case SC_CHOWN: case SC_LCHOWN: case SC_UTIMES: case SC_UTIME:
		return 1 << 0;
	case SC_MKNODAT: case SC_MKDIRAT: case SC_UNLINKAT: case SC_FCHMODAT: case SC_FCHMODAT2:
	case SC_FCHOWNAT: case SC_FUTIMESAT: case SC_UTIMENSAT: case SC_FSETXATTR: case SC_FREMOVEXATTR:
		return 1 << 1;
	case SC_LINK: case SC_SYMLINK: case SC_RENAME: case SC_SETXATTR: case SC_LSETXATTR:
	case SC_REMOVEXATTR: case SC_LREMOVEXATTR:
		return 1 << 0 | 1 << 1;
	case SC_SYMLINKAT:
		return 1 << 0 | 1 << 2;
	case SC_LINKAT: case SC_RENAMEAT: case SC_RENAMEAT2: case SC_SETXATTRAT: case SC_REMOVEXATTRAT:
		return 1 << 1 | 1 << 3;
	default:
		return 0;
	}
}

/* The index of the lowest bit set in mask (below 6), or 6. */
static __always_inline __u32 low_bit(__u32 mask)
{
	for (__u32 i = 0; i < 6; i++)
		if (mask & (1 << i))
			return i;
	return 6;
}

/* Copies the call's string arguments (strs: string_args) into saved_strs
 * under the thread's id; 0 when they are there. */
static __always_inline int save_strings(__u64 id, __u64 *a, __u32 strs)
{
	__u32 zero = 0;
	struct saved_strs *s = bpf_map_lookup_elem(&saved_scratch, &zero);
	if (!s)
		return -1;
	__u32 i = low_bit(strs);
	__u32 j = low_bit(strs & ~(1u << i));
	if ((i >= 6 || !a[i & 7]) && (j >= 6 || !a[j & 7]))
		return -1; /* no string given (futimens' NULL path) */
	s->ptr[0] = s->ptr[1] = 0;
	s->len[0] = s->len[1] = -1;
	if (i < 6) {
		s->ptr[0] = a[i];
		s->len[0] = bpf_probe_read_user_str(s->buf[0], FSA_PATH_MAX, (void *)a[i]);
	}
	if (j < 6) {
		s->ptr[1] = a[j];
		s->len[1] = bpf_probe_read_user_str(s->buf[1], FSA_PATH_MAX, (void *)a[j]);
	}
	return bpf_map_update_elem(&saved_strs, &id, s, BPF_ANY) ? -1 : 0;
}

/* The saved copy of the string the current call gave at str, if any. */
static __always_inline const char *saved_str(__u64 str)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct saved_strs *s = bpf_map_lookup_elem(&saved_strs, &id);
	if (!s || !str)
		return 0;
	if (s->ptr[0] == str && s->len[0] >= 0)
		return s->buf[0];
	if (s->ptr[1] == str && s->len[1] >= 0)
		return s->buf[1];
	return 0;
}

/* Keeps a watched call's arguments (in the native layout) until its exit,
 * with what must be read before the call: a transfer's output offset,
 * openat2's flags. Other ioctls than the reflink ones are not kept. */
static __always_inline int keep_pending(struct pending *p, struct task_struct *task)
{
	__u64 *a = p->args;
	if (p->kind == SC_IOCTL && !clone_ioctl(a[1]))
		return 0;
	switch (p->kind) {
	case SC_SENDFILE:
		transfer_pos(p, task, (int)a[0], 0); /* the offset argument is the input's */
		break;
	case SC_SPLICE:
	case SC_COPY_FILE_RANGE:
		transfer_pos(p, task, (int)a[2], a[3]);
		break;
	case SC_OPENAT2: {
		__u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)a[2]);
		p->pos = flags;
		break;
	}
	default:
		break;
	}
	keep_data(p);
	__u64 id = bpf_get_current_pid_tgid();
	__u32 strs = string_args(p->kind);
	if (strs && save_strings(id, a, strs) == 0)
		p->flags |= FSA_P_SAVED;
	bpf_map_update_elem(&pending, &id, p, BPF_ANY);
	return 0;
}

/* Where no 32-bit call can be made (else any_sys_enter does its work):
 * attached to the entry of each call in syscall_kinds, and of no other, so
 * the system calls nobody watches run no program at their entry. */
/* The kind of native call nr at its entry, 0 when it is not watched, once
 * what track() notes is noted. */
static __always_inline __u8 entry_kind(__u64 nr)
{
	if (nr >= FSA_MAX_SYSCALL)
		return 0;
	__u32 n = nr;
	__u8 *kind = bpf_map_lookup_elem(&syscall_kinds, &n);
	if (!kind)
		return 0;
	if (*kind & FSA_SC_TRACK)
		track();
	if (!(*kind & FSA_SC_WATCHED))
		return 0;
	return *kind & FSA_SC_KIND;
}

SEC("tracepoint/syscalls/sys_enter_watched")
int tp_syscall_enter(struct syscall_enter *ctx)
{
	__u8 k = entry_kind((__u32)ctx->nr);
	if (!k || !admit())
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (compat_task(task))
		return 0;
	struct pending p = {.kind = k, .pos = -1};
	if (bpf_probe_read_kernel(p.args, sizeof(p.args), ctx->args))
		return 0;
	return keep_pending(&p, task);
}


#include "lib/names.h"

/* The permission bits a new file gets: what was asked, less the umask. */
static __always_inline __u32 created_mode(struct task_struct *task, __u32 type, __u64 asked)
{
	__u32 umask = BPF_CORE_READ(task, fs, umask);
	return type | ((__u32)asked & 07777 & ~umask);
}

/* An open that succeeded: a create when it made the file, a truncate when
 * it truncated one that was there. */
static __always_inline int opened(struct config *cfg, struct task_struct *task, long fd, __u64 flags)
{
	struct file *f = fd_file(task, fd);
	if (!f)
		return 0;
	__u32 fmode = BPF_CORE_READ(f, f_mode);
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	__u32 imode = BPF_CORE_READ(inode, i_mode);
	__u16 op;
	if (fmode & cfg->fmode_created)
		op = FSA_OP_CREATE;
	else if ((flags & FSA_O_TRUNC) && !(flags & FSA_O_PATH) && (imode & FSA_S_IFMT) == FSA_S_IFREG)
		op = FSA_OP_TRUNCATE;
	else
		return 0;
	if (!(cfg->syscall_ops & (1 << op)))
		return 0;
	struct event *e = begin(cfg, task, op, FSA_HOOK_TRACEPOINT);
	if (!e)
		return 0;
	file_fields(e, inode);
	if (op == FSA_OP_CREATE) {
		e->sub = FSA_CREATE_OPEN;
		e->new_mode = imode;
	}
	walk_path(e, f, task);
	finish(e);
	return 0;
}

/* A transfer into a file (sendfile, splice, copy_file_range) of ret bytes. */
static __always_inline int transferred(struct config *cfg, struct task_struct *task, struct pending *p,
				       int fd, long ret, __u32 sub)
{
	if (ret <= 0 || !(cfg->syscall_ops & (1 << FSA_OP_WRITE)))
		return 0;
	struct file *f = fd_file(task, fd);
	if (!f)
		return 0;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	__u32 imode = BPF_CORE_READ(inode, i_mode);
	if ((imode & FSA_S_IFMT) != FSA_S_IFREG && cfg->regular_only)
		return 0;
	if ((imode & FSA_S_IFMT) == FSA_S_IFIFO)
		return 0; /* into a pipe: nothing was written to a file yet */
	struct event *e = begin(cfg, task, FSA_OP_WRITE, FSA_HOOK_TRACEPOINT);
	if (!e)
		return 0;
	file_fields(e, inode);
	e->sub = sub;
	e->bytes = ret;
	e->flags |= p->flags;
	if (p->pos >= 0)
		e->offset = p->pos;
	else
		e->flags |= FSA_F_NO_OFFSET;
	walk_path(e, f, task);
	finish(e);
	return 0;
}

/* ---- VFS hooks for the changes made by path: the kernel's LSM path hooks
 * (security_path_*) see every one, whoever asks for it (a system call,
 * io_uring), with the mount and dentries of both ends, but before the change
 * happens. Each sends its event marked pending and remembers the dentry; the
 * thread's next system call exit, or io_uring completion, sends a result
 * event with the return value and the dentry's inode as it is then, and user
 * space reports the pending event only when the change succeeded. ---- */

struct inflight {
	__u64 dentry; /* struct dentry * whose inode the result reports */
	__u64 cookie; /* the pending event's ts_ns: the result carries it back */
	__u32 op;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* Builds and sends the pending event of a change to dentry d (in mount mnt);
 * target, when given, is a second dentry in the same mount (a rename's new
 * name, a hard link's existing file), raw a kernel string (a symlink's text). */
static __always_inline int lsm_pending(__u16 op, __u32 sub, struct vfsmount *mnt, struct dentry *d,
				       struct vfsmount *tmnt, struct dentry *target, const char *raw, __u16 hook,
				       __u32 new_mode, __u32 new_uid, __u32 new_gid)
{
	struct config *cfg = admit();
	if (!cfg)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e = begin(cfg, task, op, hook);
	if (!e)
		return 0;
	e->flags |= FSA_F_PENDING;
	e->sub = sub;
	e->new_mode = new_mode;
	e->new_uid = new_uid;
	e->new_gid = new_gid;
	if (op == FSA_OP_RENAME && (sub & FSA_RENAME_EXCHANGE))
		e->flags |= FSA_F_EXCHANGE;
	struct inode *inode = BPF_CORE_READ(d, d_inode);
	if (inode)
		file_fields(e, inode);
	struct walk_out o = {};
	walk_from(e, d, mnt, task, 0, 0, &o);
	set_path(e, &o);
	__u32 base = e->path_len;
	if (target && base < FSA_PATH_MAX) {
		struct walk_out t = {};
		walk_from(e, target, tmnt, task, base, 0, &t);
		set_target(e, &t);
	} else if (raw && base < FSA_PATH_MAX) {
		long n = str_len(e, base, bpf_probe_read_kernel_str(path_at(e, base), FSA_PATH_MAX, raw));
		e->target_flags = FSA_F_RAW;
		if (n > 0)
			e->target_len = n;
		else
			e->target_flags |= FSA_F_TRUNCATED;
	} else if (target || raw) {
		e->target_flags = FSA_F_TRUNCATED;
	}
	__u64 cookie = e->ts_ns;
	finish(e);
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight f = {.dentry = (__u64)d, .cookie = cookie, .op = op};
	bpf_map_update_elem(&inflight, &id, &f, BPF_ANY);
	return 0;
}

#define FSA_EEXIST 17

/* Sends the result of the thread's pending event, if it has one. From a
 * system call's exit (nr >= 0), sub says whether that call was an open. */
static __always_inline void confirm(struct config *cfg, __u64 id, long ret, __u32 sub, long nr)
{
	struct inflight *fp = bpf_map_lookup_elem(&inflight, &id);
	if (!fp)
		return;
	if (nr >= 0 && nr < FSA_MAX_SYSCALL) {
		__u32 n = nr;
		__u8 k = 0;
		if (compat_task((struct task_struct *)bpf_get_current_task())) {
			/* a 32-bit call: its number is i386's */
			struct compat_kind *ck = bpf_map_lookup_elem(&compat_kinds, &n);
			k = ck ? ck->kind & FSA_SC_KIND : 0;
		} else {
			__u8 *kind = bpf_map_lookup_elem(&syscall_kinds, &n);
			k = kind ? *kind & FSA_SC_KIND : 0;
		}
		if (k == SC_OPEN || k == SC_CREAT || k == SC_OPENAT || k == SC_OPENAT2)
			sub = FSA_RESULT_OPEN;
	}
	struct dentry *d = (struct dentry *)fp->dentry;
	__u32 op = fp->op;
	__u64 cookie = fp->cookie;
	bpf_map_delete_elem(&inflight, &id);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	/* An open with O_CREAT asks to create before it knows whether the file
	 * is there (a name not in the dentry cache): the file it opened says
	 * whether it made it. */
	if (op == FSA_OP_CREATE && sub == FSA_RESULT_OPEN && ret >= 0) {
		struct file *f = fd_file(task, ret);
		if (!f || !(BPF_CORE_READ(f, f_mode) & cfg->fmode_created))
			ret = -FSA_EEXIST;
	}
	struct event *e = begin(cfg, task, FSA_OP_RESULT, FSA_HOOK_TRACEPOINT);
	if (!e)
		return;
	e->length = ret;
	e->sub = sub;
	e->bytes = cookie;
	/* The call has put its dentries by now: a created, renamed or changed
	 * file's stays in the dentry cache, but a deleted file's may be gone,
	 * and its pending event has the inode already. */
	if ((ret >= 0 || ret <= -4096) && op != FSA_OP_DELETE) {
		struct inode *inode = BPF_CORE_READ(d, d_inode);
		if (inode)
			file_fields(e, inode);
		e->offset = inode ? BPF_CORE_READ(inode, i_size) : 0;
	}
	send(e, offsetof(struct event, path), 0, FSA_LOST_AUDIT);
}

/* io_uring's operations complete in the thread that did them. */
SEC("tracepoint/io_uring/io_uring_complete")
int tp_io_uring_complete(struct trace_event_raw_io_uring_complete *ctx)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&settings, &zero);
	if (!cfg || !cfg->lsm || cfg->stopped)
		return 0;
	int res = BPF_CORE_READ(ctx, res);
	__u32 sub = 0;
	/* Only the completion of an operation by path, posted by the thread
	 * that did it: others (a read finishing in an interrupt while some
	 * thread runs) must not settle that thread's pending event. */
	if (bpf_core_field_exists(ctx->req)) {
		struct io_kiocb *req = BPF_CORE_READ(ctx, req);
		__u8 opcode = BPF_CORE_READ(req, opcode);
		/* uapi: stable numbers */
		switch (opcode) {
		case IORING_OP_OPENAT:
		case IORING_OP_OPENAT2:
			sub = FSA_RESULT_OPEN;
			break;
		case IORING_OP_RENAMEAT:
		case IORING_OP_UNLINKAT:
		case IORING_OP_MKDIRAT:
		case IORING_OP_SYMLINKAT:
		case IORING_OP_LINKAT:
		case IORING_OP_FTRUNCATE:
			break;
		default:
			return 0;
		}
	} else {
		/* 5.10 names no request: its path operations (openat) run on
		 * io-wq workers, which complete them themselves. */
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		if (!(BPF_CORE_READ(task, flags) & FSA_PF_IO_WORKER))
			return 0;
		sub = FSA_RESULT_OPEN;
	}
	confirm(cfg, bpf_get_current_pid_tgid(), res, sub, -1);
	return 0;
}


/* The n-th argument of an fentry program, read from the trampoline's frame
 * (a hook with fewer arguments reads what lies after them, unused). */
static __always_inline __u64 arg(__u64 *ctx, int n)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), &ctx[n]);
	return v;
}

/* Each hook in both VFS modes: fentry reads its arguments from the
 * trampoline's frame, kprobe from the registers. */
#define LSM_HOOK(fn, body)                                                   \
	static __always_inline int lsm_##fn(__u64 a0, __u64 a1, __u64 a2,     \
					    __u64 a3, __u64 a4, __u16 hook)    \
	body                                                                 \
	SEC("fentry/security_path_" #fn)                                     \
	int fentry_security_path_##fn(__u64 *ctx)                            \
	{                                                                    \
		return lsm_##fn(arg(ctx, 0), arg(ctx, 1), arg(ctx, 2),       \
				arg(ctx, 3), arg(ctx, 4), FSA_HOOK_FENTRY);  \
	}                                                                    \
	SEC("kprobe/security_path_" #fn)                                     \
	int kprobe_security_path_##fn(struct pt_regs *regs)                  \
	{                                                                    \
		return lsm_##fn(PT_REGS_PARM1(regs), PT_REGS_PARM2(regs),    \
				PT_REGS_PARM3(regs), PT_REGS_PARM4(regs),    \
				PT_REGS_PARM5(regs), FSA_HOOK_KPROBE);       \
	}

#define NONE 0, 0, 0
#define PATH_MNT(p) BPF_CORE_READ((struct path *)(p), mnt)
#define PATH_DENTRY(p) BPF_CORE_READ((struct path *)(p), dentry)

/* security_path_unlink(const struct path *dir, struct dentry *dentry) */
LSM_HOOK(unlink, {
	return lsm_pending(FSA_OP_DELETE, 0, PATH_MNT(a0), (struct dentry *)a1, 0, 0, 0, hook, NONE);
})

/* security_path_rmdir(const struct path *dir, struct dentry *dentry) */
LSM_HOOK(rmdir, {
	return lsm_pending(FSA_OP_DELETE, FSA_DELETE_DIR, PATH_MNT(a0), (struct dentry *)a1, 0, 0, 0, hook, NONE);
})

/* security_path_mkdir(const struct path *dir, struct dentry *dentry, umode_t mode) */
LSM_HOOK(mkdir, {
	return lsm_pending(FSA_OP_CREATE, FSA_CREATE_MKDIR, PATH_MNT(a0), (struct dentry *)a1, 0, 0, 0, hook,
			   FSA_S_IFDIR | ((__u16)a2 & 07777), -1, -1);
})

/* security_path_mknod(const struct path *dir, struct dentry *dentry, umode_t mode, unsigned int dev):
 * mknod(2), and open(2) making a file (the result says which) */
LSM_HOOK(mknod, {
	return lsm_pending(FSA_OP_CREATE, FSA_CREATE_MKNOD, PATH_MNT(a0), (struct dentry *)a1, 0, 0, 0, hook,
			   (__u16)a2, -1, -1);
})

/* security_path_symlink(const struct path *dir, struct dentry *dentry, const char *old_name) */
LSM_HOOK(symlink, {
	return lsm_pending(FSA_OP_CREATE, FSA_CREATE_SYMLINK, PATH_MNT(a0), (struct dentry *)a1, 0, 0,
			   (const char *)a2, hook, FSA_S_IFLNK | 0777, -1, -1);
})

/* security_path_link(struct dentry *old_dentry, const struct path *new_dir, struct dentry *new_dentry) */
LSM_HOOK(link, {
	struct vfsmount *mnt = PATH_MNT(a1);
	return lsm_pending(FSA_OP_CREATE, FSA_CREATE_LINK, mnt, (struct dentry *)a2, mnt, (struct dentry *)a0, 0,
			   hook, NONE);
})

/* security_path_rename(const struct path *old_dir, struct dentry *old_dentry,
 *                      const struct path *new_dir, struct dentry *new_dentry, unsigned int flags) */
LSM_HOOK(rename, {
	return lsm_pending(FSA_OP_RENAME, (__u32)a4, PATH_MNT(a0), (struct dentry *)a1, PATH_MNT(a2),
			   (struct dentry *)a3, 0, hook, NONE);
})

/* security_path_truncate(const struct path *path) */
LSM_HOOK(truncate, {
	return lsm_pending(FSA_OP_TRUNCATE, 0, PATH_MNT(a0), PATH_DENTRY(a0), 0, 0, 0, hook, NONE);
})

/* security_path_chmod(const struct path *path, umode_t mode) */
LSM_HOOK(chmod, {
	return lsm_pending(FSA_OP_CHMOD, 0, PATH_MNT(a0), PATH_DENTRY(a0), 0, 0, 0, hook, (__u16)a1 & 07777, -1, -1);
})

/* security_path_chown(const struct path *path, kuid_t uid, kgid_t gid) */
LSM_HOOK(chown, {
	return lsm_pending(FSA_OP_CHOWN, 0, PATH_MNT(a0), PATH_DENTRY(a0), 0, 0, 0, hook, 0, (__u32)a1, (__u32)a2);
})

/* security_file_truncate(struct file *file), 6.2 and later: ftruncate(2)
 * and O_TRUNC, which earlier kernels pass through security_path_truncate */
static __always_inline int lsm_file_truncate(struct file *file, __u16 hook)
{
	return lsm_pending(FSA_OP_TRUNCATE, 0, BPF_CORE_READ(file, f_path.mnt), BPF_CORE_READ(file, f_path.dentry),
			   0, 0, 0, hook, NONE);
}

SEC("fentry/security_file_truncate")
int fentry_security_file_truncate(__u64 *ctx)
{
	return lsm_file_truncate((struct file *)arg(ctx, 0), FSA_HOOK_FENTRY);
}

SEC("kprobe/security_file_truncate")
int kprobe_security_file_truncate(struct pt_regs *regs)
{
	return lsm_file_truncate((struct file *)PT_REGS_PARM1(regs), FSA_HOOK_KPROBE);
}

/* The exit of every system call (see any_sys_enter): the thread's pending
 * VFS event, if it has one, is confirmed by whatever call made it (an
 * unlink, a rename, but also a bind that made a socket file); a call kept
 * at its entry, native or 32-bit, is reported when it succeeded. */
SEC("tp_btf/sys_exit")
int BPF_PROG(any_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&settings, &zero);
	if (!cfg || cfg->stopped)
		return 0;
	__u64 nr = regs->orig_ax;
	if (cfg->lsm) {
		__u64 id = bpf_get_current_pid_tgid();
		if (bpf_map_lookup_elem(&inflight, &id))
			confirm(cfg, id, ret, 0, (__u32)nr);
	}
	if (compat_call())
		return fsa_syscall_exit(ret, 1);
	if (nr >= FSA_MAX_SYSCALL)
		return 0;
	__u32 n = nr;
	__u8 *kind = bpf_map_lookup_elem(&syscall_kinds, &n);
	if (!kind || !(*kind & FSA_SC_WATCHED) || (*kind & FSA_SC_KIND) >= SC_WRITE)
		return 0;
	return fsa_syscall_exit(ret, 0);
}

#define FSA_FALLOC_KEEP_SIZE 0x01
/* punch hole, collapse range, zero range, insert range */
#define FSA_FALLOC_CHANGES (0x02 | 0x08 | 0x10 | 0x20)

/* A write of bytes at pos into the file open at fd, made by a call other
 * than write(2): fallocate, a reflink. */
static __always_inline int written(struct config *cfg, struct task_struct *task, int fd, __u64 bytes, __s64 pos, __u32 sub,
				   __u16 taint)
{
	if (!(cfg->syscall_ops & (1 << FSA_OP_WRITE)))
		return 0;
	struct file *f = fd_file(task, fd);
	if (!f)
		return 0;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & FSA_S_IFMT) != FSA_S_IFREG && cfg->regular_only)
		return 0;
	struct event *e = begin(cfg, task, FSA_OP_WRITE, FSA_HOOK_TRACEPOINT);
	if (!e)
		return 0;
	file_fields(e, inode);
	e->sub = sub;
	e->bytes = bytes;
	e->offset = pos;
	walk_path(e, f, task);
	e->taint |= taint;
	finish(e);
	return 0;
}

struct fsa_clone_range {
	__s64 src_fd;
	__u64 src_offset;
	__u64 src_length;
	__u64 dest_offset;
};

struct fsa_dedupe_range {
	__u64 src_offset;
	__u64 src_length;
	__u16 dest_count;
	__u16 reserved1;
	__u32 reserved2;
};

struct fsa_dedupe_info {
	__s64 dest_fd;
	__u64 dest_offset;
	__u64 bytes_deduped;
	__s32 status;
	__u32 reserved;
};

/* How many destinations of one FIDEDUPERANGE are reported. */
#define FSA_MAX_DEDUPE 8

/* The reflink and dedupe ioctls that succeeded: FICLONE and FICLONERANGE
 * write the ioctl's file (from src_fd), FIDEDUPERANGE each destination
 * whose range it shared (its status 0, FILE_DEDUPE_RANGE_SAME). */
static __always_inline int cloned(struct config *cfg, struct task_struct *task, int fd, __u32 cmd, __u64 arg,
				  struct pending *p)
{
	if (cmd == FSA_FICLONE) {
		struct file *src = fd_file(task, (int)arg);
		__u64 size = src ? BPF_CORE_READ(src, f_inode, i_size) : 0;
		return written(cfg, task, fd, size, 0, FSA_WRITE_CLONE, 0);
	}
	if (cmd == FSA_FICLONERANGE) {
		/* the range as the call read it, at its entry (keep_data), or,
		 * when it was not in memory then, now (FSA_TAINT_LATE) */
		struct fsa_clone_range r = {};
		__u16 late = 0;
		if (p->flags & FSA_P_DATA) {
			__builtin_memcpy(&r, p->data, sizeof(r));
		} else {
			late = FSA_TAINT_LATE;
			if (bpf_probe_read_user(&r, sizeof(r), (void *)arg))
				return 0;
		}
		__u64 bytes = r.src_length;
		if (!bytes) { /* to the source's end */
			struct file *src = fd_file(task, (int)r.src_fd);
			__u64 size = src ? BPF_CORE_READ(src, f_inode, i_size) : 0;
			bytes = size > r.src_offset ? size - r.src_offset : 0;
		}
		return written(cfg, task, fd, bytes, r.dest_offset, FSA_WRITE_CLONE, late);
	}
	struct fsa_dedupe_range d = {};
	if (bpf_probe_read_user(&d, sizeof(d), (void *)arg))
		return 0;
	for (__u32 i = 0; i < FSA_MAX_DEDUPE; i++) {
		if (i >= d.dest_count)
			break;
		struct fsa_dedupe_info info = {};
		if (bpf_probe_read_user(&info, sizeof(info), (void *)(arg + sizeof(d) + i * sizeof(info))))
			break;
		if (info.status == 0 && info.bytes_deduped)
			written(cfg, task, (int)info.dest_fd, info.bytes_deduped, info.dest_offset, FSA_WRITE_CLONE, 0);
	}
	return 0;
}

#define FSA_UTIME_NOW ((1L << 30) - 1)
#define FSA_UTIME_OMIT ((1L << 30) - 2)
#define FSA_AT_SYMLINK_NOFOLLOW 0x100

/* One time of the call's: ns since the epoch, or its FSA_UT_* flag. */
static __always_inline __u64 one_time(__s64 sec, __s64 nsec, __u32 now_flag, __u32 omit_flag, __u32 *sub)
{
	if (nsec == FSA_UTIME_NOW) {
		*sub |= now_flag;
		return 0;
	}
	if (nsec == FSA_UTIME_OMIT) {
		*sub |= omit_flag;
		return 0;
	}
	return (__u64)(sec * 1000000000LL + nsec);
}

/* utimensat, utimes, futimesat, utime that succeeded: the file's times set. */
static __always_inline int times_set(struct config *cfg, struct task_struct *task, struct pending *p)
{
	if (!(cfg->syscall_ops & (1 << FSA_OP_UTIMES)))
		return 0;
	__u64 *a = p->args;
	__u64 times = p->kind == SC_UTIMENSAT || p->kind == SC_FUTIMESAT ? a[2] : a[1];
	__s64 v[4] = {}; /* atime sec, nsec (or usec), mtime sec, nsec */
	__u32 sub = 0;
	int time32 = p->flags & FSA_P_TIME32;
	/* The times as the call read them, at its entry (keep_data). */
	int late = 0;
	if (times && !(p->flags & FSA_P_DATA)) {
		/* Not in memory at the entry: read now (FSA_TAINT_LATE). */
		late = 1;
		if (bpf_probe_read_user(p->data, sizeof(p->data), (void *)times) &&
		    bpf_probe_read_user(p->data, 8, (void *)times))
			return 0;
	}
	if (!times) {
		sub = FSA_UT_ATIME_NOW | FSA_UT_MTIME_NOW;
	} else if (p->kind == SC_UTIME) { /* struct utimbuf: actime, modtime (seconds) */
		if (time32) {
			__s32 t[2] = {};
			__builtin_memcpy(t, p->data, sizeof(t));
			v[0] = t[0], v[2] = t[1];
		} else {
			__builtin_memcpy(&v[0], p->data, sizeof(__s64));
			__builtin_memcpy(&v[2], p->data + 8, sizeof(__s64));
		}
	} else if (time32) { /* two pairs of 32-bit fields */
		__s32 t[4] = {};
		__builtin_memcpy(t, p->data, sizeof(t));
		v[0] = t[0], v[1] = t[1], v[2] = t[2], v[3] = t[3];
	} else {
		__builtin_memcpy(v, p->data, sizeof(v));
	}
	if (times && p->kind != SC_UTIMENSAT) { /* timeval: microseconds */
		v[1] *= 1000;
		v[3] *= 1000;
	}
	struct event *e = begin(cfg, task, FSA_OP_UTIMES, FSA_HOOK_TRACEPOINT);
	if (!e)
		return 0;
	if (late)
		e->taint |= FSA_TAINT_LATE;
	if (!(sub & FSA_UT_ATIME_NOW))
		e->offset = one_time(v[0], v[1], FSA_UT_ATIME_NOW, FSA_UT_ATIME_OMIT, &sub);
	if (!(sub & FSA_UT_MTIME_NOW))
		e->length = one_time(v[2], v[3], FSA_UT_MTIME_NOW, FSA_UT_MTIME_OMIT, &sub);
	e->sub = sub;
	switch (p->kind) {
	case SC_UTIMENSAT:
		if (!a[1]) { /* futimens: the descriptor itself */
			if (name_fd(e, task, a[0]))
				return 0;
		} else {
			name_primary(e, task, a[0], a[1], a[3] & FSA_AT_EMPTY_PATH, !(a[3] & FSA_AT_SYMLINK_NOFOLLOW));
		}
		break;
	case SC_FUTIMESAT:
		name_primary(e, task, a[0], a[1], 0, 1);
		break;
	default:
		name_primary(e, task, FSA_AT_FDCWD, a[0], 0, 1);
		break;
	}
	finish(e);
	return 0;
}

/* ---- the calls that name files by path or by descriptor: which
 * operation each reports, and how each fills its event from the call's
 * arguments a. A handler returns nonzero when there is no event: the
 * file is gone (its descriptor no longer names one), or the kind is not
 * its own. ---- */

/* The operation a call that names its file reports; 0 for the others,
 * which have handlers of their own (opens, transfers, mmap, times). */
static __always_inline __u16 sc_op(__u8 kind)
{
	switch (kind) {
	case SC_MKNOD: case SC_MKNODAT: case SC_MKDIR: case SC_MKDIRAT:
	case SC_LINK: case SC_LINKAT: case SC_SYMLINK: case SC_SYMLINKAT:
		return FSA_OP_CREATE;
	case SC_TRUNCATE: case SC_FTRUNCATE:
		return FSA_OP_TRUNCATE;
	case SC_RENAME: case SC_RENAMEAT: case SC_RENAMEAT2:
		return FSA_OP_RENAME;
	case SC_UNLINK: case SC_UNLINKAT: case SC_RMDIR:
		return FSA_OP_DELETE;
	case SC_CHMOD: case SC_FCHMOD: case SC_FCHMODAT: case SC_FCHMODAT2:
		return FSA_OP_CHMOD;
	case SC_CHOWN: case SC_FCHOWN: case SC_LCHOWN: case SC_FCHOWNAT:
		return FSA_OP_CHOWN;
	case SC_SETXATTR: case SC_LSETXATTR: case SC_FSETXATTR: case SC_SETXATTRAT:
	case SC_REMOVEXATTR: case SC_LREMOVEXATTR: case SC_FREMOVEXATTR: case SC_REMOVEXATTRAT:
		return FSA_OP_XATTR;
	}
	return 0;
}

static __always_inline int created(struct event *e, struct task_struct *task, __u8 kind, __u64 *a)
{
	switch (kind) {
	case SC_MKNOD:
		e->sub = FSA_CREATE_MKNOD;
		e->new_mode = created_mode(task, (a[1] & FSA_S_IFMT) ?: FSA_S_IFREG, a[1]);
		name_primary(e, task, FSA_AT_FDCWD, a[0], 0, 0);
		break;
	case SC_MKNODAT:
		e->sub = FSA_CREATE_MKNOD;
		e->new_mode = created_mode(task, (a[2] & FSA_S_IFMT) ?: FSA_S_IFREG, a[2]);
		name_primary(e, task, a[0], a[1], 0, 0);
		break;
	case SC_MKDIR:
		e->sub = FSA_CREATE_MKDIR;
		e->new_mode = created_mode(task, FSA_S_IFDIR, a[1]);
		name_primary(e, task, FSA_AT_FDCWD, a[0], 0, 0);
		break;
	case SC_MKDIRAT:
		e->sub = FSA_CREATE_MKDIR;
		e->new_mode = created_mode(task, FSA_S_IFDIR, a[2]);
		name_primary(e, task, a[0], a[1], 0, 0);
		break;
	case SC_LINK:
		e->sub = FSA_CREATE_LINK;
		name_primary(e, task, FSA_AT_FDCWD, a[1], 0, 0);
		name_target(e, task, FSA_AT_FDCWD, a[0], 0);
		break;
	case SC_LINKAT:
		e->sub = FSA_CREATE_LINK;
		name_primary(e, task, a[2], a[3], 0, 0);
		name_target(e, task, a[0], a[1], a[4] & FSA_AT_SYMLINK_FOLLOW);
		break;
	case SC_SYMLINK:
		e->sub = FSA_CREATE_SYMLINK;
		e->new_mode = FSA_S_IFLNK | 0777;
		name_primary(e, task, FSA_AT_FDCWD, a[1], 0, 0);
		raw_target(e, a[0]);
		break;
	case SC_SYMLINKAT:
		e->sub = FSA_CREATE_SYMLINK;
		e->new_mode = FSA_S_IFLNK | 0777;
		name_primary(e, task, a[1], a[2], 0, 0);
		raw_target(e, a[0]);
		break;
	default:
		return 1; /* a kind sc_op gave this operation and no case here */
	}
	return 0;
}

static __always_inline int truncated(struct event *e, struct task_struct *task, __u8 kind, __u64 *a)
{
	e->length = a[1];
	if (kind == SC_FTRUNCATE)
		return name_fd(e, task, a[0]);
	if (kind != SC_TRUNCATE)
		return 1; /* a kind sc_op gave this operation and no case here */
	name_primary(e, task, FSA_AT_FDCWD, a[0], 0, 1);
	return 0;
}

static __always_inline int renamed(struct event *e, struct task_struct *task, __u8 kind, __u64 *a)
{
	switch (kind) {
	case SC_RENAME:
		name_primary(e, task, FSA_AT_FDCWD, a[0], 0, 0);
		name_target(e, task, FSA_AT_FDCWD, a[1], 0);
		break;
	case SC_RENAMEAT:
		name_primary(e, task, a[0], a[1], 0, 0);
		name_target(e, task, a[2], a[3], 0);
		break;
	case SC_RENAMEAT2:
		e->sub = a[4];
		if (a[4] & FSA_RENAME_EXCHANGE)
			e->flags |= FSA_F_EXCHANGE;
		name_primary(e, task, a[0], a[1], 0, 0);
		name_target(e, task, a[2], a[3], 0);
		break;
	default:
		return 1; /* a kind sc_op gave this operation and no case here */
	}
	return 0;
}

static __always_inline int deleted(struct event *e, struct task_struct *task, __u8 kind, __u64 *a)
{
	switch (kind) {
	case SC_UNLINK:
		name_primary(e, task, FSA_AT_FDCWD, a[0], 0, 0);
		break;
	case SC_UNLINKAT:
		if (a[2] & FSA_AT_REMOVEDIR)
			e->sub = FSA_DELETE_DIR;
		name_primary(e, task, a[0], a[1], 0, 0);
		break;
	case SC_RMDIR:
		e->sub = FSA_DELETE_DIR;
		name_primary(e, task, FSA_AT_FDCWD, a[0], 0, 0);
		break;
	default:
		return 1; /* a kind sc_op gave this operation and no case here */
	}
	return 0;
}

static __always_inline int mode_set(struct event *e, struct task_struct *task, __u8 kind, __u64 *a)
{
	switch (kind) {
	case SC_CHMOD:
		e->new_mode = a[1] & 07777;
		name_primary(e, task, FSA_AT_FDCWD, a[0], 0, 1);
		break;
	case SC_FCHMOD:
		e->new_mode = a[1] & 07777;
		return name_fd(e, task, a[0]);
	case SC_FCHMODAT:
		e->new_mode = a[2] & 07777;
		name_primary(e, task, a[0], a[1], 0, 1);
		break;
	case SC_FCHMODAT2:
		e->new_mode = a[2] & 07777;
		name_primary(e, task, a[0], a[1], a[3] & FSA_AT_EMPTY_PATH, !(a[3] & FSA_AT_SYMLINK_NOFOLLOW));
		break;
	default:
		return 1; /* a kind sc_op gave this operation and no case here */
	}
	return 0;
}

static __always_inline int owner_set(struct event *e, struct task_struct *task, __u8 kind, __u64 *a)
{
	switch (kind) {
	case SC_CHOWN: case SC_LCHOWN:
		e->new_uid = a[1];
		e->new_gid = a[2];
		name_primary(e, task, FSA_AT_FDCWD, a[0], 0, kind == SC_CHOWN);
		break;
	case SC_FCHOWN:
		e->new_uid = a[1];
		e->new_gid = a[2];
		return name_fd(e, task, a[0]);
	case SC_FCHOWNAT:
		e->new_uid = a[2];
		e->new_gid = a[3];
		name_primary(e, task, a[0], a[1], a[4] & FSA_AT_EMPTY_PATH, !(a[4] & FSA_AT_SYMLINK_NOFOLLOW));
		break;
	default:
		return 1; /* a kind sc_op gave this operation and no case here */
	}
	return 0;
}

static __always_inline int xattr_set(struct event *e, struct task_struct *task, __u8 kind, __u64 *a)
{
	switch (kind) {
	case SC_SETXATTR: case SC_LSETXATTR:
		name_primary(e, task, FSA_AT_FDCWD, a[0], 0, kind == SC_SETXATTR);
		raw_target(e, a[1]);
		break;
	case SC_REMOVEXATTR: case SC_LREMOVEXATTR:
		e->sub = FSA_XATTR_REMOVE;
		name_primary(e, task, FSA_AT_FDCWD, a[0], 0, kind == SC_REMOVEXATTR);
		raw_target(e, a[1]);
		break;
	case SC_FSETXATTR:
		if (name_fd(e, task, a[0]))
			return 1;
		raw_target(e, a[1]);
		break;
	case SC_FREMOVEXATTR:
		e->sub = FSA_XATTR_REMOVE;
		if (name_fd(e, task, a[0]))
			return 1;
		raw_target(e, a[1]);
		break;
	case SC_SETXATTRAT:
		name_primary(e, task, a[0], a[1], a[2] & FSA_AT_EMPTY_PATH, !(a[2] & FSA_AT_SYMLINK_NOFOLLOW));
		raw_target(e, a[3]);
		break;
	case SC_REMOVEXATTRAT:
		e->sub = FSA_XATTR_REMOVE;
		name_primary(e, task, a[0], a[1], a[2] & FSA_AT_EMPTY_PATH, !(a[2] & FSA_AT_SYMLINK_NOFOLLOW));
		raw_target(e, a[3]);
		break;
	default:
		return 1; /* a kind sc_op gave this operation and no case here */
	}
	return 0;
}

/* The exit of a call kept at its entry (compat: by compat_enter),
 * which returned ret: reported when it succeeded. One function the
 * verifier checks once for both programs that call it. */
static __always_inline int syscall_done(struct config *cfg, struct pending *pp, long ret)
{
	if (ret < 0 && ret > -4096)
		return 0; /* it failed: nothing changed */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 *a = pp->args;

	switch (pp->kind) {
	case SC_OPEN:
		return opened(cfg, task, ret, a[1]);
	case SC_CREAT:
		return opened(cfg, task, ret, FSA_O_CREAT | FSA_O_TRUNC | FSA_O_WRONLY);
	case SC_OPENAT:
		return opened(cfg, task, ret, a[2]);
	case SC_OPENAT2:
		return opened(cfg, task, ret, pp->pos);
	case SC_SENDFILE:
		return transferred(cfg, task, pp, a[0], ret, FSA_WRITE_SENDFILE);
	case SC_SPLICE:
		return transferred(cfg, task, pp, a[2], ret, FSA_WRITE_SPLICE);
	case SC_COPY_FILE_RANGE:
		return transferred(cfg, task, pp, a[2], ret, FSA_WRITE_COPY_RANGE);
	case SC_FALLOCATE:
		/* Allocation alone (FALLOC_FL_KEEP_SIZE) changes neither content nor size. */
		if ((a[1] & FSA_FALLOC_KEEP_SIZE) && !(a[1] & FSA_FALLOC_CHANGES))
			return 0;
		return written(cfg, task, a[0], a[3], a[2], FSA_WRITE_FALLOCATE, 0);
	case SC_IOCTL:
		return cloned(cfg, task, a[0], (__u32)a[1], a[2], pp);
	case SC_UTIMENSAT: case SC_UTIMES: case SC_FUTIMESAT: case SC_UTIME:
		return times_set(cfg, task, pp);
	case SC_MMAP: {
		if (!(cfg->syscall_ops & (1 << FSA_OP_MMAP_WRITE)))
			return 0;
		__u64 prot = a[2], flags = a[3] & FSA_MAP_TYPE;
		if (!(prot & FSA_PROT_WRITE) || (flags != FSA_MAP_SHARED && flags != FSA_MAP_SHARED_VALIDATE) ||
		    (a[3] & FSA_MAP_ANONYMOUS))
			return 0;
		struct file *f = fd_file(task, (__u32)a[4]);
		if (!f || !(BPF_CORE_READ(f, f_mode) & FMODE_WRITE))
			return 0;
		__u32 imode = BPF_CORE_READ(f, f_inode, i_mode);
		if (cfg->regular_only && (imode & FSA_S_IFMT) != FSA_S_IFREG)
			return 0;
		struct event *e = begin(cfg, task, FSA_OP_MMAP_WRITE, FSA_HOOK_TRACEPOINT);
		if (!e)
			return 0;
		file_fields(e, BPF_CORE_READ(f, f_inode));
		e->offset = a[5];
		e->bytes = a[1];
		walk_path(e, f, task);
		finish(e);
		return 0;
	}
	default:
		break;
	}

	/* The rest name files by path or by descriptor and make one event. */
	__u16 op = sc_op(pp->kind);
	if (!op || !(cfg->syscall_ops & (1 << op)))
		return 0;
	struct event *e = begin(cfg, task, op, FSA_HOOK_TRACEPOINT);
	if (!e)
		return 0;
	int gone;
	switch (op) {
	case FSA_OP_CREATE:
		gone = created(e, task, pp->kind, a);
		break;
	case FSA_OP_TRUNCATE:
		gone = truncated(e, task, pp->kind, a);
		break;
	case FSA_OP_RENAME:
		gone = renamed(e, task, pp->kind, a);
		break;
	case FSA_OP_DELETE:
		gone = deleted(e, task, pp->kind, a);
		break;
	case FSA_OP_CHMOD:
		gone = mode_set(e, task, pp->kind, a);
		break;
	case FSA_OP_CHOWN:
		gone = owner_set(e, task, pp->kind, a);
		break;
	case FSA_OP_XATTR:
		gone = xattr_set(e, task, pp->kind, a);
		break;
	default:
		return 0;
	}
	if (gone)
		return 0;
	finish(e);
	return 0;
}

__noinline int fsa_syscall_exit(long ret, __u32 compat)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&settings, &zero);
	if (!cfg || cfg->stopped)
		return 0;
	struct pending *pp = bpf_map_lookup_elem(&pending, &id);
	if (!pp || !(pp->flags & FSA_P_COMPAT) != !compat) {
		/* None (evicted), or kept by the other ABI's entry: strings the
		 * thread saved for it are stale. */
		bpf_map_delete_elem(&saved_strs, &id);
		return 0;
	}
	/* A copy out of the map (an LRU map may hand the entry to another
	 * thread once deleted), off the stack, which the walks need. */
	struct pending *p = bpf_map_lookup_elem(&pending_copy, &zero);
	if (!p)
		return 0;
	*p = *pp;
	bpf_map_delete_elem(&pending, &id);
	int r = syscall_done(cfg, p, ret);
	if (p->flags & FSA_P_SAVED)
		bpf_map_delete_elem(&saved_strs, &id);
	return r;
}

/* ---- process lifecycle: what enrichment must know after a process is gone ---- */

/* Fills the identity fields every event carries. */
static __always_inline void fill_task(struct event *e, struct task_struct *task, __u16 op)
{
	start(e, task, op, FSA_HOOK_TRACEPOINT);
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

SEC("tracepoint/sched/sched_process_exec")
int tp_sched_process_exec(void *ctx)
{
	struct config *cfg = admit();
	if (!cfg)
		return 0;
	__u64 max = cfg->args_max;
	if (!max || max > FSA_ARGS_MAX - 1)
		max = FSA_ARGS_MAX - 1;
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	fill_task(e, task, FSA_OP_EXEC);
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	if (exe)
		walk_path(e, exe, task);
	else
		e->flags |= FSA_F_TRUNCATED;

	__u64 start = BPF_CORE_READ(task, mm, arg_start);
	__u64 end = BPF_CORE_READ(task, mm, arg_end);
	__u64 len = end > start ? end - start : 0;
	if (len > max) {
		len = max;
		e->flags |= FSA_F_ARGS_TRUNCATED;
	}
	len &= FSA_ARGS_MAX - 1;
	if (len && bpf_probe_read_user(e->args, len, (void *)start) == 0)
		e->args_len = len;

	/* At once: the process's writes must find it known. */
	send(e, offsetof(struct event, args) + (e->args_len & (FSA_ARGS_MAX - 1)), 1, FSA_LOST_LIFECYCLE);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int tp_sched_process_exit(void *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if ((__u32)pid_tgid != pid_tgid >> 32)
		return 0; /* a thread, not the process */
	if (!admit())
		return 0;
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	fill_task(e, (struct task_struct *)bpf_get_current_task(), FSA_OP_EXIT);
	send(e, offsetof(struct event, path), 0, FSA_LOST_LIFECYCLE);
	return 0;
}

/* ---- 32-bit system calls ----
 *
 * A system call through the 32-bit ABI (int $0x80, sysenter, also from a
 * 64-bit program) fires no syscalls:sys_enter_<call> tracepoint: only the
 * raw tracepoints sys_enter and sys_exit see it. any_sys_enter (below)
 * hands such a call to compat_enter, which takes its arguments from the
 * registers the i386 ABI passes them in, in the native call's layout, and
 * goes on as the native calls do. compat_kinds holds, by i386 call number,
 * the native kind (enum fsa_sc, | FSA_SC_WATCHED and FSA_SC_TRACK as
 * syscall_kinds has them, or one of the writes below) and how to convert. */


/* The bytes of a vector of 32-bit iovecs (at most FSA_MAX_IOV of them). */
static __always_inline __u64 compat_iov_bytes(__u64 vec, __u64 vlen, __u16 *flags)
{
	__u64 total = 0;
	for (__u32 i = 0; i < FSA_MAX_IOV; i++) {
		if (i >= vlen)
			return total;
		struct compat_iovec iov = {};
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(vec + i * sizeof(iov))))
			break;
		total += iov.iov_len;
	}
	if (vlen > FSA_MAX_IOV)
		*flags |= FSA_F_IOV_PARTIAL;
	return total;
}

static __always_inline int compat_enter(struct pt_regs *regs, __u32 nr)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (nr >= FSA_MAX_COMPAT)
		return 0;
	struct compat_kind *ck = bpf_map_lookup_elem(&compat_kinds, &nr);
	if (!ck || (!ck->kind && ck->conv < CV_WRITE))
		return 0;
	if (ck->kind & FSA_SC_TRACK)
		track();
	struct compat_kind k = *ck;
	__u64 a[6];
	a[0] = (__u32)BPF_CORE_READ(regs, bx);
	a[1] = (__u32)BPF_CORE_READ(regs, cx);
	a[2] = (__u32)BPF_CORE_READ(regs, dx);
	a[3] = (__u32)BPF_CORE_READ(regs, si);
	a[4] = (__u32)BPF_CORE_READ(regs, di);
	a[5] = (__u32)BPF_CORE_READ(regs, bp);

	if (k.conv >= CV_WRITE) {
		struct config *cfg = admit_write();
		if (!cfg)
			return 0;
		struct file *file = current_fd_file((__s32)a[0]);
		__u16 flags = 0;
		__u64 bytes = a[2];
		__s64 pos = -1;
		switch (k.conv) {
		case CV_PWRITE64:
			pos = (__s64)(a[3] | a[4] << 32);
			break;
		case CV_WRITEV:
			bytes = compat_iov_bytes(a[1], a[2], &flags);
			break;
		case CV_PWRITEV:
			bytes = compat_iov_bytes(a[1], a[2], &flags);
			pos = (__s64)(a[3] | a[4] << 32);
			break;
		default:
			break;
		}
		return emit_write(cfg, file, bytes, pos, flags, FSA_HOOK_TRACEPOINT);
	}
	if (!(k.kind & FSA_SC_WATCHED) || !admit())
		return 0;
	struct pending p = {.kind = k.kind & FSA_SC_KIND, .pos = -1, .flags = FSA_P_COMPAT};
	switch (k.conv) {
	case CV_LEN64:
		a[1] = a[1] | a[2] << 32;
		break;
	case CV_ID16: /* the kernel keeps the low 16 bits (old_uid_t) */
		a[1] &= 0xffff;
		a[2] &= 0xffff;
		if (a[1] == 0xffff)
			a[1] = 0xffffffff;
		if (a[2] == 0xffff)
			a[2] = 0xffffffff;
		break;
	case CV_MMAP2:
		a[5] = a[5] << 12;
		break;
	case CV_FALLOC: /* fd, mode, offset lo, hi, len lo, hi */
		a[2] = a[2] | a[3] << 32;
		a[3] = a[4] | a[5] << 32;
		break;
	case CV_TIME32:
		p.flags |= FSA_P_TIME32;
		break;
	case CV_OLD_MMAP: {
		__u32 m[6] = {};
		if (bpf_probe_read_user(m, sizeof(m), (void *)a[0]))
			return 0;
		for (int i = 0; i < 6; i++)
			a[i] = m[i];
		break;
	}
	default:
		break;
	}
	for (int i = 0; i < 6; i++)
		p.args[i] = a[i];
	return keep_pending(&p, task);
}

/* ---- One program at each end of every system call ----
 *
 * Where a process can make 32-bit calls, which fire no per-call
 * tracepoint, these two programs run at every system call's entry and exit
 * to see them. They then take over the per-call tracepoints' work as well,
 * for the native calls, by syscall_kinds: the writes where the write point
 * is on tracepoints, the calls the syscall point keeps, close for the
 * coalescing windows. No per-call tracepoint is attached then: every call
 * pays two programs' dispatch and no more (the kernel's per-call
 * tracepoints add a dispatch of their own, with a copy of the arguments,
 * on each call they watch, and a check on every call). */

/* A native write of the write(2) family, at its entry. */
static __always_inline int native_write(struct pt_regs *regs, __u8 kind)
{
	struct config *cfg = admit_write();
	if (!cfg)
		return 0;
	struct file *file = current_fd_file(regs->di);
	__u16 flags = 0;
	__u64 bytes = regs->dx;
	__s64 pos = -1;
	switch (kind) {
	case SC_PWRITE64:
		pos = regs->r10;
		break;
	case SC_WRITEV:
		bytes = iov_bytes((const struct iovec *)regs->si, regs->dx, &flags);
		break;
	case SC_PWRITEV:
	case SC_PWRITEV2: /* an offset of -1 means the file's own position */
		bytes = iov_bytes((const struct iovec *)regs->si, regs->dx, &flags);
		pos = regs->r10;
		break;
	default:
		break;
	}
	return emit_write(cfg, file, bytes, pos, flags, FSA_HOOK_TRACEPOINT);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(any_sys_enter, struct pt_regs *regs, long id)
{
	if (compat_call())
		return compat_enter(regs, id);
	__u8 k = entry_kind(id);
	if (!k)
		return 0;
	if (k == SC_CLOSE)
		return closed(regs->di);
	if (k >= SC_WRITE)
		return native_write(regs, k);
	if (!admit())
		return 0;
	struct pending p = {.kind = k, .pos = -1};
	p.args[0] = regs->di;
	p.args[1] = regs->si;
	p.args[2] = regs->dx;
	p.args[3] = regs->r10;
	p.args[4] = regs->r8;
	p.args[5] = regs->r9;
	return keep_pending(&p, (struct task_struct *)bpf_get_current_task());
}
