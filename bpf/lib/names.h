/* Files named by a path string or a descriptor a system call gave: copied
 * at the entry or read at the exit, with the directory they are relative
 * to.
 * Part of fsaudit.bpf.c, one object: included once, in order. */
#ifndef FSA_NAMES_H
#define FSA_NAMES_H

/* Where a string at base goes in e->path, within the first FSA_PATH_MAX
 * bytes. The mask stays in the code the verifier reads: where the compiler
 * knows base is small it would drop it, for a bound the verifier cannot see. */
static __always_inline char *path_at(struct event *e, __u32 base)
{
	barrier_var(base);
	return (char *)&e->path[base & (FSA_PATH_MAX - 1)];
}

/* The length with its NUL of a string just read into e->path at base (n,
 * or a negative error): kernels before 5.11 count an empty string as 0
 * bytes rather than 1. */
static __always_inline long str_len(struct event *e, __u32 base, long n)
{
	if (n == 0) {
		*path_at(e, base) = 0;
		n = 1;
	}
	return n;
}

/* Copies a string the call gave into e->path at base (as it was at the
 * call's entry, when saved then); returns str_len. */
static __always_inline long read_user_str(struct event *e, __u32 base, __u64 str)
{
	const char *saved = saved_str(str);
	char *dst = path_at(e, base);
	if (saved)
		return str_len(e, base, bpf_probe_read_kernel_str(dst, FSA_PATH_MAX, saved));
	e->taint |= FSA_TAINT_LATE; /* not copied at the entry: read now */
	return str_len(e, base, bpf_probe_read_user_str(dst, FSA_PATH_MAX, (void *)str));
}

/* Names a file by the path string a process gave, relative to dfd (or its
 * working directory, or its root when absolute): the string goes first in
 * the path, then the walk of the directory it is relative to. */
static __always_inline void name_at(struct event *e, struct task_struct *task, int dfd, __u64 str,
				    __u32 base, struct walk_out *o)
{
	long n = read_user_str(e, base, str);
	if (n <= 0) {
		o->flags |= FSA_F_TRUNCATED;
		return;
	}
	o->flags |= FSA_F_GIVEN;
	e->taint |= taint_of();
	char first = *path_at(e, base);
	struct dentry *d;
	struct vfsmount *m;
	if (first == '/') {
		d = BPF_CORE_READ(task, fs, root.dentry);
		m = BPF_CORE_READ(task, fs, root.mnt);
	} else if (dfd == FSA_AT_FDCWD) {
		d = BPF_CORE_READ(task, fs, pwd.dentry);
		m = BPF_CORE_READ(task, fs, pwd.mnt);
	} else {
		struct file *f = fd_file(task, (__u32)dfd);
		if (!f) {
			o->flags |= FSA_F_TRUNCATED;
			o->len = n;
			return;
		}
		d = BPF_CORE_READ(f, f_path.dentry);
		m = BPF_CORE_READ(f, f_path.mnt);
	}
	walk_from(e, d, m, task, base, n, o);
}

/* Names the file of an open descriptor exactly, with its inode. */
static __always_inline int name_fd(struct event *e, struct task_struct *task, int fd)
{
	struct file *f = fd_file(task, (__u32)fd);
	if (!f)
		return -1;
	file_fields(e, BPF_CORE_READ(f, f_inode));
	walk_path(e, f, task);
	return 0;
}

/* The primary path: a descriptor's file when the string is empty and the
 * call said AT_EMPTY_PATH, else the string relative to dfd. */
static __always_inline void name_primary(struct event *e, struct task_struct *task, int dfd, __u64 str, int empty_ok,
					 int follow)
{
	if (empty_ok) {
		char c = 0;
		const char *saved = saved_str(str);
		if (saved) {
			bpf_probe_read_kernel(&c, 1, saved);
		} else {
			e->taint |= FSA_TAINT_LATE;
			bpf_probe_read_user(&c, 1, (void *)str);
		}
		if (c == 0) {
			if (name_fd(e, task, dfd))
				e->flags |= FSA_F_TRUNCATED;
			return;
		}
	}
	struct walk_out o = {};
	name_at(e, task, dfd, str, 0, &o);
	if (follow)
		o.flags |= FSA_F_FOLLOW;
	o.flags |= FSA_F_NO_INODE;
	set_path(e, &o);
}

/* The target path (a rename's new name, a link's existing file), after the
 * primary one. */
static __always_inline void name_target(struct event *e, struct task_struct *task, int dfd, __u64 str, int follow)
{
	__u32 base = e->path_len;
	if (base >= FSA_PATH_MAX) {
		e->target_flags = FSA_F_TRUNCATED;
		return;
	}
	struct walk_out o = {};
	name_at(e, task, dfd, str, base, &o);
	if (follow)
		o.flags |= FSA_F_FOLLOW;
	set_target(e, &o);
}

/* A target that is one string: a symlink's text, an attribute's name. */
static __always_inline void raw_target(struct event *e, __u64 str)
{
	__u32 base = e->path_len;
	e->target_flags = FSA_F_RAW;
	if (base >= FSA_PATH_MAX) {
		e->target_flags |= FSA_F_TRUNCATED;
		return;
	}
	long n = read_user_str(e, base, str);
	if (n <= 0) {
		e->target_flags |= FSA_F_TRUNCATED;
		return;
	}
	e->target_len = n;
}

#endif /* FSA_NAMES_H */
