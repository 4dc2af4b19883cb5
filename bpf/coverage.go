package bpf

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/fsaudit/fsaudit/record"
)

// Channel is one way a file gets changed, and which hook point sees it in
// each mode. The coverage table (`fsaudit check`, the README) is made of
// these, and the end-to-end tests run a workload for each to prove it.
type Channel struct {
	Action string // the record's event.action
	Way    string // the calls that make it
	// Points names the hook point that reports the channel when it is
	// attached in a mode; a mode missing here cannot see the channel.
	Points map[Mode]string
	// Why a mode without a point cannot see it.
	Why map[Mode]string
}

const (
	whyAsync          = "submitted without a system call per write: only a VFS hook sees it"
	whyNoHook         = "io_uring does it without a system call: only a VFS hook sees it"
	whyMprotect       = "mprotect(2) making a shared mapping writable is not watched"
	whyURingFallocate = "io_uring's fallocate makes no system call and passes no hooked VFS function"
)

var allModes = func(point string) map[Mode]string {
	return map[Mode]string{ModeFentry: point, ModeKprobe: point, ModeTracepoint: point}
}

// vfsModes: a VFS point in fentry and kprobe modes, the syscall point on
// tracepoints (and wherever the VFS point does not attach).
var vfsModes = func(point string) map[Mode]string {
	return map[Mode]string{ModeFentry: point, ModeKprobe: point, ModeTracepoint: "syscalls"}
}

// vfsOnly: a VFS point in fentry and kprobe modes; tracepoints cannot see it.
var vfsOnly = func(point string) map[Mode]string {
	return map[Mode]string{ModeFentry: point, ModeKprobe: point}
}

// Channels lists every way of changing a file the coverage table covers.
var Channels = []Channel{
	{Action: record.ActionWrite, Way: "write(2), pwrite64(2), writev(2), pwritev(2), pwritev2(2)", Points: allModes("write")},
	{Action: record.ActionWrite, Way: "write(2) through the 32-bit system call ABI (int $0x80)", Points: vfsModes("write")},
	{Action: record.ActionWrite, Way: "sendfile(2), splice(2), copy_file_range(2)", Points: allModes("syscalls")},
	{Action: record.ActionWrite, Way: "fallocate(2): a hole punched, a range collapsed, zeroed or inserted, the file grown", Points: allModes("syscalls")},
	{Action: record.ActionWrite, Way: "FICLONE, FICLONERANGE, FIDEDUPERANGE ioctls (reflinks)", Points: allModes("syscalls")},
	{Action: record.ActionWrite, Way: "io_uring fallocate", Why: map[Mode]string{ModeFentry: whyURingFallocate, ModeKprobe: whyURingFallocate, ModeTracepoint: whyURingFallocate}},
	{Action: record.ActionWrite, Way: "io_uring writes", Points: map[Mode]string{ModeFentry: "write", ModeKprobe: "write"},
		Why: map[Mode]string{ModeTracepoint: whyAsync}},
	{Action: record.ActionWrite, Way: "Linux AIO writes (io_submit(2))", Points: map[Mode]string{ModeFentry: "write", ModeKprobe: "write"},
		Why: map[Mode]string{ModeTracepoint: whyAsync}},
	{Action: record.ActionCreate, Way: "open(2), openat(2), openat2(2), creat(2) making a file", Points: vfsModes("create")},
	{Action: record.ActionCreate, Way: "mknod(2), mkdir(2), link(2), symlink(2) and their *at forms", Points: vfsModes("create")},
	{Action: record.ActionCreate, Way: "io_uring openat, mkdirat, linkat, symlinkat", Points: vfsOnly("create"), Why: map[Mode]string{ModeTracepoint: whyNoHook}},
	{Action: record.ActionTruncate, Way: "truncate(2), ftruncate(2), O_TRUNC", Points: vfsModes("truncate")},
	{Action: record.ActionRename, Way: "rename(2), renameat(2), renameat2(2) (RENAME_EXCHANGE too)", Points: vfsModes("rename")},
	{Action: record.ActionRename, Way: "io_uring renameat", Points: vfsOnly("rename"), Why: map[Mode]string{ModeTracepoint: whyNoHook}},
	{Action: record.ActionDelete, Way: "unlink(2), unlinkat(2), rmdir(2)", Points: vfsModes("delete")},
	{Action: record.ActionDelete, Way: "unlink(2), rename(2) through the 32-bit system call ABI (int $0x80)", Points: vfsModes("delete")},
	{Action: record.ActionDelete, Way: "io_uring unlinkat", Points: vfsOnly("delete"), Why: map[Mode]string{ModeTracepoint: whyNoHook}},
	{Action: record.ActionChmod, Way: "chmod(2), fchmod(2), fchmodat(2), fchmodat2(2)", Points: vfsModes("chmod")},
	{Action: record.ActionChown, Way: "chown(2), fchown(2), lchown(2), fchownat(2)", Points: vfsModes("chown")},
	{Action: record.ActionXattr, Way: "setxattr(2), removexattr(2) and their f, l and at forms", Points: allModes("syscalls")},
	{Action: record.ActionMmapWrite, Way: "mmap(2) of a file, shared and writable", Points: allModes("syscalls")},
	{Action: record.ActionUtimes, Way: "utimensat(2), futimens(3), utimes(2), futimesat(2), utime(2)", Points: allModes("syscalls")},
	{Action: record.ActionMmapWrite, Way: "mprotect(2) adding PROT_WRITE to a shared mapping", Why: map[Mode]string{ModeFentry: whyMprotect, ModeKprobe: whyMprotect, ModeTracepoint: whyMprotect}},
}

// Cell says whether the agent sees one channel with one hook setting.
type Cell struct {
	Seen bool
	By   Mode   // the mode the seeing hook point is attached in
	Why  string // when not seen
}

func (c Cell) String() string {
	if c.Seen {
		return "seen (" + string(c.By) + ")"
	}
	return "no: " + c.Why
}

// CoverageFor says what the agent sees of each channel with hook set to
// hook ("auto" or a mode), given which modes each point attaches in (from
// Probe; nil: every point attaches in every mode it has).
func CoverageFor(hook string, probed []PointStatus) []Cell {
	took := map[string]Mode{} // point -> the mode it attaches in
	whyNot := map[string]string{}
	for _, pt := range points {
		attaches := func(m Mode) error { return nil }
		if probed != nil {
			attaches = func(m Mode) error { return errors.New("not probed") }
		}
		for _, ps := range probed {
			if ps.Point != pt.name {
				continue
			}
			errs := map[Mode]error{}
			for _, a := range ps.Attempts {
				errs[a.Mode] = a.Err
			}
			attaches = func(m Mode) error {
				if err, ok := errs[m]; ok {
					return err
				}
				return fmt.Errorf("not probed")
			}
		}
		for _, m := range pt.modes(hook) {
			if err := attaches(m); err != nil {
				whyNot[pt.name] = fmt.Sprintf("%s does not attach in %s mode: %v", pt.name, m, err)
				continue
			}
			took[pt.name] = m
			break
		}
	}
	return coverage(took, whyNot)
}

// needSyscalls leaves out the VFS points when the syscall point, whose
// exit program confirms their events, is not attached.
func needSyscalls(took map[string]Mode, whyNot map[string]string) {
	if took["syscalls"] != "" {
		return
	}
	for _, pt := range points {
		if pt.vfs && took[pt.name] != "" {
			delete(took, pt.name)
			whyNot[pt.name] = pt.name + " " + errNeedsSyscalls.Error()
		}
	}
}

// CoverageOf says what the agent sees of each channel when its hook points
// took the modes in took (point name to mode; "" or missing: not attached).
func CoverageOf(took map[string]Mode) []Cell {
	return coverage(took, map[string]string{})
}

// Unseen lists the ways of changing a file the attached capture cannot see,
// each with why.
func (c *Capture) Unseen() []string {
	took := map[string]Mode{}
	whyNot := map[string]string{}
	for _, p := range c.Points {
		if p.Mode != "" {
			took[p.Point] = p.Mode
		} else if n := len(p.Attempts); n > 0 {
			whyNot[p.Point] = fmt.Sprintf("%s did not attach: %v", p.Point, p.Attempts[n-1].Err)
		}
	}
	var out []string
	for i, cell := range coverage(took, whyNot) {
		ch := Channels[i]
		if !cell.Seen && c.actions.has(actionOps[ch.Action]) {
			out = append(out, ch.Action+" by "+ch.Way+": "+cell.Why)
		}
	}
	return out
}

// PickMode is the mode a probed hook point takes with hook set to hook,
// or "" when none attaches.
func PickMode(ps PointStatus, hook string) Mode {
	for _, pt := range points {
		if pt.name != ps.Point {
			continue
		}
		for _, m := range pt.modes(hook) {
			for _, a := range ps.Attempts {
				if a.Mode == m && a.Err == nil {
					return m
				}
			}
		}
	}
	return ""
}

// VFSPoint says whether a hook point is on LSM path hooks, whose
// operations the syscall point reports when it does not attach.
func VFSPoint(point string) bool {
	for _, pt := range points {
		if pt.name == point {
			return pt.vfs
		}
	}
	return false
}

// PointSees says what a hook point sees in a mode.
func PointSees(point string, m Mode) string {
	for _, pt := range points {
		if pt.name == point {
			return pt.sees[m]
		}
	}
	return ""
}

func coverage(in map[string]Mode, whyNot map[string]string) []Cell {
	took := maps.Clone(in)
	needSyscalls(took, whyNot)
	cells := make([]Cell, len(Channels))
	for i, ch := range Channels {
		if m, ok := ch.seenIn(took); ok {
			cells[i] = Cell{Seen: true, By: m}
			continue
		}
		cells[i] = Cell{Why: ch.why(took, whyNot)}
	}
	return cells
}

// seenIn says in which mode the channel is reported when the hook points
// took the modes in took.
func (ch Channel) seenIn(took map[string]Mode) (Mode, bool) {
	for _, m := range Modes {
		if pt, ok := ch.Points[m]; ok && took[pt] == m {
			return m, true
		}
	}
	return "", false
}

// why tells why the channel is not seen: what its mode cannot see, or
// which hook point did not attach.
func (ch Channel) why(took map[string]Mode, whyNot map[string]string) string {
	effective := took["syscalls"]
	if ch.Action == "write" {
		effective = took["write"]
	} else if m, ok := took[ch.Points[ModeFentry]]; ok {
		effective = m
	}
	if why, ok := ch.Why[effective]; ok {
		return why
	}
	for _, m := range Modes {
		if why, ok := whyNot[ch.Points[m]]; ok {
			return why
		}
	}
	for _, m := range Modes {
		if why, ok := ch.Why[m]; ok {
			return why
		}
	}
	return "its hook point is not attached"
}

// CoverageTable renders the coverage of every channel, one column per hook
// setting, as a Markdown table.
func CoverageTable(columns []string, cells [][]Cell) string {
	var b strings.Builder
	b.WriteString("| action | how | " + strings.Join(columns, " | ") + " |\n")
	b.WriteString("|---|---|" + strings.Repeat("---|", len(columns)) + "\n")
	for i, ch := range Channels {
		fmt.Fprintf(&b, "| %s | %s |", ch.Action, ch.Way)
		for j := range columns {
			fmt.Fprintf(&b, " %s |", cells[j][i])
		}
		b.WriteByte('\n')
	}
	return b.String()
}
