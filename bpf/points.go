package bpf

// The hook points: what each one watches, in which modes it attaches and
// how, and which operations a system call reports.

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/fsaudit/fsaudit/record"
)

// Actions lists every operation the kernel side can report, as records name them.
var Actions = record.FileActions

// actionOps maps record action names to kernel operations.
var actionOps = func() map[string]Op {
	m := map[string]Op{}
	for op, a := range opActions {
		m[a] = op
	}
	return m
}()

// kindOps says which operations each watched syscall can report.
var kindOps = map[fsauditFsaSc][]Op{
	fsauditFsaScSC_OPEN: {OpCreate, OpTruncate}, fsauditFsaScSC_CREAT: {OpCreate, OpTruncate},
	fsauditFsaScSC_OPENAT: {OpCreate, OpTruncate}, fsauditFsaScSC_OPENAT2: {OpCreate, OpTruncate},
	fsauditFsaScSC_MKNOD: {OpCreate}, fsauditFsaScSC_MKNODAT: {OpCreate}, fsauditFsaScSC_MKDIR: {OpCreate},
	fsauditFsaScSC_MKDIRAT: {OpCreate}, fsauditFsaScSC_LINK: {OpCreate}, fsauditFsaScSC_LINKAT: {OpCreate},
	fsauditFsaScSC_SYMLINK: {OpCreate}, fsauditFsaScSC_SYMLINKAT: {OpCreate},
	fsauditFsaScSC_TRUNCATE: {OpTruncate}, fsauditFsaScSC_FTRUNCATE: {OpTruncate},
	fsauditFsaScSC_RENAME: {OpRename}, fsauditFsaScSC_RENAMEAT: {OpRename}, fsauditFsaScSC_RENAMEAT2: {OpRename},
	fsauditFsaScSC_UNLINK: {OpDelete}, fsauditFsaScSC_UNLINKAT: {OpDelete}, fsauditFsaScSC_RMDIR: {OpDelete},
	fsauditFsaScSC_CHMOD: {OpChmod}, fsauditFsaScSC_FCHMOD: {OpChmod}, fsauditFsaScSC_FCHMODAT: {OpChmod},
	fsauditFsaScSC_FCHMODAT2: {OpChmod},
	fsauditFsaScSC_CHOWN:     {OpChown}, fsauditFsaScSC_FCHOWN: {OpChown}, fsauditFsaScSC_LCHOWN: {OpChown},
	fsauditFsaScSC_FCHOWNAT: {OpChown},
	fsauditFsaScSC_SETXATTR: {OpXattr}, fsauditFsaScSC_LSETXATTR: {OpXattr}, fsauditFsaScSC_FSETXATTR: {OpXattr},
	fsauditFsaScSC_SETXATTRAT: {OpXattr}, fsauditFsaScSC_REMOVEXATTR: {OpXattr},
	fsauditFsaScSC_LREMOVEXATTR: {OpXattr}, fsauditFsaScSC_FREMOVEXATTR: {OpXattr},
	fsauditFsaScSC_REMOVEXATTRAT: {OpXattr},
	fsauditFsaScSC_MMAP:          {OpMmapWrite}, fsauditFsaScSC_SENDFILE: {OpWrite}, fsauditFsaScSC_SPLICE: {OpWrite},
	fsauditFsaScSC_COPY_FILE_RANGE: {OpWrite}, fsauditFsaScSC_ASYNC_SUBMIT: {OpWrite},
	fsauditFsaScSC_FALLOCATE: {OpWrite}, fsauditFsaScSC_IOCTL: {OpWrite},
	fsauditFsaScSC_UTIMENSAT: {OpUtimes}, fsauditFsaScSC_UTIMES: {OpUtimes}, fsauditFsaScSC_FUTIMESAT: {OpUtimes},
	fsauditFsaScSC_UTIME: {OpUtimes},
}

// opSet is a set of operations, bit 1 << Op each, as the kernel's settings hold it.
type opSet uint32

func (s opSet) has(o Op) bool { return s&(1<<o) != 0 }

func parseActions(names []string) (opSet, error) {
	if len(names) == 0 {
		names = Actions
	}
	var s opSet
	for _, n := range names {
		o, ok := actionOps[n]
		if !ok {
			return 0, fmt.Errorf("unknown action %q: want some of %s", n, strings.Join(Actions, ", "))
		}
		s |= 1 << o
	}
	return s, nil
}

// target is one program and where it attaches: one place, or several.
type target struct {
	prog   string
	attach func(p *ebpf.Program) ([]link.Link, error)
}

// one is the result of an attach that makes a single link.
func one(l link.Link, err error) ([]link.Link, error) {
	if err != nil {
		return nil, err
	}
	return []link.Link{l}, nil
}

// syscallKind is what the syscall point does with a system call, and the
// name of its tracepoints.
type syscallKind struct {
	kind fsauditFsaSc
	name string
}

// syscallTracepoints attaches a program to the syscalls:sys_<dir>_<name>
// tracepoint of every call in syscallKinds, in number order; a call this
// kernel does not have (fchmodat2 before 6.6, setxattrat before 6.13) has
// no tracepoint, and nobody can make it.
func syscallTracepoints(dir string) func(*ebpf.Program) ([]link.Link, error) {
	return func(p *ebpf.Program) ([]link.Link, error) {
		nrs := make([]uint32, 0, len(syscallKinds))
		for nr := range syscallKinds {
			nrs = append(nrs, nr)
		}
		slices.Sort(nrs)
		var links []link.Link
		for _, nr := range nrs {
			name := "sys_" + dir + "_" + syscallKinds[nr].name
			l, err := link.Tracepoint("syscalls", name, p, nil)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				release(links, nil)
				return nil, fmt.Errorf("syscalls:%s: %w", name, err)
			}
			links = append(links, l)
		}
		if len(links) == 0 {
			return nil, fmt.Errorf("no syscalls:sys_%s_* tracepoint of the watched calls exists: %w", dir, os.ErrNotExist)
		}
		return links, nil
	}
}

// optionalFuncs are hooked where the kernel has them and left out where it
// does not: security_file_truncate came in 6.2, taking over part of what
// security_path_truncate saw before.
var optionalFuncs = map[string]bool{"security_file_truncate": true}

// missing says whether the target hooks an optional function the kernel lacks.
func (t target) missing() bool {
	fn := t.prog[strings.IndexByte(t.prog, '_')+1:]
	return optionalFuncs[fn] && !kernelHas(fn)
}

// point is a logical hook point: a set of kernel entry points that together
// see one family of calls, attachable in each mode.
type point struct {
	name    string
	sees    map[Mode]string
	ops     []Op // what it reports: it is attached when one of these is audited
	targets map[Mode][]target
	// vfs points hook the kernel's LSM path hooks; when none of their modes
	// attaches, the syscall point reports their operations instead, so
	// they never stop a start, whatever the hook setting.
	vfs bool
	// raw, when not nil, replaces the tracepoint mode's targets where the
	// syscall point runs a program at every call's entry and exit.
	raw []target
}

// vfsPoint is a point on LSM path hooks, in fentry and kprobe modes.
func vfsPoint(name string, op Op, fns ...string) point {
	pt := point{name: name, ops: []Op{op}, vfs: true, targets: map[Mode][]target{}, sees: map[Mode]string{}}
	var names []string
	for _, fn := range fns {
		pt.targets[ModeFentry] = append(pt.targets[ModeFentry], target{"fentry_" + fn, tracing})
		pt.targets[ModeKprobe] = append(pt.targets[ModeKprobe], target{"kprobe_" + fn, kprobe(fn)})
		names = append(names, fn)
	}
	sees := strings.Join(names, ", ") + ": " + op.String() + " by system calls and io_uring"
	pt.sees[ModeFentry], pt.sees[ModeKprobe] = sees, sees
	return pt
}

func tracing(p *ebpf.Program) ([]link.Link, error) {
	return one(link.AttachTracing(link.TracingOptions{Program: p}))
}

func kprobe(symbol string) func(*ebpf.Program) ([]link.Link, error) {
	return func(p *ebpf.Program) ([]link.Link, error) { return one(link.Kprobe(symbol, p, nil)) }
}

func tracepoint(group, name string) func(*ebpf.Program) ([]link.Link, error) {
	return func(p *ebpf.Program) ([]link.Link, error) { return one(link.Tracepoint(group, name, p, nil)) }
}

var points = []point{
	{
		name: "write",
		sees: map[Mode]string{
			ModeFentry:     "vfs_write, vfs_writev: the write(2) family; rw_verify_area: io_uring and AIO writes",
			ModeKprobe:     "vfs_write, vfs_writev: the write(2) family; rw_verify_area: io_uring and AIO writes",
			ModeTracepoint: "write(2), pwrite64(2), writev(2), pwritev(2), pwritev2(2)",
		},
		ops: []Op{OpWrite},
		targets: map[Mode][]target{
			ModeFentry: {{"fentry_vfs_write", tracing}, {"fentry_vfs_writev", tracing}, {"fentry_rw_verify_area", tracing}},
			ModeKprobe: {{"kprobe_vfs_write", kprobe("vfs_write")}, {"kprobe_vfs_writev", kprobe("vfs_writev")},
				{"kprobe_rw_verify_area", kprobe("rw_verify_area")}},
			ModeTracepoint: {{"tp_sys_enter_write", tracepoint("syscalls", "sys_enter_write")}, {"tp_sys_enter_pwrite64", tracepoint("syscalls", "sys_enter_pwrite64")},
				{"tp_sys_enter_writev", tracepoint("syscalls", "sys_enter_writev")}, {"tp_sys_enter_pwritev", tracepoint("syscalls", "sys_enter_pwritev")},
				{"tp_sys_enter_pwritev2", tracepoint("syscalls", "sys_enter_pwritev2")}},
		},
		// The syscall point's entry program reports them (syscall_kinds).
		raw: []target{},
	},
	{
		// The calls in syscallKinds: those watched are kept at their entry
		// and reported at their exit when they succeeded. One program at
		// each end of every call (also seeing the 32-bit calls, which fire
		// no per-call tracepoint), or, where no 32-bit call can be made,
		// the per-call entry tracepoints and the program at every exit.
		name: "syscalls",
		sees: map[Mode]string{
			ModeTracepoint: "create, truncate, rename, delete, chmod, chown, xattr, mmap_write by syscall; sendfile(2), splice(2), copy_file_range(2) writes; the same and write(2) calls through the 32-bit ABI",
		},
		ops: []Op{OpCreate, OpTruncate, OpRename, OpDelete, OpChmod, OpChown, OpXattr, OpMmapWrite, OpWrite, OpUtimes},
		targets: map[Mode][]target{
			ModeTracepoint: {{"any_sys_exit", tracing}, {"tp_syscall_enter", syscallTracepoints("enter")}},
		},
		// Where 32-bit calls can be made: one program at each end of
		// every call, which does the per-call tracepoints' work too.
		raw: []target{{"any_sys_exit", tracing}, {"any_sys_enter", tracing}},
	},
	vfsPoint("create", OpCreate, "security_path_mknod", "security_path_mkdir", "security_path_symlink", "security_path_link"),
	vfsPoint("rename", OpRename, "security_path_rename"),
	vfsPoint("delete", OpDelete, "security_path_unlink", "security_path_rmdir"),
	vfsPoint("truncate", OpTruncate, "security_path_truncate", "security_file_truncate"),
	vfsPoint("chmod", OpChmod, "security_path_chmod"),
	vfsPoint("chown", OpChown, "security_path_chown"),
}

// lifecycle are the tracepoints that tell enrichment which executable and
// arguments a process has, and when it is gone; they run in every mode.
var lifecycle = []target{
	{"tp_sched_process_exec", tracepoint("sched", "sched_process_exec")},
	{"tp_sched_process_exit", tracepoint("sched", "sched_process_exit")},
}

// serves says whether the point reports one of the audited operations.
func (pt point) serves(s opSet) bool {
	for _, o := range pt.ops {
		if s.has(o) {
			return true
		}
	}
	return false
}

// modes lists the modes to try for the point, best first: every mode it
// offers under auto; the forced one when it offers it, else its own best
// (a point with syscall tracepoints only takes them in every mode).
func (pt point) modes(hook string) []Mode {
	var offered []Mode
	for _, m := range Modes {
		if len(pt.targets[m]) > 0 {
			offered = append(offered, m)
		}
	}
	if hook == "auto" {
		return offered
	}
	if len(pt.targets[Mode(hook)]) > 0 {
		return []Mode{Mode(hook)}
	}
	if pt.vfs || len(offered) == 0 {
		return nil // the syscall point reports its operations
	}
	return offered[:1]
}
