/* The event and the settings as user space reads and writes them (bpf2go
 * emits their Go types), the ring buffer and the counters of what it had
 * no room for.
 * Part of fsaudit.bpf.c, one object: included once, in order. */
#ifndef FSA_LAYOUT_H
#define FSA_LAYOUT_H

#define FSA_PATH_MAX 4096   /* longest path resolved exactly, in bytes */
#define FSA_NAME_READ 256   /* NAME_MAX + 1: most one component read copies */
/* Two paths (a rename's both ends), the second starting where the first ends. */
#define FSA_PATH_BUF (2 * FSA_PATH_MAX + FSA_NAME_READ)
#define FSA_WALK_STEPS 1024 /* walk steps: components plus mount crossings */
#define FSA_NO_MOUNT 0xffff /* mnt_off: the walk crossed no mount */
#define FSA_MAX_IOV 64 /* iovec entries summed for writev; more sets FSA_F_IOV_PARTIAL */
#define FSA_COMM_LEN 16
#define FSA_ARGS_MAX 8192   /* argv bytes an exec event can carry; config.args_max says how many it does */
/* Wake the reader only once this much is waiting; it also polls on a short
 * deadline, so a lone event waits at most that long. */
#define FSA_WAKEUP_BYTES (64 << 10)

#define FMODE_WRITE 0x2
#define FSA_PF_IO_WORKER 0x00000010 /* task->flags of an io_uring worker */
#define FSA_WRITE 1 /* rw_verify_area's read_write for a write */
#define FSA_O_APPEND 02000
#define FSA_S_IFMT 00170000
#define FSA_S_IFREG 0100000
#define FSA_S_IFIFO 0010000
#define FSA_E2BIG 7

/* The enums shared with Go have 16-bit underlying types, the event's
 * fields are of them, and so their BTF carries them to bpf2go -type. */
enum fsa_hook : __u16 {
	FSA_HOOK_FENTRY = 1,
	FSA_HOOK_KPROBE = 2,
	FSA_HOOK_TRACEPOINT = 3,
};

enum fsa_op : __u16 {
	FSA_OP_WRITE = 1,
	FSA_OP_EXEC = 2, /* a process exec'd: path is its executable, args its argv */
	FSA_OP_EXIT = 3, /* a process (thread group) exited */
	FSA_OP_CREATE = 4,   /* sub: enum fsa_create; target: a link's existing file or a symlink's text */
	FSA_OP_TRUNCATE = 5, /* length: the new size */
	FSA_OP_RENAME = 6,   /* target: the new path; sub: renameat2 flags */
	FSA_OP_DELETE = 7,   /* sub: FSA_DELETE_DIR for rmdir */
	FSA_OP_CHMOD = 8,    /* new_mode */
	FSA_OP_CHOWN = 9,    /* new_uid, new_gid (-1: unchanged) */
	FSA_OP_XATTR = 10,   /* target: the attribute's name; sub: FSA_XATTR_REMOVE */
	FSA_OP_MMAP_WRITE = 11, /* offset, bytes: the mapped range */
	FSA_OP_RESULT = 12,  /* the outcome of the thread's pending event: length holds the return value */
	FSA_OP_UTIMES = 13,  /* times set: offset the access time, length the modification time (ns since the epoch); sub: FSA_UT_* */
};
/* sub of FSA_OP_UTIMES: a time set to the call's moment, or left as it was */
#define FSA_UT_ATIME_NOW 1
#define FSA_UT_ATIME_OMIT 2
#define FSA_UT_MTIME_NOW 4
#define FSA_UT_MTIME_OMIT 8
/* sub of a result: the call that succeeded was an open (a create by open,
 * not by mknod). */
#define FSA_RESULT_OPEN 1

enum fsa_create {
	FSA_CREATE_OPEN = 1,    /* open with O_CREAT, creat */
	FSA_CREATE_MKNOD = 2,
	FSA_CREATE_MKDIR = 3,
	FSA_CREATE_LINK = 4,    /* a hard link: target names the existing file */
	FSA_CREATE_SYMLINK = 5, /* target holds the link's text */
};
#define FSA_DELETE_DIR 1
#define FSA_XATTR_REMOVE 1
/* Transfers between files (sendfile, splice, copy_file_range) are writes
 * whose sub says which call made them. */
#define FSA_WRITE_SENDFILE 1
#define FSA_WRITE_SPLICE 2
#define FSA_WRITE_COPY_RANGE 3
#define FSA_WRITE_FALLOCATE 4 /* fallocate(2) that changed content or size */
#define FSA_WRITE_CLONE 5     /* FICLONE, FICLONERANGE, FIDEDUPERANGE */

enum fsa_flags : __u16 {
	FSA_F_TRUNCATED = 1 << 0,   /* the path could not be resolved whole */
	FSA_F_DELETED = 1 << 1,     /* the file had no links left */
	FSA_F_APPEND = 1 << 2,      /* opened O_APPEND: offset is the size before the write */
	FSA_F_NO_OFFSET = 1 << 3,   /* the hook could not tell the offset */
	FSA_F_IOV_PARTIAL = 1 << 4, /* writev with more than FSA_MAX_IOV entries: bytes is a lower bound */
	FSA_F_OUTSIDE_ROOT = 1 << 5,/* the walk reached the top of the mount tree without passing the task's root */
	FSA_F_ARGS_TRUNCATED = 1 << 6, /* exec: argv was longer than config.args_max */
	FSA_F_PASSED_ROOT = 1 << 7, /* the walk passed the task's root: root_off splits the two views */
	FSA_F_GIVEN = 1 << 8,       /* the first component is a path as the process gave it, relative to the rest */
	FSA_F_RAW = 1 << 9,         /* target only: one string (a symlink's text, an xattr's name), not a path */
	FSA_F_NO_INODE = 1 << 10,   /* ino, dev and mode are unknown: the file was named by a path string */
	FSA_F_EXCHANGE = 1 << 11,   /* rename with RENAME_EXCHANGE: both files remain, swapped */
	FSA_F_FOLLOW = 1 << 12,     /* with FSA_F_GIVEN: the call followed a symbolic link at the path's end */
	FSA_F_PENDING = 1 << 13,    /* seen before the change: the thread's next result event says whether it happened */
	FSA_F_COALESCED = 1 << 14,  /* writes merged in the kernel: writes, bytes, ts_ns..end_ns; no path: the window's template names it */
	FSA_F_TEMPLATE = 1 << 15,   /* not a record: names the file and writer of the merged writes to come */
};

/* What a path the kernel side sends cannot tell (enum fsa_taint):
 * FSA_TAINT_MOUNTS: the writer's mount namespace belongs to a user
 *   namespace other than the initial one, so a user (not root) may have
 *   changed its mounts: a bind mount can give an audited directory another
 *   name, and no mount in a path string is walked;
 * FSA_TAINT_LINKS: the writer's user made hard links (link, linkat, noted
 *   by track() at their entry): a change by path may reach a file that has
 *   other names;
 * FSA_TAINT_LATE: a string or structure the call gave could not be copied
 *   at its entry (not in memory then), and was read at its exit, when another
 *   thread may have changed it;
 * FSA_TAINT_STALE: the file's name was unlinked while other links remain:
 *   the name is not the file's any more. */
enum fsa_taint {
	FSA_TAINT_MOUNTS = 1,
	FSA_TAINT_LINKS = 2,
	FSA_TAINT_LATE = 4,
	FSA_TAINT_STALE = 8,
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
	enum fsa_hook hook;
	enum fsa_op op;
	enum fsa_flags flags;
	__u16 path_len;     /* bytes used in path */
	__u16 depth;        /* components in path */
	__u16 args_len;     /* exec: bytes used in args */
	__u16 target_len;   /* bytes of path after path_len: the target's components or raw string */
	__u16 target_depth;
	__u16 target_root_off; /* as root_off, counted from the target's start */
	enum fsa_flags target_flags; /* of the target path */
	__u32 sub;          /* the op's detail: enum fsa_create, rename flags, ... */
	__u32 new_mode;     /* create, chmod: the mode asked for (umask applied on create) */
	__u32 new_uid;      /* chown */
	__u32 new_gid;
	__u64 length;       /* truncate: the new size */
	__u64 end_ns;       /* coalesced: the last write merged */
	__u64 writes;       /* coalesced: how many writes were merged */
	__u32 exec_id;      /* coalesced and template: the process's exec count, part of the window's key */
	__u32 generation;   /* the inode's i_generation: with ino, which file it is (numbers are reused) */
	__u16 mnt_off;      /* bytes of path below the root of the file's own mount; FSA_NO_MOUNT: no mount crossed */
	__u16 alias_len;    /* the last bytes of path_len: the names of that mount's root below its file system's root */
	__u16 target_mnt_off;   /* as mnt_off and alias_len, for the target, counted from its start */
	__u16 target_alias_len;
	__u32 nlink;        /* the inode's links (i_nlink) */
	__u16 taint;        /* enum fsa_taint */
	__u16 _pad3;
	__u32 mnt_dev;      /* kernel dev_t of the file's own mount (mnt_off), whose root alias names */
	__u32 target_mnt_dev;
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
	__u32 fmode_created; /* the kernel's FMODE_CREATED bit in file->f_mode */
	__u32 actions;       /* bit 1 << op for each enum fsa_op audited */
	__u32 syscall_ops;   /* bit 1 << op for each op the syscall point reports (the others have VFS hooks) */
	__u8 lsm;            /* VFS (LSM) hook points are attached: confirm their pending events */
	__u8 filter_uids;    /* consult excluded_uids */
	__u8 stopped;        /* the agent stops (or only probes): admit nothing */
	__u8 filter_exes;    /* consult excluded_exes */
	__u64 window_ns;     /* coalescing window; 0: one event per write */
	__u32 args_max;      /* exec: argv bytes carried, at most FSA_ARGS_MAX - 1; more set FSA_F_ARGS_TRUNCATED */
	__u32 _pad2;
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

#endif /* FSA_LAYOUT_H */
