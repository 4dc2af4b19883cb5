/* Making an event: its identity fields, the taint of the path strings a
 * task gives, its file fields, and sending it.
 * Part of fsaudit.bpf.c, one object: included once, in order. */
#ifndef FSA_EVENT_H
#define FSA_EVENT_H

#define FSA_MAX_TAINTED 65536
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FSA_MAX_TAINTED);
	__type(key, __u32); /* euid, in the initial user namespace */
	__type(value, __u8);
} user_links SEC(".maps");

/* Set when user_links was full: every path string is then taken as a
 * linking user's. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8);
} taint_full SEC(".maps");

/* A hard link call by the current task is about to run (noted at its
 * entry: another thread could use the link before the call's exit). */
static __always_inline void track(void)
{
	__u32 euid = current_euid();
	if (euid == 0)
		return; /* root can do worse than that */
	__u8 one = 1;
	if (bpf_map_update_elem(&user_links, &euid, &one, BPF_ANY)) {
		__u32 zero = 0;
		bpf_map_update_elem(&taint_full, &zero, &one, BPF_ANY);
	}
}

/* The taint of a path string the current task gave. */
static __always_inline __u16 taint_of(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u16 t = 0;
	if (BPF_CORE_READ(task, nsproxy, mnt_ns, user_ns, level) > 0)
		t |= FSA_TAINT_MOUNTS;
	__u32 zero = 0;
	__u8 *full = bpf_map_lookup_elem(&taint_full, &zero);
	__u32 euid = current_euid();
	if ((full && *full) || bpf_map_lookup_elem(&user_links, &euid))
		t |= FSA_TAINT_LINKS;
	return t;
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
 * is no room. The reader is woken each time another FSA_WAKEUP_BYTES wait
 * (it also polls every few ms), or at once when wake_now asks for it. A
 * wakeup is an interrupt the CPU sends itself, some microseconds in a
 * virtual machine: one per event while the reader is behind cost more than
 * the whole event did. */
static __always_inline void send(struct event *e, __u64 size, int wake_now, __u32 lost_slot)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (wake_now || (avail + size) / FSA_WAKEUP_BYTES != avail / FSA_WAKEUP_BYTES)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, e, size, flags)) {
		__u64 *n = bpf_map_lookup_elem(&lost, &lost_slot);
		if (n)
			*n += 1;
	}
}

/* Fills who and when, and clears what each event sets for itself. */
static __always_inline void start(struct event *e, struct task_struct *task, __u16 op, __u16 hook)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->start_ns = BPF_CORE_READ(task, group_leader, start_time);
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->hook = hook;
	e->op = op;
	e->flags = 0;
	e->ino = 0;
	e->generation = 0;
	e->dev = 0;
	e->mode = 0;
	e->offset = 0;
	e->bytes = 0;
	e->length = 0;
	e->sub = 0;
	e->new_mode = 0;
	e->new_uid = (__u32)-1;
	e->new_gid = (__u32)-1;
	e->path_len = 0;
	e->depth = 0;
	e->root_off = 0;
	e->args_len = 0;
	e->target_len = 0;
	e->target_depth = 0;
	e->target_root_off = 0;
	e->mnt_off = FSA_NO_MOUNT;
	e->alias_len = 0;
	e->target_mnt_off = FSA_NO_MOUNT;
	e->target_alias_len = 0;
	e->nlink = 0;
	e->taint = 0;
	e->mnt_dev = 0;
	e->target_mnt_dev = 0;
	e->target_flags = 0;
	e->end_ns = 0;
	e->writes = 0;
	e->exec_id = 0;
}

static __always_inline struct event *begin(struct config *cfg, struct task_struct *task, __u16 op, __u16 hook)
{
	if (!(cfg->actions & (1 << op)))
		return 0;
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	/* Kernels before 6.x leave the bytes after comm's NUL as they were: clear
	 * them, or the excluded_comms lookup would see the last event's tail. */
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	if (BPF_CORE_READ(task, flags) & FSA_PF_IO_WORKER) {
		/* An io_uring worker thread writes for its process: name that. */
		struct task_struct *leader = BPF_CORE_READ(task, group_leader);
		bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &leader->comm);
	} else {
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	if (cfg->filter_comms && bpf_map_lookup_elem(&excluded_comms, e->comm))
		return 0;
	if (cfg->filter_uids && uid_excluded())
		return 0;
	if (cfg->filter_exes && exe_excluded(task))
		return 0;

	start(e, task, op, hook);
	__u64 uid_gid = bpf_get_current_uid_gid();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->euid = BPF_CORE_READ(task, cred, euid.val);
	e->egid = BPF_CORE_READ(task, cred, egid.val);
	e->loginuid = (__u32)-1;
	if (bpf_core_field_exists(task->loginuid))
		e->loginuid = BPF_CORE_READ(task, loginuid.val);
	return e;
}

/* The inode fields of the event's file. */
static __always_inline void file_fields(struct event *e, struct inode *inode)
{
	e->ino = BPF_CORE_READ(inode, i_ino);
	e->generation = BPF_CORE_READ(inode, i_generation);
	e->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->mode = BPF_CORE_READ(inode, i_mode);
	e->nlink = BPF_CORE_READ(inode, i_nlink);
	if (e->nlink == 0)
		e->flags |= FSA_F_DELETED;
}

/* Sends the event with its paths: header, path_len bytes, target_len bytes. */
static __always_inline void finish(struct event *e)
{
	__u64 size = offsetof(struct event, path) + (e->path_len & (2 * FSA_PATH_MAX - 1)) +
		     (e->target_len & (2 * FSA_PATH_MAX - 1));
	if (size > offsetof(struct event, args))
		size = offsetof(struct event, args);
	send(e, size, 0, FSA_LOST_AUDIT);
}

/* The offset a write starts at (offset < 0: the file's own position); a
 * file opened O_APPEND is written at its size, whatever the offset. */
static __always_inline __u64 write_offset(struct file *file, struct inode *inode, __s64 offset, __u16 *flags)
{
	if (BPF_CORE_READ(file, f_flags) & FSA_O_APPEND) {
		*flags |= FSA_F_APPEND;
		return BPF_CORE_READ(inode, i_size);
	}
	if (offset >= 0)
		return offset;
	return BPF_CORE_READ(file, f_pos);
}

#endif /* FSA_EVENT_H */
