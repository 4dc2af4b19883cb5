package bpf

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
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
	maps     fsauditMaps
	links    []link.Link
	progs    []*ebpf.Program
	reader   *ringbuf.Reader
	co       *coalescer
	raw      fsauditEvent
	rec      ringbuf.Record
	stopOnce sync.Once
}

// mapsByName are the object's maps by their names (the ebpf tags of the
// generated struct, which both objects share): each program is loaded on
// its own with all of them, so an event's state written by one is seen by
// the others.
func mapsByName(m *fsauditMaps) map[string]*ebpf.Map {
	out := map[string]*ebpf.Map{}
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		if name := v.Type().Field(i).Tag.Get("ebpf"); name != "" {
			out[name] = v.Field(i).Interface().(*ebpf.Map)
		}
	}
	return out
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
		if err := c.maps.ExcludedUids.Put(uid, uint8(1)); err != nil {
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

// fmodeCreated is the kernel's FMODE_CREATED, the f_mode bit an open sets
// when it made the file; the same in every kernel since 4.19.
const fmodeCreated = 0x100000

// MaxCgroups is how many cgroups Options.Cgroups may name.
const MaxCgroups = 16

// MaxExcludedUIDs is how many users Options.ExcludeUIDs may name.
const MaxExcludedUIDs = 256
