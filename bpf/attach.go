package bpf

// Attaching: the syscall point's tables, each point in its modes, the
// probes `check` runs, and why a program did not load or attach.

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

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
	defer c.maps.Close()
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
	coll, err := ebpf.NewCollectionWithOptions(one, ebpf.CollectionOptions{MapReplacements: mapsByName(&c.maps)})
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
