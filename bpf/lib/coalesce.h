/* Writes: an event per write, or repeated writes of one process to one
 * file merged in a window.
 * Part of fsaudit.bpf.c, one object: included once, in order. */
#ifndef FSA_COALESCE_H
#define FSA_COALESCE_H

/* ---- coalescing: further writes by one process to one file within the
 * window only add to a map entry; the agent's sweep reports them. ---- */

#define FSA_COALESCE_MAX 16384

/* A window's key: the process, the file's inode and the writer's
 * credentials, as pointers, which cost one read each on every write. Every
 * exec and every change of user installs new credentials, so either starts
 * another window: the record names the writer as it was. */
struct coalesce_key {
	__u32 tgid;
	__u32 _pad;
	__u64 inode; /* struct inode * */
	__u64 cred;  /* struct cred *, task->cred */
};

struct coalesce_val {
	__u64 window_ns; /* when the window's first write was reported; 0: none open, the next write opens one */
	__u64 first_ns;  /* the first merged write not yet reported */
	__u64 last_ns;   /* the latest merged write */
	__u64 writes;    /* merged writes not yet reported: writers only add, the sweep only subtracts */
	__u64 bytes;
	__u64 first_off;
	__u64 ino;       /* the file and the writer, read when the entry was made */
	__u32 dev;
	__u32 uid;
	__u32 euid;
	__u32 exec_id;   /* task->self_exec_id */
	__u32 mode;
	__u16 hook;
	__u16 flags;     /* FSA_F_APPEND, FSA_F_NO_OFFSET ... of the first merged write */
	__u32 generation; /* i_generation: with ino, which file the inode at the key's address was */
};

/* Not preallocated: an element a writer still holds is freed only after it
 * is done with it, never reused for another key under its feet. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FSA_COALESCE_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct coalesce_key);
	__type(value, struct coalesce_val);
} coalesce SEC(".maps");

/* Per CPU: FSA_COALESCE_FULL counts writes reported alone because the map
 * was full. */
#define FSA_COALESCE_FULL 0
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} coalesce_stats SEC(".maps");

static __always_inline void coalesce_key_of(struct coalesce_key *k, struct inode *inode)
{
	k->tgid = bpf_get_current_pid_tgid() >> 32;
	k->_pad = 0;
	k->inode = (__u64)inode;
	k->cred = current_cred();
}

/* A window's opening: who writes to which file, for its reports. The
 * counts are left as they are (writes merged before and not yet reported). */
static __always_inline void coalesce_new(struct coalesce_val *v, struct task_struct *task, struct inode *inode,
					 __u64 now, __u32 imode, __u16 hook)
{
	v->window_ns = now;
	v->ino = BPF_CORE_READ(inode, i_ino);
	v->generation = BPF_CORE_READ(inode, i_generation);
	v->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	v->uid = (__u32)bpf_get_current_uid_gid();
	v->euid = BPF_CORE_READ(task, cred, euid.val);
	v->exec_id = BPF_CORE_READ(task, self_exec_id);
	v->mode = imode;
	v->hook = hook;
}

#ifdef HAVE_BPF_LOOP
/* 6.2 and later: a typed, read-only view of any kernel pointer. Weak: on
 * older kernels it is 0, and the probe reads below are taken instead. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
#endif

/* A file's f_mode and f_inode, on the path every write takes: plain loads
 * through a typed view where the kernel gives one, a probe read each
 * elsewhere. */
static __always_inline void file_head(struct file *f, __u32 *fmode, struct inode **inode)
{
#ifdef HAVE_BPF_LOOP
	if (bpf_rdonly_cast) {
		struct file *t = bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
		*fmode = t->f_mode;
		*inode = t->f_inode;
		return;
	}
#endif
	*fmode = BPF_CORE_READ(f, f_mode);
	*inode = BPF_CORE_READ(f, f_inode);
}

/* An inode's number and generation, the same way. */
static __always_inline void inode_id(struct inode *i, __u64 *ino, __u32 *gen)
{
#ifdef HAVE_BPF_LOOP
	if (bpf_rdonly_cast) {
		struct inode *t = bpf_rdonly_cast(i, bpf_core_type_id_kernel(struct inode));
		*ino = t->i_ino;
		*gen = t->i_generation;
		return;
	}
#endif
	*ino = BPF_CORE_READ(i, i_ino);
	*gen = BPF_CORE_READ(i, i_generation);
}

/* Builds and sends the event for a write of bytes to file at offset
 * (offset < 0: the file's own position). With a coalescing window, a write
 * to a file whose window is open by the same process only adds to its
 * entry; the first such write sends a template naming file and writer. */
static __always_inline int emit_write(struct config *cfg, struct file *file, __u64 bytes,
				      __s64 offset, __u16 flags, __u16 hook)
{
	if (!file)
		return 0;
	__u32 fmode;
	struct inode *inode;
	file_head(file, &fmode, &inode);
	if (!(fmode & FMODE_WRITE))
		return 0;

	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct coalesce_key k = {};
	struct coalesce_val *v = 0;
	int coalescing = cfg->window_ns && (cfg->actions & (1 << FSA_OP_WRITE));
	int template = 0, take_over = 1;
	if (coalescing) {
		coalesce_key_of(&k, inode);
		v = bpf_map_lookup_elem(&coalesce, &k);
		/* An entry is its file's only while the inode lives: after a close
		 * that close(2)'s tracepoint does not see (dup2 over the descriptor,
		 * close_range, io_uring), the inode can be freed and its memory
		 * become another file's, even under the same inode number (ext4
		 * hands a freed number out again at once): the generation tells
		 * them apart. Such an entry is taken over only once it holds
		 * nothing unreported; until then this file's writes are events of
		 * their own. */
		__u64 ino = 0;
		__u32 gen = 0;
		if (v)
			inode_id(inode, &ino, &gen);
		if (v && (v->ino != ino || v->generation != gen)) {
			take_over = v->writes == 0;
		} else if (v) {
			__u64 now = bpf_ktime_get_ns();
			if (v->window_ns && now - v->window_ns < cfg->window_ns) {
				/* The window opened on this inode: its type was checked then. */
				template = v->writes == 0;
				if (template) {
					__u16 f = flags;
					v->first_off = write_offset(file, inode, offset, &f);
					v->first_ns = now;
					v->flags = f;
					v->hook = hook;
				}
				__sync_fetch_and_add(&v->writes, 1);
				__sync_fetch_and_add(&v->bytes, bytes);
				v->last_ns = now;
				if (!template)
					return 0;
			}
		}
	}
	__u32 imode = BPF_CORE_READ(inode, i_mode);
	if (!template && cfg->regular_only && (imode & FSA_S_IFMT) != FSA_S_IFREG)
		return 0;

	struct event *e = begin(cfg, task, FSA_OP_WRITE, hook);
	if (!e)
		return 0;
	file_fields(e, inode);
	e->flags |= flags;
	if (template) {
		e->flags |= FSA_F_TEMPLATE;
		e->exec_id = v->exec_id;
		/* The window's key names its writer: the ids it had then. */
		e->uid = v->uid;
		e->euid = v->euid;
	} else {
		e->bytes = bytes;
		e->offset = write_offset(file, inode, offset, &e->flags);
		if (coalescing && take_over) {
			/* This write opens the window, and the entry's file and
			 * writer are read again. */
			if (v) {
				coalesce_new(v, task, inode, e->ts_ns, imode, hook);
			} else {
				struct coalesce_val nv = {};
				coalesce_new(&nv, task, inode, e->ts_ns, imode, hook);
				if (bpf_map_update_elem(&coalesce, &k, &nv, BPF_NOEXIST) == -FSA_E2BIG) {
					__u32 zero = 0;
					__u64 *n = bpf_map_lookup_elem(&coalesce_stats, &zero);
					if (n)
						*n += 1;
				}
			}
		}
	}

	walk_path(e, file, task);
	finish(e);
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

#endif /* FSA_COALESCE_H */
