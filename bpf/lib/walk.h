/* The path walk: a dentry chain and its mounts up to the task's root and
 * on to its namespace's top, written leaf first into the event; files by
 * descriptor.
 * Part of fsaudit.bpf.c, one object: included once, in order. */
#ifndef FSA_WALK_H
#define FSA_WALK_H

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
	__u32 base;        /* where in e->path this walk writes its first byte */
	__u32 mnt_off;     /* off when the walk reached the root of the file's own mount; FSA_NO_MOUNT before */
	__u32 mnt_dev;     /* that mount's super block's dev_t */
	__u32 in_fs;       /* the alias walk: parents within one file system, no mounts */
	__u32 alias_len;   /* bytes the alias walk wrote after the path; FSA_NO_MOUNT: they did not fit */
	__u32 alias_end;   /* the path's end, where the alias walk began */
	__u32 depth_before;
	__u32 saved_flags;
	__u64 alias;       /* struct dentry *: that mount's root when it is not its file system's */
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

/* The path's walk is over: when its mount shows a directory, the same
 * steps go on from that mount's root up to its file system's root,
 * writing the names after the path (both in FSA_PATH_MAX bytes). Returns 1
 * when the walk is over. */
static __always_inline long path_walked(struct walk *w)
{
	w->done = 1;
	if (!w->alias || (w->flags & FSA_F_TRUNCATED))
		return 1;
	w->alias_end = w->off;
	w->depth_before = w->depth;
	w->saved_flags = w->flags;
	w->dentry = w->alias;
	w->in_fs = 1;
	w->done = 0;
	return 0;
}

/* The alias walk is over: whole (its names follow the path), or not (they
 * are dropped, alias_len says FSA_NO_MOUNT, the path stays as it was). */
static __always_inline long alias_walked(struct walk *w, int whole)
{
	if (whole) {
		w->alias_len = w->off - w->alias_end;
	} else {
		w->off = w->alias_end;
		w->alias_len = FSA_NO_MOUNT;
	}
	w->flags = w->saved_flags;
	w->depth = w->depth_before;
	w->in_fs = 0;
	w->done = 1;
	return 1;
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

	if (w->in_fs)
		goto name;
	/* Passing the task's root ends its own view of the path; the walk goes
	 * on to the top of its mount namespace for the host's view. */
	if (w->dentry == w->root_dentry && w->vfsmnt == w->root_mnt && !(w->flags & FSA_F_PASSED_ROOT)) {
		w->flags |= FSA_F_PASSED_ROOT;
		w->root_off = w->off;
	}
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	if (d == mnt_root) {
		/* The first mount root is the file's own mount's. A bind mount of
		 * a directory (or of a file) has that directory's dentry as its
		 * root, not its file system's: the names from there to the file
		 * system's root say which directory it shows, whatever mount
		 * point the writer put it on. */
		if (w->mnt_off == FSA_NO_MOUNT) {
			w->mnt_off = w->off;
			w->mnt_dev = BPF_CORE_READ(vfsmnt, mnt_sb, s_dev);
			if (BPF_CORE_READ(d, d_parent) != d)
				w->alias = (__u64)d;
		}
		struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
		if (parent == mnt || !parent) {
			/* Top of this namespace's mount tree. */
			if (!(w->flags & FSA_F_PASSED_ROOT))
				w->flags |= FSA_F_OUTSIDE_ROOT;
			return path_walked(w);
		}
		w->dentry = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = (__u64)parent;
		w->vfsmnt = (__u64)parent + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
name:;
	struct dentry *up = BPF_CORE_READ(d, d_parent);
	if (w->in_fs && (!up || up == d))
		return alias_walked(w, up == d); /* the file system's root */
	if (!up || up == d) {
		/* A disconnected dentry or the root of an unmounted tree. */
		if (!(w->flags & FSA_F_PASSED_ROOT))
			w->flags |= FSA_F_OUTSIDE_ROOT;
		return path_walked(w);
	}
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	__u32 off = w->off;
	if (off - w->base >= FSA_PATH_MAX) {
		if (w->in_fs)
			return alias_walked(w, 0);
		w->flags |= FSA_F_TRUNCATED;
		w->done = 1;
		return 1;
	}
	long n = bpf_probe_read_kernel_str(&c->e->path[off & (2 * FSA_PATH_MAX - 1)], FSA_NAME_READ, name);
	if (n <= 1 || off + n - w->base > FSA_PATH_MAX) {
		/* Unreadable, empty, or past the longest path: stop before it. */
		if (w->in_fs)
			return alias_walked(w, 0);
		w->flags |= FSA_F_TRUNCATED;
		w->done = 1;
		return 1;
	}
	w->off = off + n;
	w->depth++;
	w->dentry = (__u64)up;
	return 0;
}

#ifndef HAVE_BPF_LOOP
/* Without bpf_loop, a loop of walk_step unrolled FSA_WALK_STEPS times would
 * leave the verifier a branch to come back to at each of its tests: more
 * than the 8192 it keeps. As a global function a step is checked once, and
 * the loop has one test a step. */
__noinline int fsa_walk_step(void)
{
	__u32 zero = 0;
	struct walk *w = bpf_map_lookup_elem(&walks, &zero);
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!w || !e)
		return 1;
	struct walk_ctx c = {.w = w, .e = e};
	return walk_step(0, &c);
}
#endif

/* Where one walk's result goes in the event. */
struct walk_out {
	__u16 len;
	__u16 depth;
	__u16 root_off; /* counted from the walk's base */
	__u16 flags;
	__u16 mnt_off;  /* counted from the walk's base; FSA_NO_MOUNT */
	__u16 alias_len;
	__u32 mnt_dev;
};

/* Walks from dentry d in mount vfsmnt up to the top of the current task's
 * mount namespace, writing names leaf first into the scratch event's path
 * from base + given on (the given bytes before it hold a path string the
 * process gave, or nothing). The result stays in the walks map.
 *
 * A global function: the verifier checks it once, on its own, however many
 * places call it, which keeps programs that walk several paths small. */
__noinline int fsa_walk(__u64 d, __u64 vfsmnt, __u32 base, __u32 given)
{
	__u32 zero = 0;
	struct walk *w = bpf_map_lookup_elem(&walks, &zero);
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!w || !e)
		return -1;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	w->dentry = d;
	w->vfsmnt = vfsmnt;
	w->mnt = (__u64)real_mount((struct vfsmount *)vfsmnt);
	w->root_dentry = (__u64)BPF_CORE_READ(task, fs, root.dentry);
	w->root_mnt = (__u64)BPF_CORE_READ(task, fs, root.mnt);
	struct dentry *root = (struct dentry *)w->root_dentry;
	e->root_ino = BPF_CORE_READ(root, d_inode, i_ino);
	e->root_dev = BPF_CORE_READ(root, d_sb, s_dev);
	w->base = base;
	w->off = base + given;
	w->depth = 0;
	w->flags = 0;
	w->done = 0;
	w->root_off = 0;
	w->mnt_off = FSA_NO_MOUNT;
	w->mnt_dev = 0;
	w->in_fs = 0;
	w->alias = 0;
	w->alias_len = 0;

#ifdef HAVE_BPF_LOOP
	struct walk_ctx c = {.w = w, .e = e};
	bpf_loop(FSA_WALK_STEPS, walk_step, &c, 0);
#else
	for (__u32 i = 0; i < FSA_WALK_STEPS; i++) {
		if (fsa_walk_step())
			break;
	}
#endif
	if (w->in_fs) {
		/* The steps ran out in the alias walk: the path is whole. */
		w->off = w->alias_end;
		w->alias_len = FSA_NO_MOUNT;
		w->flags = w->saved_flags;
		w->depth = w->depth_before;
	} else if (!w->done) {
		w->flags |= FSA_F_TRUNCATED;
	}
	return 0;
}

/* Runs fsa_walk and copies its result into out. */
static __always_inline void walk_from(struct event *e, struct dentry *d, struct vfsmount *vfsmnt,
				      struct task_struct *task, __u32 base, __u32 given, struct walk_out *out)
{
	__u32 zero = 0;
	struct walk *w = bpf_map_lookup_elem(&walks, &zero);
	if (!w || fsa_walk((__u64)d, (__u64)vfsmnt, base, given) != 0) {
		out->flags |= FSA_F_TRUNCATED;
		return;
	}
	out->flags |= w->flags;
	out->len = w->off - base;
	out->depth = w->depth;
	out->root_off = w->flags & FSA_F_PASSED_ROOT ? w->root_off - base : 0;
	out->mnt_off = w->mnt_off == FSA_NO_MOUNT ? FSA_NO_MOUNT : w->mnt_off - base;
	out->alias_len = w->alias_len;
	out->mnt_dev = w->mnt_dev;
}

/* The event's primary path and its target, from their walks. */
static __always_inline void set_path(struct event *e, struct walk_out *o)
{
	e->flags |= o->flags;
	e->path_len = o->len;
	e->depth = o->depth;
	e->root_off = o->root_off;
	e->mnt_off = o->mnt_off;
	e->alias_len = o->alias_len;
	e->mnt_dev = o->mnt_dev;
}

static __always_inline void set_target(struct event *e, struct walk_out *o)
{
	e->target_flags = o->flags;
	e->target_len = o->len;
	e->target_depth = o->depth;
	e->target_root_off = o->root_off;
	e->target_mnt_off = o->mnt_off;
	e->target_alias_len = o->alias_len;
	e->target_mnt_dev = o->mnt_dev;
}

static __always_inline void walk_path(struct event *e, struct file *file, struct task_struct *task)
{
	/* A name unlinked while the file keeps other links (its dentry
	 * dropped from the hash, the inode still linked) is not the file's
	 * name any more: a write through a descriptor opened by a second link
	 * that was then removed. */
	struct dentry *d = BPF_CORE_READ(file, f_path.dentry);
	if (e->nlink > 0 && (e->mode & FSA_S_IFMT) == FSA_S_IFREG && !BPF_CORE_READ(d, d_hash.pprev) &&
	    BPF_CORE_READ(d, d_parent) != d)
		e->taint |= FSA_TAINT_STALE;
	struct walk_out o = {};
	walk_from(e, BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), task, 0, 0, &o);
	set_path(e, &o);
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

/* fd_file for the current task, and its credentials, on the path every
 * write takes. In the object for 5.17 and later the task is a typed pointer
 * (bpf_get_current_task_btf, 5.11): its fields are plain loads the verifier
 * guards, a few ns each, where a probe read is a helper call of some 25. */
static __always_inline struct file *current_fd_file(__u64 fd)
{
#ifdef HAVE_BPF_LOOP
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
#else
	return fd_file((struct task_struct *)bpf_get_current_task(), fd);
#endif
}

#endif /* FSA_WALK_H */
