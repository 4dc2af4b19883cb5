package bpf

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Options say how to attach and what the kernel side drops.
type Options struct {
	// Hook is "auto" or one Mode. auto takes, for each hook point on its
	// own, the first mode of Modes that loads and attaches.
	Hook string
	// AgentPID is the process whose writes are never reported, by its
	// tgid in the initial pid namespace; 0: the calling process (fsaudit's
	// own), as the kernel knows it, whatever pid namespace it runs in.
	AgentPID uint32
	// RegularOnly drops writes to anything but regular files.
	RegularOnly bool
	// ExcludeComms drops writes by processes with these command names
	// (the kernel's comm, at most 15 bytes).
	ExcludeComms []string
	// ExcludeExecutables drops the changes of processes running these
	// files (absolute paths), by device and inode: a copy of the program
	// elsewhere, or a process named like it, is still audited. At most
	// MaxExcludedUIDs.
	ExcludeExecutables []string
	// ExcludeUIDs drops the changes of tasks whose real and effective
	// uids are both in it (at most MaxExcludedUIDs).
	ExcludeUIDs []uint32
	// Object picks the compiled object: "bpf_loop" (kernels 5.17 and later)
	// or "compat" (any kernel). Empty picks by probing the kernel.
	Object string
	// RingBufferBytes sizes the ring buffer: a power of two and a multiple
	// of the page size. Zero keeps the object's default (8 MiB).
	RingBufferBytes uint32
	// MaxArgsBytes is how many bytes of a process's argv its exec event
	// carries (at most MaxArgsBytes; 0: that many); a longer argv is cut
	// there and flagged (FlagArgsTrunc).
	MaxArgsBytes int
	// Cgroups, when not empty, audits only tasks in these cgroup v2
	// directories (absolute paths) or below them, at most MaxCgroups.
	Cgroups []string
	// Actions are the operations reported, by their record names (Op's
	// String); empty: all. Hook points that serve none are not attached.
	Actions []string
	// CoalesceWindow, when not zero, merges further writes by a process to
	// a file within this time of its first in the kernel: the first is an
	// event of its own, the rest one FlagCoalesced event when the window
	// ends, the file is closed or the process exits.
	CoalesceWindow time.Duration
	// CoalesceEntries bounds the windows open at once; zero: CoalesceMax.
	CoalesceEntries uint32
	// OnSweepError, when set, hears of each failed sweep of the coalescing
	// map (its merged writes wait for the next sweep); called from the
	// sweep's goroutine.
	OnSweepError func(error)
}

// Actions lists every operation the kernel side can report, as records name them.
var Actions = []string{"write", "create", "truncate", "rename", "delete", "chmod", "chown", "xattr", "mmap_write", "utimes"}

// actionOps maps record action names to kernel operations.
var actionOps = map[string]Op{"write": OpWrite, "create": OpCreate, "truncate": OpTruncate, "rename": OpRename,
	"delete": OpDelete, "chmod": OpChmod, "chown": OpChown, "xattr": OpXattr, "mmap_write": OpMmapWrite, "utimes": OpUtimes}

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

// Attempt is one try at attaching a hook point in a mode.
type Attempt struct {
	Mode Mode
	Err  error // nil when it attached
}

// PointStatus tells how one hook point was attached.
type PointStatus struct {
	Point    string
	Sees     string
	Mode     Mode // empty when no mode attached
	Attempts []Attempt
}

// Capture is the attached kernel side and its ring buffer reader.
type Capture struct {
	// Variant names the object loaded: "bpf_loop" or "compat".
	Variant string
	// AgentTGID is the process whose changes the kernel side leaves out,
	// by its tgid in the initial pid namespace.
	AgentTGID uint32
	// Points says which mode each hook point took.
	Points []PointStatus
	// Lifecycle is nil when exec and exit tracking attached, else why not:
	// executables and arguments then come from /proc only.
	Lifecycle error
	// URingComplete is nil when the io_uring completion tracepoint that
	// confirms the VFS points' events from io_uring attached (or was not
	// needed), else why not: io_uring's creates, renames, deletes ... then
	// go unreported.
	URingComplete error
	// IA32 is nil when the 32-bit system calls are watched, else why
	// not: the kernel runs no 32-bit code.
	IA32 error
	// RawSyscalls: the syscall point runs one program at each end of every
	// system call (to see the 32-bit ones), which does the per-call
	// tracepoints' work as well; else it attaches those, and one program
	// at every call's exit.
	RawSyscalls bool
	// Coalescing is nil when writes are merged as Options.CoalesceWindow
	// asks (or it asks for none), else why not: every write is then an
	// event of its own. CloseHook is nil when the close(2) tracepoint that
	// ends windows attached (or was not needed), else why not: windows then
	// end only when their time runs out.
	Coalescing error
	CloseHook  error

	spec     *ebpf.CollectionSpec
	actions  opSet
	maps     sharedMaps
	links    []link.Link
	progs    []*ebpf.Program
	reader   *ringbuf.Reader
	co       *coalescer
	raw      fsauditEvent
	rec      ringbuf.Record
	stopOnce sync.Once
}

type sharedMaps struct {
	SyscallKinds   *ebpf.Map `ebpf:"syscall_kinds"`
	Pending        *ebpf.Map `ebpf:"pending"`
	Inflight       *ebpf.Map `ebpf:"inflight"`
	Events         *ebpf.Map `ebpf:"events"`
	Scratch        *ebpf.Map `ebpf:"scratch"`
	Settings       *ebpf.Map `ebpf:"settings"`
	ExcludedComms  *ebpf.Map `ebpf:"excluded_comms"`
	ExcludedUIDs   *ebpf.Map `ebpf:"excluded_uids"`
	ExcludedExes   *ebpf.Map `ebpf:"excluded_exes"`
	CompatKinds    *ebpf.Map `ebpf:"compat_kinds"`
	Lost           *ebpf.Map `ebpf:"lost"`
	Walks          *ebpf.Map `ebpf:"walks"`
	AuditedCgroups *ebpf.Map `ebpf:"audited_cgroups"`
	Coalesce       *ebpf.Map `ebpf:"coalesce"`
	CoalesceStats  *ebpf.Map `ebpf:"coalesce_stats"`
	SavedStrs      *ebpf.Map `ebpf:"saved_strs"`
	SavedScratch   *ebpf.Map `ebpf:"saved_scratch"`
	UserLinks      *ebpf.Map `ebpf:"user_links"`
	TaintFull      *ebpf.Map `ebpf:"taint_full"`
	PendingCopy    *ebpf.Map `ebpf:"pending_copy"`
}

// fields are the maps by their names in the object (the ebpf tags).
func (m *sharedMaps) fields() map[string]*ebpf.Map {
	out := map[string]*ebpf.Map{}
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		if name := v.Type().Field(i).Tag.Get("ebpf"); name != "" {
			out[name] = v.Field(i).Interface().(*ebpf.Map)
		}
	}
	return out
}

func (m *sharedMaps) replacements() map[string]*ebpf.Map { return m.fields() }

func (m *sharedMaps) close() {
	for _, x := range m.fields() {
		if x != nil {
			x.Close()
		}
	}
}

// ParseHook checks a configured hook name.
func ParseHook(s string) (string, error) {
	switch s {
	case "auto", string(ModeFentry), string(ModeKprobe), string(ModeTracepoint):
		return s, nil
	}
	return "", fmt.Errorf("unknown hook %q: want auto, fentry, kprobe or tracepoint", s)
}

// HaveBPFLoop reports whether the kernel offers bpf_loop (5.17 and later),
// which lets the path walk run 1024 steps.
func HaveBPFLoop() bool {
	return features.HaveProgramHelper(ebpf.TracePoint, asm.FnLoop) == nil
}

// loadSpec reads the named object, or when object is empty the one the
// kernel can run.
func loadSpec(object string) (*ebpf.CollectionSpec, string, error) {
	if object == "" {
		object = "compat"
		if HaveBPFLoop() {
			object = "bpf_loop"
		}
	}
	switch object {
	case "bpf_loop":
		s, err := loadFsaudit()
		return s, object, err
	case "compat":
		s, err := loadFsauditCompat()
		return s, object, err
	}
	return nil, object, fmt.Errorf("unknown BPF object %q: want bpf_loop or compat", object)
}

// ObjectHash identifies the compiled BPF objects this binary carries.
func ObjectHash() string {
	h := sha256.New()
	h.Write(_FsauditBytes)
	h.Write(_FsauditCompatBytes)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Open loads the BPF objects, writes the settings and attaches every hook
// point. A hook point that cannot attach in auto mode is left out and said
// so in Points; with a forced mode, any point that cannot attach is an error.
func Open(opts Options) (*Capture, error) {
	hook, err := ParseHook(opts.Hook)
	if err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("raising the locked-memory limit for BPF maps: %w", err)
	}
	spec, variant, err := loadSpec(opts.Object)
	if err != nil {
		return nil, fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	if opts.RingBufferBytes != 0 {
		spec.Maps["events"].MaxEntries = opts.RingBufferBytes
	}
	if opts.CoalesceEntries != 0 {
		spec.Maps["coalesce"].MaxEntries = opts.CoalesceEntries
	}
	actions, err := parseActions(opts.Actions)
	if err != nil {
		return nil, err
	}
	c := &Capture{Variant: variant, spec: spec, actions: actions}
	c.IA32 = ia32Emulation()
	if c.IA32 == nil && os.Getenv("FSAUDIT_PER_CALL_TRACEPOINTS") != "" {
		c.IA32 = errors.New("FSAUDIT_PER_CALL_TRACEPOINTS is set: the syscall point takes the per-call tracepoints, which no 32-bit call fires")
	}
	c.RawSyscalls = c.IA32 == nil
	if err := spec.LoadAndAssign(&c.maps, nil); err != nil {
		return nil, fmt.Errorf("creating BPF maps: %w", describe(err))
	}
	if opts.CoalesceWindow < 0 {
		c.Close()
		return nil, fmt.Errorf("coalescing window %s is negative", opts.CoalesceWindow)
	}
	if opts.CoalesceWindow > 0 && actions.has(OpWrite) {
		c.CloseHook, c.Coalescing = c.startCoalescing(opts.CoalesceWindow, opts.OnSweepError)
		if c.Coalescing != nil {
			opts.CoalesceWindow = 0
		}
	} else {
		opts.CoalesceWindow = 0
	}
	if err := c.configure(opts); err != nil {
		c.Close()
		return nil, err
	}
	// Syscall tracepoints, which every mode uses for some hook points, are
	// found through tracefs; mount it when the host has not.
	if err := ensureTracefs(); err != nil && Mode(hook) == ModeTracepoint {
		c.Close()
		return nil, err
	}
	attached := 0
	syscallsMode := Mode("")
	for _, pt := range points {
		if !pt.serves(c.actions) {
			continue
		}
		st := PointStatus{Point: pt.name}
		if pt.vfs && syscallsMode == "" {
			// Their events wait for the syscall point's exit program.
			if ms := pt.modes(hook); len(ms) > 0 {
				st.Attempts = append(st.Attempts, Attempt{Mode: ms[0], Err: errNeedsSyscalls})
			}
			c.Points = append(c.Points, st)
			continue
		}
		for _, m := range pt.modes(hook) {
			links, progs, err := c.attach(pt, m)
			st.Attempts = append(st.Attempts, Attempt{Mode: m, Err: err})
			if err == nil {
				c.links = append(c.links, links...)
				c.progs = append(c.progs, progs...)
				st.Mode = m
				st.Sees = pt.sees[m]
				attached++
				if pt.name == "syscalls" {
					syscallsMode = m
				}
				break
			}
		}
		c.Points = append(c.Points, st)
		if hook != "auto" && st.Mode == "" && !pt.vfs {
			err := st.Attempts[len(st.Attempts)-1].Err
			c.Close()
			return nil, fmt.Errorf("hook %s: cannot attach %s: %w", hook, pt.name, err)
		}
	}
	if c.RawSyscalls && syscallsMode == "" {
		// The write point on tracepoints is the syscall point's entry
		// program then: without it, no write would be seen.
		for i := range c.Points {
			if st := &c.Points[i]; st.Point == "write" && st.Mode == ModeTracepoint {
				st.Mode, st.Sees = "", ""
				st.Attempts = append(st.Attempts, Attempt{Mode: ModeTracepoint, Err: errNeedsSyscalls})
				attached--
				if hook != "auto" {
					c.Close()
					return nil, fmt.Errorf("hook %s: cannot attach write: %w", hook, errNeedsSyscalls)
				}
			}
		}
	}
	if attached == 0 {
		c.Close()
		return nil, fmt.Errorf("no hook mode could attach: %s", c.failures())
	}
	if err := c.watchSyscalls(); err != nil {
		c.Close()
		return nil, err
	}
	for _, t := range lifecycle {
		p, err := c.loadProgram(t.prog)
		if err == nil {
			c.progs = append(c.progs, p)
			var ls []link.Link
			if ls, err = t.attach(p); err == nil {
				c.links = append(c.links, ls...)
				continue
			}
			err = describe(err)
		}
		c.Lifecycle = fmt.Errorf("%s: %w", t.prog, err)
		break
	}
	rd, err := ringbuf.NewReader(c.maps.Events)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("opening the ring buffer: %w", err)
	}
	c.reader = rd
	return c, nil
}

func (c *Capture) failures() string {
	var parts []string
	for _, p := range c.Points {
		for _, a := range p.Attempts {
			if a.Err != nil {
				parts = append(parts, fmt.Sprintf("%s/%s: %v", p.Point, a.Mode, a.Err))
			}
		}
	}
	return strings.Join(parts, "; ")
}

func (c *Capture) configure(opts Options) error {
	// The result events that confirm the VFS points' pending events are
	// always let through.
	if opts.AgentPID == 0 {
		tgid, err := c.selfTGID()
		if err != nil {
			return err
		}
		opts.AgentPID = tgid
	}
	c.AgentTGID = opts.AgentPID
	cfg := fsauditConfig{AgentTgid: opts.AgentPID, FmodeCreated: fmodeCreated, Actions: uint32(c.actions | 1<<OpResult),
		WindowNs: uint64(opts.CoalesceWindow), ArgsMax: uint32(min(max(opts.MaxArgsBytes, 0), MaxArgsBytes))}
	if opts.RegularOnly {
		cfg.RegularOnly = 1
	}
	for _, name := range opts.ExcludeComms {
		var key [16]byte
		if len(name) == 0 || len(name) > 15 {
			return fmt.Errorf("exclude_comms: %q is not a kernel command name (1 to 15 bytes)", name)
		}
		copy(key[:], name)
		if err := c.maps.ExcludedComms.Put(key, uint8(1)); err != nil {
			return fmt.Errorf("writing excluded comm %q: %w", name, err)
		}
		cfg.FilterComms = 1
	}
	if len(opts.ExcludeUIDs) > MaxExcludedUIDs {
		return fmt.Errorf("exclude_uids: %d users, at most %d", len(opts.ExcludeUIDs), MaxExcludedUIDs)
	}
	if len(opts.ExcludeExecutables) > MaxExcludedUIDs {
		return fmt.Errorf("exclude_executables: %d files, at most %d", len(opts.ExcludeExecutables), MaxExcludedUIDs)
	}
	for _, path := range opts.ExcludeExecutables {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			return fmt.Errorf("exclude_executables: %s: %w", path, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return fmt.Errorf("exclude_executables: %s is not a regular file", path)
		}
		key := fsauditExeKey{Ino: st.Ino, Dev: unix.Major(st.Dev)<<20 | unix.Minor(st.Dev)}
		if err := c.maps.ExcludedExes.Put(key, uint8(1)); err != nil {
			return fmt.Errorf("writing excluded executable %s: %w", path, err)
		}
		cfg.FilterExes = 1
	}
	for _, uid := range opts.ExcludeUIDs {
		if err := c.maps.ExcludedUIDs.Put(uid, uint8(1)); err != nil {
			return fmt.Errorf("writing excluded uid %d: %w", uid, err)
		}
		cfg.FilterUids = 1
	}
	if len(opts.Cgroups) > MaxCgroups {
		return fmt.Errorf("include_cgroups: %d cgroups, at most %d", len(opts.Cgroups), MaxCgroups)
	}
	for i, dir := range opts.Cgroups {
		f, err := os.Open(dir)
		if err != nil {
			return fmt.Errorf("include_cgroups: %w", err)
		}
		err = c.maps.AuditedCgroups.Put(uint32(i), uint32(f.Fd()))
		f.Close()
		if err != nil {
			return fmt.Errorf("include_cgroups: %s is not a cgroup v2 directory: %w", dir, err)
		}
	}
	cfg.Cgroups = uint8(len(opts.Cgroups))
	if err := c.maps.Settings.Put(uint32(0), cfg); err != nil {
		return fmt.Errorf("writing BPF settings: %w", err)
	}
	return nil
}

// watchSyscalls tells the syscall point which calls to keep and which
// operations to report: those audited that no VFS point attached for (the
// VFS points report theirs, io_uring's included), and io_uring_enter and
// io_submit while the write point is on a VFS hook, whose rw_verify_area
// program reports the writes made inside them. With VFS points attached,
// it attaches the programs that confirm their events (every system call's
// exit, and io_uring's completions), and tells the kernel side to confirm
// them.
func (c *Capture) watchSyscalls() error {
	writeMode := Mode("")
	syscallOps := c.actions
	vfs := false
	for _, p := range c.Points {
		if p.Point == "write" {
			writeMode = p.Mode
		}
		for _, pt := range points {
			if pt.name == p.Point && pt.vfs && p.Mode != "" {
				vfs = true
				for _, o := range pt.ops {
					syscallOps &^= 1 << o
				}
			}
		}
	}
	// The kind byte of a watched call (native or 32-bit): the operations it
	// reports are audited and no VFS point reports them; io_uring_enter and
	// io_submit while the write point is on a VFS hook, so that it knows a
	// write is an inline io_uring or AIO one.
	kindByte := func(k fsauditFsaSc) uint8 {
		watch := false
		for _, o := range kindOps[k] {
			watch = watch || syscallOps.has(o)
		}
		if k == fsauditFsaScSC_ASYNC_SUBMIT {
			watch = c.actions.has(OpWrite) && (writeMode == ModeFentry || writeMode == ModeKprobe)
		}
		v := uint8(k) | tracked(k)
		if watch {
			v |= scWatched
		}
		return v
	}
	if c.RawSyscalls {
		for nr, k := range rawKinds {
			watch := c.actions.has(OpWrite) && writeMode == ModeTracepoint
			if k == fsauditFsaScSC_CLOSE {
				watch = c.co != nil
			}
			v := uint8(k)
			if watch {
				v |= scWatched
			}
			if err := c.maps.SyscallKinds.Put(nr, v); err != nil {
				return fmt.Errorf("writing the watched syscalls: %w", err)
			}
		}
	}
	for nr, sc := range syscallKinds {
		if err := c.maps.SyscallKinds.Put(nr, kindByte(sc.kind)); err != nil {
			return fmt.Errorf("writing the watched syscalls: %w", err)
		}
	}
	// The same for the 32-bit calls, by their i386 numbers; their writes
	// only where the write point is on tracepoints (vfs_write sees them
	// otherwise).
	for nr, cc := range compatKinds {
		v := fsauditCompatKind{Kind: uint8(cc.kind) | tracked(cc.kind), Conv: cc.conv}
		if cc.conv >= cvWrite {
			if !c.actions.has(OpWrite) || writeMode != ModeTracepoint {
				v.Conv = cvSame
			}
		} else {
			v.Kind = kindByte(cc.kind)
		}
		if err := c.maps.CompatKinds.Put(nr, v); err != nil {
			return fmt.Errorf("writing the watched 32-bit syscalls: %w", err)
		}
	}
	if vfs {
		// A VFS point's event is confirmed by whichever system call made
		// it, watched or not: the syscall point's program on every call's
		// exit (any_sys_exit) does it once settings say lsm, and
		// io_uring's completions for the operations io_uring made.
		p, err := c.loadProgram("tp_io_uring_complete")
		if err == nil {
			c.progs = append(c.progs, p)
			var l link.Link
			if l, err = link.Tracepoint("io_uring", "io_uring_complete", p, nil); err == nil {
				c.links = append(c.links, l)
			}
		}
		// Without it (a kernel without io_uring), system calls still confirm.
		c.URingComplete = err
	}
	var cfg fsauditConfig
	if err := c.maps.Settings.Lookup(uint32(0), &cfg); err != nil {
		return fmt.Errorf("reading BPF settings: %w", err)
	}
	cfg.SyscallOps = uint32(syscallOps)
	cfg.Lsm = 0
	if vfs {
		cfg.Lsm = 1
	}
	if err := c.maps.Settings.Put(uint32(0), cfg); err != nil {
		return fmt.Errorf("writing BPF settings: %w", err)
	}
	return nil
}

// scWatched marks a syscall whose entry and exit the syscall point keeps;
// scTrack one whose entry the syscall point notes, watched or not
// (FSA_SC_TRACK: the users who make hard links), for what a path string
// cannot tell.
const (
	scWatched = 0x80
	scTrack   = 0x40
)

// tracked is scTrack for the calls that make hard links.
func tracked(k fsauditFsaSc) uint8 {
	switch k {
	case fsauditFsaScSC_LINK, fsauditFsaScSC_LINKAT:
		return scTrack
	}
	return 0
}

// attach loads the programs of one point in one mode and attaches them all,
// or none.
func (c *Capture) attach(pt point, m Mode) ([]link.Link, []*ebpf.Program, error) {
	if err := modeSupported(m); err != nil {
		return nil, nil, err
	}
	var links []link.Link
	var progs []*ebpf.Program
	ts := pt.targets[m]
	if m == ModeTracepoint && pt.raw != nil && c.RawSyscalls {
		ts = pt.raw
	}
	for _, t := range ts {
		if t.missing() {
			continue
		}
		p, err := c.loadProgram(t.prog)
		if err == nil {
			progs = append(progs, p)
			var ls []link.Link
			ls, err = t.attach(p)
			if err != nil {
				err = fmt.Errorf("attaching %s: %w", t.prog, describe(err))
			} else {
				links = append(links, ls...)
			}
		}
		if err != nil {
			release(links, progs)
			return nil, nil, err
		}
	}
	return links, progs, nil
}

// closeLinks detaches links, all at once. Each perf event on a tracepoint
// waits for an RCU grace period as it goes, under a kernel-wide lock: the
// ninety or so of tracepoint mode take seconds (six one after the other,
// three together). Stop and Probe do not wait for it: their programs are
// told to do nothing first (settings.stopped).
func closeLinks(links []link.Link) error {
	errs := make([]error, len(links))
	var wg sync.WaitGroup
	for i, l := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.Close()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func release(links []link.Link, progs []*ebpf.Program) {
	closeLinks(links)
	for _, p := range progs {
		p.Close()
	}
}

// Probe tries every hook point in every mode, detaching each at once, and
// says what worked. It needs the same privileges as Open.
func Probe() (variant string, st []PointStatus, err error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return "", nil, fmt.Errorf("raising the locked-memory limit for BPF maps: %w", err)
	}
	spec, variant, err := loadSpec("")
	if err != nil {
		return "", nil, fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	c := &Capture{Variant: variant, spec: spec}
	if err := spec.LoadAndAssign(&c.maps, nil); err != nil {
		return variant, nil, fmt.Errorf("creating BPF maps: %w", describe(err))
	}
	defer c.maps.close()
	// The programs are attached only to see that they can be: they do nothing.
	if err := c.setStopped(); err != nil {
		return variant, nil, err
	}
	tracefsErr := ensureTracefs()
	for _, pt := range points {
		ps := PointStatus{Point: pt.name}
		for _, m := range pt.modes("auto") {
			var err error
			if m == ModeTracepoint && tracefsErr != nil {
				err = tracefsErr
			} else {
				var links []link.Link
				var progs []*ebpf.Program
				links, progs, err = c.attach(pt, m)
				go closeLinks(links)
				release(nil, progs)
			}
			ps.Attempts = append(ps.Attempts, Attempt{Mode: m, Err: err})
			if err == nil && ps.Mode == "" {
				ps.Mode = m
				ps.Sees = pt.sees[m]
			}
		}
		st = append(st, ps)
	}
	return variant, st, nil
}

// selfTGID asks the kernel for the calling process's tgid in the initial
// pid namespace: in a pid namespace of its own (a container without the
// host's pids, unshare -p), getpid(2) says another number, and the agent
// would audit its own spool and sink writes, in a loop.
func (c *Capture) selfTGID() (uint32, error) {
	prog, err := c.loadProgram("whoami")
	if err != nil {
		return 0, err
	}
	defer prog.Close()
	tgid, err := prog.Run(&ebpf.RunOptions{Context: [1]uint64{}})
	if err != nil {
		return 0, fmt.Errorf("asking the kernel for the agent's own pid: %w", err)
	}
	if tgid == 0 {
		return 0, errors.New("asking the kernel for the agent's own pid: it answered 0")
	}
	return tgid, nil
}

func (c *Capture) loadProgram(name string) (*ebpf.Program, error) {
	_, ok := c.spec.Programs[name]
	if !ok {
		return nil, fmt.Errorf("program %s missing from the BPF object", name)
	}
	one := c.spec.Copy()
	for other := range one.Programs {
		if other != name {
			delete(one.Programs, other)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(one, ebpf.CollectionOptions{MapReplacements: c.maps.replacements()})
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", name, describe(err))
	}
	defer coll.Close()
	p := coll.DetachProgram(name)
	if p == nil {
		return nil, fmt.Errorf("loading %s: not in the collection", name)
	}
	return p, nil
}

// modeSupported names the kernel feature a mode lacks, before any load.
func modeSupported(m Mode) error {
	switch m {
	case ModeKprobe:
		if _, err := os.Stat("/sys/bus/event_source/devices/kprobe"); err != nil {
			if _, err2 := os.Stat("/sys/kernel/tracing/kprobe_events"); err2 != nil {
				return errors.New("kernel has no kprobes (CONFIG_KPROBES): no kprobe PMU and no kprobe_events")
			}
		}
	case ModeFentry:
		if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
			return errors.New("kernel has no BTF (/sys/kernel/btf/vmlinux): fentry needs CONFIG_DEBUG_INFO_BTF")
		}
	}
	return nil
}

// describe turns kernel answers into one line that names the cause.
func describe(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Errorf("verifier rejected the program: %s", verifierCause(ve.Log))
	}
	switch {
	case errors.Is(err, unix.EPERM):
		// Not the wrapped text: it guesses at MEMLOCK, which is raised already.
		return fmt.Errorf("kernel refused it (%w): missing CAP_BPF/CAP_SYS_ADMIN, lockdown, or no BPF trampoline support", unix.EPERM)
	case errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("kernel does not support it: %w", err)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("kernel symbol or tracepoint not found: %w", err)
	}
	return err
}

// verifierCause picks the line of a verifier log that says why: the last
// one that is not a statistics line.
func verifierCause(log []string) string {
	for i := len(log) - 1; i >= 0; i-- {
		l := strings.TrimSpace(log[i])
		if l == "" || strings.HasPrefix(l, "processed ") || strings.HasPrefix(l, "verification time") ||
			strings.HasPrefix(l, "stack depth") || strings.HasPrefix(l, "(") {
			continue
		}
		if strings.Contains(l, "unknown#195896080") { // 0xbad2310: libbpf's poison for a failed relocation
			return l + " (a CO-RE relocation found no match in this kernel's BTF)"
		}
		return l
	}
	return "(empty log)"
}

// ensureTracefs mounts tracefs on /sys/kernel/tracing when no tracefs is
// reachable, since syscall tracepoints are named through it.
func ensureTracefs() error {
	for _, dir := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		if _, err := os.Stat(dir + "/events"); err == nil {
			return nil
		}
	}
	if err := unix.Mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		return fmt.Errorf("mounting tracefs on /sys/kernel/tracing for syscall tracepoints: %w", err)
	}
	return nil
}

// kernelHas says whether the kernel has function fn, from its BTF.
func kernelHas(fn string) bool {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return true // let the attach say what is missing
	}
	var f *btf.Func
	return spec.TypeByName(fn, &f) == nil
}

// errNeedsSyscalls: a VFS point's events are confirmed by the syscall
// point's exit program, and the tracepoint mode's writes are its entry
// program's where it runs at every call, and it did not attach.
var errNeedsSyscalls = errors.New("needs the syscall point, whose programs confirm its events or see its calls, and that did not attach")

// pollEvery bounds how long an event can sit in the ring buffer unread.
const pollEvery = 10 * time.Millisecond

// ErrStopped is returned by Read once Stop was called and every event that
// was in the ring buffer has been read.
var ErrStopped = errors.New("capture stopped")

// Read blocks for the next event and decodes it into e. The slices in e
// stay valid until the next call.
func (c *Capture) Read(e *Event) error {
	for {
		// The kernel side wakes the reader only when much is waiting, so
		// poll on a short deadline too: a lone event waits at most pollEvery.
		c.reader.SetDeadline(time.Now().Add(pollEvery))
		err := c.reader.ReadInto(&c.rec)
		switch {
		case err == nil:
			return decode(c.rec.RawSample, &c.raw, e)
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case errors.Is(err, ringbuf.ErrFlushed), errors.Is(err, ringbuf.ErrClosed):
			return ErrStopped
		default:
			return fmt.Errorf("reading the ring buffer: %w", err)
		}
	}
}

// Stop detaches every hook, so no new event starts, and makes Read return
// what the ring buffer still holds, then ErrStopped.
func (c *Capture) Stop() error {
	var err error
	c.stopOnce.Do(func() {
		links := c.links
		c.links = nil
		if derr := c.disable(); derr != nil {
			// Detaching waits for the programs that run.
			err = closeLinks(links)
		} else {
			go closeLinks(links)
		}
		if c.co != nil {
			// No write can merge any more: report what the map holds.
			err = errors.Join(err, c.co.finish())
		}
		if c.reader != nil {
			err = errors.Join(err, c.reader.Flush())
		}
	})
	return err
}

// disable tells every program to do nothing from now on and returns once
// none still runs from before: an RCU grace period, which every BPF program
// run lies within (membarrier(MEMBARRIER_CMD_GLOBAL) waits for one when
// more than one CPU is online). With one CPU to run on it says so: a
// program preempted on that CPU could still be running.
func (c *Capture) disable() error {
	if err := c.setStopped(); err != nil {
		return err
	}
	if runtime.NumCPU() < 2 {
		return errors.New("one CPU: no grace period to wait for")
	}
	const membarrierCmdGlobal = 1
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, membarrierCmdGlobal, 0, 0); errno != 0 {
		return fmt.Errorf("membarrier: %w", errno)
	}
	return nil
}

// setStopped sets settings.stopped: admit nothing.
func (c *Capture) setStopped() error {
	var cfg fsauditConfig
	if err := c.maps.Settings.Lookup(uint32(0), &cfg); err != nil {
		return fmt.Errorf("reading BPF settings: %w", err)
	}
	cfg.Stopped = 1
	if err := c.maps.Settings.Put(uint32(0), cfg); err != nil {
		return fmt.Errorf("writing BPF settings: %w", err)
	}
	return nil
}

// fmodeCreated is the kernel's FMODE_CREATED, the f_mode bit an open sets
// when it made the file; the same in every kernel since 4.19.
const fmodeCreated = 0x100000

// MaxCgroups is how many cgroups Options.Cgroups may name.
const MaxCgroups = 16

// MaxExcludedUIDs is how many users Options.ExcludeUIDs may name.
const MaxExcludedUIDs = 256

// Lost sums, over all CPUs, the write events the ring buffer had no room
// for: events that would have made records.
func (c *Capture) Lost() (uint64, error) { return c.lost(0) }

// LifecycleLost is the same for exec and exit events, which only inform
// enrichment: without them a process is named from /proc, if it still runs.
func (c *Capture) LifecycleLost() (uint64, error) { return c.lost(1) }

func (c *Capture) lost(slot uint32) (uint64, error) {
	return sumPerCPU(c.maps.Lost, slot, "the lost-event counter")
}

// sumPerCPU adds up one slot of a per-CPU array of counters.
func sumPerCPU(m *ebpf.Map, slot uint32, what string) (uint64, error) {
	var per []uint64
	if err := m.Lookup(slot, &per); err != nil {
		return 0, fmt.Errorf("reading %s: %w", what, err)
	}
	var sum uint64
	for _, n := range per {
		sum += n
	}
	return sum, nil
}

// Close detaches and frees everything. Call it after Read returned.
func (c *Capture) Close() error {
	err := c.Stop()
	if c.reader != nil {
		err = errors.Join(err, c.reader.Close())
	}
	for _, p := range c.progs {
		p.Close()
	}
	c.progs = nil
	if c.co != nil {
		c.co.close()
	}
	c.maps.close()
	return err
}
