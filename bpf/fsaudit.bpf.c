//go:build ignore

// fsaudit's kernel side: one event per file write, from any of three hook
// modes (fentry, kprobe, syscall tracepoint), built in a per-CPU scratch
// buffer and copied into a BPF ring buffer with only the bytes it uses.
//
// Compiled twice by bpf2go: with HAVE_BPF_LOOP (kernels 5.17 and later walk
// the dentry chain in bpf_loop) and without it (older kernels walk it in a
// bounded loop the verifier unrolls). Both take the same FSA_WALK_STEPS.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define FSA_PATH_MAX 4096   /* longest path resolved exactly, in bytes */
#define FSA_NAME_READ 256   /* NAME_MAX + 1: most one component read copies */
#define FSA_PATH_BUF (FSA_PATH_MAX + FSA_NAME_READ)
#define FSA_WALK_STEPS 1024 /* walk steps: components plus mount crossings */
#define FSA_MAX_IOV 64 /* iovec entries summed for writev; more sets FSA_F_IOV_PARTIAL */
#define FSA_COMM_LEN 16
#define FSA_ARGS_MAX 2048   /* argv bytes an exec event carries */
/* Wake the reader only once this much is waiting; it also polls on a short
 * deadline, so a lone event waits at most that long. */
#define FSA_WAKEUP_BYTES (64 << 10)

#define FMODE_WRITE 0x2
#define FSA_O_APPEND 02000
#define FSA_S_IFMT 00170000
#define FSA_S_IFREG 0100000

enum fsa_hook {
	FSA_HOOK_FENTRY = 1,
	FSA_HOOK_KPROBE = 2,
	FSA_HOOK_TRACEPOINT = 3,
};

enum fsa_op {
	FSA_OP_WRITE = 1,
	FSA_OP_EXEC = 2, /* a process exec'd: path is its executable, args its argv */
	FSA_OP_EXIT = 3, /* a process (thread group) exited */
};

enum fsa_flags {
	FSA_F_TRUNCATED = 1 << 0,   /* the path could not be resolved whole */
	FSA_F_DELETED = 1 << 1,     /* the file had no links left */
	FSA_F_APPEND = 1 << 2,      /* opened O_APPEND: offset is the size before the write */
	FSA_F_NO_OFFSET = 1 << 3,   /* the hook could not tell the offset */
	FSA_F_IOV_PARTIAL = 1 << 4, /* writev with more than FSA_MAX_IOV entries: bytes is a lower bound */
	FSA_F_OUTSIDE_ROOT = 1 << 5,/* the walk reached the top of the mount tree without passing the task's root */
	FSA_F_ARGS_TRUNCATED = 1 << 6, /* exec: argv was longer than FSA_ARGS_MAX */
	FSA_F_PASSED_ROOT = 1 << 7, /* the walk passed the task's root: root_off splits the two views */
};

/* The event: a fixed header, then path_len bytes of path components, leaf
 * first, each ending in a NUL. Only header + path_len bytes reach user space. */
struct event {
	__u64 ts_ns;        /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u64 start_ns;     /* the thread group leader's start time, CLOCK_MONOTONIC */
	__u64 cgroup_id;
	__u64 ino;
	__u64 offset;
	__u64 bytes;        /* bytes the call asked to write */
	__u64 root_ino;     /* inode of the task's root directory */
	__u32 root_dev;     /* kernel dev_t of the root directory's file system: with root_ino, names the writer's root */
	__u16 root_off;     /* bytes of path below the task's root (its own view); the rest leads to its namespace's top */
	__u16 _pad2;
	__u32 dev;          /* kernel dev_t of the file's super block */
	__u32 mnt_ns;
	__u32 pid;          /* thread group id */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 loginuid;     /* 4294967295 when unset */
	__u32 mode;         /* i_mode */
	__u16 hook;         /* enum fsa_hook */
	__u16 op;           /* enum fsa_op */
	__u16 flags;        /* enum fsa_flags */
	__u16 path_len;     /* bytes used in path */
	__u16 depth;        /* components in path */
	__u16 args_len;     /* exec: bytes used in args */
	char comm[FSA_COMM_LEN];
	__u8 path[FSA_PATH_BUF];
	__u8 args[FSA_ARGS_MAX]; /* exec: argv, each ending in a NUL; sent only by exec events */
};

/* Settings user space writes before attaching. */
struct config {
	__u32 agent_tgid;   /* the agent's own writes are never reported */
	__u8 regular_only;  /* only regular files */
	__u8 filter_comms;  /* consult excluded_comms */
	__u8 cgroups;       /* audit only tasks under the first this many audited_cgroups; 0: all */
	__u8 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[FSA_COMM_LEN]);
	__type(value, __u8);
} excluded_comms SEC(".maps");

/* Events the ring buffer had no room for, per CPU: FSA_LOST_AUDIT counts
 * the events that would have made records, FSA_LOST_LIFECYCLE the exec and
 * exit events that only inform enrichment. */
#define FSA_LOST_AUDIT 0
#define FSA_LOST_LIFECYCLE 1
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* The cgroups (v2) whose tasks are audited, when the settings say so. */
#define FSA_MAX_CGROUPS 16
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, FSA_MAX_CGROUPS);
	__type(key, __u32);
	__type(value, __u32);
} audited_cgroups SEC(".maps");


/* The walk's state lives in map memory, not on the stack: the verifier
 * keeps no ranges for map values, so every step starts from the same
 * abstract state and verifying N steps costs N times one step, not 2^N. */
struct walk {
	__u64 dentry;      /* struct dentry * */
	__u64 vfsmnt;      /* struct vfsmount * */
	__u64 mnt;         /* struct mount * */
	__u64 root_dentry; /* struct dentry * */
	__u64 root_mnt;    /* struct vfsmount * */
	__u32 off;
	__u32 depth;
	__u32 flags;
	__u32 done;
	__u32 root_off;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk);
} walks SEC(".maps");

struct walk_ctx {
	struct walk *w;
	struct event *e;
};

static __always_inline struct mount *real_mount(struct vfsmount *vfsmnt)
{
	return (struct mount *)((void *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
}

/* One step up the tree: returns 1 when the walk is over. */
static long walk_step(__u32 i, void *arg)
{
	struct walk_ctx *c = arg;
	struct walk *w = c->w;
	/* Locals, not w->x, inside BPF_CORE_READ: struct walk is ours, not the kernel's. */
	struct dentry *d = (struct dentry *)w->dentry;
	struct vfsmount *vfsmnt = (struct vfsmount *)w->vfsmnt;
	struct mount *mnt = (struct mount *)w->mnt;

	/* Passing the task's root ends its own view of the path; the walk goes
	 * on to the top of its mount namespace for the host's view. */
	if (w->dentry == w->root_dentry && w->vfsmnt == w->root_mnt && !(w->flags & FSA_F_PASSED_ROOT)) {
		w->flags |= FSA_F_PASSED_ROOT;
		w->root_off = w->off;
	}
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	if (d == mnt_root) {
		struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
		if (parent == mnt || !parent) {
			/* Top of this namespace's mount tree. */
			if (!(w->flags & FSA_F_PASSED_ROOT))
				w->flags |= FSA_F_OUTSIDE_ROOT;
			w->done = 1;
			return 1;
		}
		w->dentry = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = (__u64)parent;
		w->vfsmnt = (__u64)parent + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	struct dentry *up = BPF_CORE_READ(d, d_parent);
	if (!up || up == d) {
		/* A disconnected dentry or the root of an unmounted tree. */
		if (!(w->flags & FSA_F_PASSED_ROOT))
			w->flags |= FSA_F_OUTSIDE_ROOT;
		w->done = 1;
		return 1;
	}
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	__u32 off = w->off;
	if (off >= FSA_PATH_MAX) {
		w->flags |= FSA_F_TRUNCATED;
		w->done = 1;
		return 1;
	}
	long n = bpf_probe_read_kernel_str(&c->e->path[off & (FSA_PATH_MAX - 1)], FSA_NAME_READ, name);
	if (n <= 1 || off + n > FSA_PATH_MAX) {
		/* Unreadable, empty, or past the longest path: stop before it. */
		w->flags |= FSA_F_TRUNCATED;
		w->done = 1;
		return 1;
	}
	w->off = off + n;
	w->depth++;
	w->dentry = (__u64)up;
	return 0;
}

static __always_inline void walk_path(struct event *e, struct file *file, struct task_struct *task)
{
	__u32 zero = 0;
	struct walk *w = bpf_map_lookup_elem(&walks, &zero);
	if (!w) {
		e->flags |= FSA_F_TRUNCATED;
		return;
	}
	struct walk_ctx c = {.w = w, .e = e};

	struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
	w->dentry = (__u64)BPF_CORE_READ(file, f_path.dentry);
	w->vfsmnt = (__u64)vfsmnt;
	w->mnt = (__u64)real_mount(vfsmnt);
	w->root_dentry = (__u64)BPF_CORE_READ(task, fs, root.dentry);
	w->root_mnt = (__u64)BPF_CORE_READ(task, fs, root.mnt);
	struct dentry *root = (struct dentry *)w->root_dentry;
	e->root_ino = BPF_CORE_READ(root, d_inode, i_ino);
	e->root_dev = BPF_CORE_READ(root, d_sb, s_dev);
	w->off = 0;
	w->depth = 0;
	w->flags = 0;
	w->done = 0;
	w->root_off = 0;

#ifdef HAVE_BPF_LOOP
	bpf_loop(FSA_WALK_STEPS, walk_step, &c, 0);
#else
	for (__u32 i = 0; i < FSA_WALK_STEPS; i++) {
		if (walk_step(i, &c))
			break;
	}
#endif
	if (!w->done)
		w->flags |= FSA_F_TRUNCATED;
	e->flags |= w->flags;
	e->path_len = w->off;
	e->depth = w->depth;
	e->root_off = w->root_off;
}

static __always_inline struct file *fd_file(struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return 0;
	__u32 max = BPF_CORE_READ(fdt, max_fds);
	if (fd >= max)
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* Sum the lengths of a user iovec array. */
static __always_inline __u64 iov_bytes(const struct iovec *vec, __u64 vlen, __u16 *flags)
{
	__u64 total = 0;
	for (__u32 i = 0; i < FSA_MAX_IOV; i++) {
		if (i >= vlen)
			return total;
		struct iovec iov = {};
		if (bpf_probe_read_user(&iov, sizeof(iov), &vec[i]))
			break;
		total += iov.iov_len;
	}
	if (vlen > FSA_MAX_IOV)
		*flags |= FSA_F_IOV_PARTIAL;
	return total;
}

/* Copies size bytes of e into the ring buffer, counting it lost when there
 * is no room. The reader is woken only once FSA_WAKEUP_BYTES wait, unless
 * wake_now asks for it at once. */
static __always_inline void send(struct event *e, __u64 size, int wake_now, __u32 lost_slot)
{
	__u64 flags = BPF_RB_FORCE_WAKEUP;
	if (!wake_now && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) < FSA_WAKEUP_BYTES)
		flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, e, size, flags)) {
		__u64 *n = bpf_map_lookup_elem(&lost, &lost_slot);
		if (n)
			*n += 1;
	}
}

/* Drops what the settings exclude before any work: returns the settings
 * when the current task's write is to be considered. */
static __always_inline struct config *admit(void)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&settings, &zero);
	if (!cfg)
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == cfg->agent_tgid)
		return 0;
	if (cfg->cgroups) {
		__u32 n = cfg->cgroups;
		for (__u32 i = 0; i < FSA_MAX_CGROUPS; i++) {
			if (i >= n)
				return 0;
			if (bpf_current_task_under_cgroup(&audited_cgroups, i) == 1)
				return cfg;
		}
		return 0;
	}
	return cfg;
}

/* Builds and sends the event for a write of bytes to file at *offset
 * (offset < 0: the file's own position). */
static __always_inline int emit_write(struct config *cfg, struct file *file, __u64 bytes,
				      __s64 offset, __u16 flags, __u16 hook)
{
	if (!file)
		return 0;
	__u32 fmode = BPF_CORE_READ(file, f_mode);
	if (!(fmode & FMODE_WRITE))
		return 0;
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	__u32 imode = BPF_CORE_READ(inode, i_mode);
	if (cfg->regular_only && (imode & FSA_S_IFMT) != FSA_S_IFREG)
		return 0;

	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	/* Kernels before 6.x leave the bytes after comm's NUL as they were: clear
	 * them, or the excluded_comms lookup would see the last event's tail. */
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (cfg->filter_comms && bpf_map_lookup_elem(&excluded_comms, e->comm))
		return 0;

	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	e->ts_ns = bpf_ktime_get_ns();
	e->start_ns = BPF_CORE_READ(task, group_leader, start_time);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->ino = BPF_CORE_READ(inode, i_ino);
	e->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->euid = BPF_CORE_READ(task, cred, euid.val);
	e->egid = BPF_CORE_READ(task, cred, egid.val);
	e->loginuid = (__u32)-1;
	if (bpf_core_field_exists(task->loginuid))
		e->loginuid = BPF_CORE_READ(task, loginuid.val);
	e->mode = imode;
	e->hook = hook;
	e->op = FSA_OP_WRITE;
	e->bytes = bytes;
	e->flags = flags;

	__u32 fflags = BPF_CORE_READ(file, f_flags);
	if (fflags & FSA_O_APPEND) {
		e->flags |= FSA_F_APPEND;
		e->offset = BPF_CORE_READ(inode, i_size);
	} else if (offset >= 0) {
		e->offset = offset;
	} else {
		e->offset = BPF_CORE_READ(file, f_pos);
	}
	if (BPF_CORE_READ(inode, i_nlink) == 0)
		e->flags |= FSA_F_DELETED;

	walk_path(e, file, task);

	__u64 size = offsetof(struct event, path) + (e->path_len & (FSA_PATH_MAX * 2 - 1));
	if (size > sizeof(*e))
		size = sizeof(*e);
	send(e, size, 0, FSA_LOST_AUDIT);
	return 0;
}

/* The offset a VFS function was given through its loff_t *pos argument;
 * -1 (the file's own position) when it was given none. */
static __always_inline __s64 read_pos(loff_t *pos, __u16 *flags)
{
	__s64 off = -1;
	if (pos)
		bpf_probe_read_kernel(&off, sizeof(off), pos);
	else
		*flags |= FSA_F_NO_OFFSET;
	return off;
}

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
	struct config *cfg = admit();
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
	struct config *cfg = admit();
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
	struct config *cfg = admit();
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
	struct config *cfg = admit();
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
	struct config *cfg = admit();
	if (!cfg)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *file = fd_file(task, ctx->args[0]);
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

/* ---- process lifecycle: what enrichment must know after a process is gone ---- */

/* Fills the identity fields every event carries. */
static __always_inline void fill_task(struct event *e, struct task_struct *task, __u16 op)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->start_ns = BPF_CORE_READ(task, group_leader, start_time);
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->op = op;
	e->hook = FSA_HOOK_TRACEPOINT;
	e->flags = 0;
	e->path_len = 0;
	e->depth = 0;
	e->args_len = 0;
	e->root_off = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

SEC("tracepoint/sched/sched_process_exec")
int tp_sched_process_exec(void *ctx)
{
	if (!admit())
		return 0;
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
	if (len > FSA_ARGS_MAX - 1) {
		len = FSA_ARGS_MAX - 1;
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
