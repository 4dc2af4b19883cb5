/* Admission: what the settings leave out (users, commands, executables,
 * cgroups, the agent itself), decided before any other work.
 * Part of fsaudit.bpf.c, one object: included once, in order. */
#ifndef FSA_ADMIT_H
#define FSA_ADMIT_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[FSA_COMM_LEN]);
	__type(value, __u8);
} excluded_comms SEC(".maps");

/* Users whose changes are not reported: a task is left out when both its
 * real and its effective uid are here, so that a setuid program run by such
 * a user is still audited. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} excluded_uids SEC(".maps");

/* Executables whose processes' changes are not reported, by the file the
 * kernel runs (mm->exe_file): its device and inode, which a copy of the
 * program does not have, whatever its name. */
struct exe_key {
	__u64 ino;
	__u32 dev; /* the kernel's encoding: major << 20 | minor */
	__u32 _pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct exe_key);
	__type(value, __u8);
} excluded_exes SEC(".maps");

/* The cgroups (v2) whose tasks are audited, when the settings say so. */
#define FSA_MAX_CGROUPS 16
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, FSA_MAX_CGROUPS);
	__type(key, __u32);
	__type(value, __u32);
} audited_cgroups SEC(".maps");



static __always_inline __u64 current_cred(void)
{
#ifdef HAVE_BPF_LOOP
	return (__u64)bpf_get_current_task_btf()->cred;
#else
	return (__u64)BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), cred);
#endif
}

static __always_inline __u32 current_euid(void)
{
#ifdef HAVE_BPF_LOOP
	return bpf_get_current_task_btf()->cred->euid.val;
#else
	return BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), cred, euid.val);
#endif
}


/* Drops what the settings exclude before any work: returns the settings
 * when the current task's write is to be considered. */
static __always_inline struct config *admit(void)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&settings, &zero);
	if (!cfg || cfg->stopped)
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

/* Whether the current task's users are excluded: both its real uid and
 * its effective uid (cred->euid) in excluded_uids. */
static __always_inline int uid_excluded(void)
{
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	if (!bpf_map_lookup_elem(&excluded_uids, &uid))
		return 0;
	__u32 euid = current_euid();
	return bpf_map_lookup_elem(&excluded_uids, &euid) != 0;
}

/* Whether task runs an excluded executable. */
static __always_inline int exe_excluded(struct task_struct *task)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe)
		return 0; /* a kernel thread */
	struct exe_key k = {};
	k.ino = BPF_CORE_READ(exe, f_inode, i_ino);
	k.dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	return bpf_map_lookup_elem(&excluded_exes, &k) != 0;
}

/* admit, and for the writes that every process makes by the million, the
 * command name and user filters at once, before a single read of the
 * file: a write they exclude costs a map lookup or two. An io_uring
 * worker's own name is never the one excluded; begin looks at its
 * process's. */
static __always_inline struct config *admit_write(void)
{
	struct config *cfg = admit();
	if (!cfg)
		return 0;
	if (cfg->filter_comms) {
		char comm[FSA_COMM_LEN] = {};
		bpf_get_current_comm(comm, sizeof(comm));
		if (bpf_map_lookup_elem(&excluded_comms, comm))
			return 0;
	}
	if (cfg->filter_uids && uid_excluded())
		return 0;
	if (cfg->filter_exes && exe_excluded((struct task_struct *)bpf_get_current_task()))
		return 0;
	return cfg;
}

#endif /* FSA_ADMIT_H */
