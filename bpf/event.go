// Package bpf owns fsaudit's kernel side: the BPF C programs and their
// bpf2go output, probing the kernel for what each hook mode needs, attaching
// every hook point in the mode it can take, and reading the ring buffer into
// decoded Events.
package bpf

import (
	"bytes"
	"errors"
	"fmt"
	"unsafe"

	"github.com/fsaudit/fsaudit/record"
)

// Mode is how a hook point is attached to the kernel.
type Mode string

// The hook modes, most complete first.
const (
	ModeFentry     Mode = "fentry"
	ModeKprobe     Mode = "kprobe"
	ModeTracepoint Mode = "tracepoint"
)

// Modes lists the hook modes in the order auto tries them.
var Modes = []Mode{ModeFentry, ModeKprobe, ModeTracepoint}

// modeFromKernel names the hook an event came through (enum fsa_hook).
func modeFromKernel(h fsauditFsaHook) Mode {
	switch h {
	case fsauditFsaHookFSA_HOOK_FENTRY:
		return ModeFentry
	case fsauditFsaHookFSA_HOOK_KPROBE:
		return ModeKprobe
	case fsauditFsaHookFSA_HOOK_TRACEPOINT:
		return ModeTracepoint
	}
	return Mode(fmt.Sprintf("hook-%d", h))
}

// Op is the file operation an event reports: enum fsa_op of the BPF
// source, which bpf2go emits with its values.
type Op = fsauditFsaOp

// Operations the kernel side reports, as fsaudit.bpf.c defines them.
const (
	OpWrite = fsauditFsaOpFSA_OP_WRITE
	OpExec  = fsauditFsaOpFSA_OP_EXEC // a process exec'd: Components name its executable, Args its argv
	OpExit  = fsauditFsaOpFSA_OP_EXIT // a process exited
	// OpCreate made a file: Sub says how (Create*); Target names a hard
	// link's existing file or holds a symlink's text; NewMode its mode.
	OpCreate    = fsauditFsaOpFSA_OP_CREATE
	OpTruncate  = fsauditFsaOpFSA_OP_TRUNCATE   // Length is the new size
	OpRename    = fsauditFsaOpFSA_OP_RENAME     // Target is the new path; Sub holds renameat2's flags
	OpDelete    = fsauditFsaOpFSA_OP_DELETE     // Sub is DeleteDir for a directory
	OpChmod     = fsauditFsaOpFSA_OP_CHMOD      // NewMode holds the permission bits set
	OpChown     = fsauditFsaOpFSA_OP_CHOWN      // NewUID, NewGID: the owner set (NoID: unchanged)
	OpXattr     = fsauditFsaOpFSA_OP_XATTR      // Target holds the attribute's name; Sub is XattrRemove for a removal
	OpMmapWrite = fsauditFsaOpFSA_OP_MMAP_WRITE // the file was mapped shared and writable: Offset, Bytes give the range
	// OpResult says whether the thread's pending event (FlagPending)
	// happened: Result holds the return value; Inode, Dev and Mode the
	// file's as it is after the call, when it still has one, and Offset
	// its size. Sub is ResultOpen when the call was an open.
	OpResult = fsauditFsaOpFSA_OP_RESULT
	// OpUtimes set the file's times: Offset the access time, Length the
	// modification time, in ns since the epoch, unless Sub says UtimeNow
	// (the call's moment) or UtimeOmit (left as it was) for either.
	OpUtimes = fsauditFsaOpFSA_OP_UTIMES
)

// ResultOpen marks the result of an open(2) (a create that was an open).
const ResultOpen = 1

// How a file was created (Event.Sub of OpCreate); enum fsa_create.
const (
	CreateOpen    = 1
	CreateMknod   = 2
	CreateMkdir   = 3
	CreateLink    = 4
	CreateSymlink = 5
)

// Event.Sub of other operations.
const (
	DeleteDir       = 1 // OpDelete: rmdir
	XattrRemove     = 1 // OpXattr: the attribute was removed
	WriteSendfile   = 1 // OpWrite: by sendfile(2)
	WriteSplice     = 2 // OpWrite: by splice(2)
	WriteCopyRange  = 3 // OpWrite: by copy_file_range(2)
	WriteFallocate  = 4 // OpWrite: by fallocate(2) (a hole punched, a range collapsed, zeroed or inserted, the size grown)
	WriteClone      = 5 // OpWrite: by a reflink or dedupe ioctl (FICLONE, FICLONERANGE, FIDEDUPERANGE)
	UtimeAtimeNow   = 1 // OpUtimes: the access time set to the call's moment
	UtimeAtimeOmit  = 2 // OpUtimes: the access time left as it was
	UtimeMtimeNow   = 4 // OpUtimes: the modification time set to the call's moment
	UtimeMtimeOmit  = 8 // OpUtimes: the modification time left as it was
	RenameNoReplace = 1 // OpRename: RENAME_NOREPLACE
	RenameExchange  = 2 // OpRename: RENAME_EXCHANGE
	RenameWhiteout  = 4 // OpRename: RENAME_WHITEOUT
	NoID            = ^uint32(0)
)

// String names the operation as the record's event.action does.
func (o Op) String() string {
	if a, ok := opActions[o]; ok {
		return a
	}
	switch o {
	case OpExec:
		return "exec"
	case OpExit:
		return "exit"
	case OpResult:
		return "result"
	}
	return fmt.Sprintf("op-%d", uint16(o))
}

// opActions names the operations that are file changes by their records'
// event.action.
var opActions = map[Op]string{
	OpWrite: record.ActionWrite, OpCreate: record.ActionCreate, OpTruncate: record.ActionTruncate,
	OpRename: record.ActionRename, OpDelete: record.ActionDelete, OpChmod: record.ActionChmod,
	OpChown: record.ActionChown, OpXattr: record.ActionXattr, OpMmapWrite: record.ActionMmapWrite,
	OpUtimes: record.ActionUtimes,
}

// Flags qualify an event: enum fsa_flags of the BPF source, which
// bpf2go emits with its values.
type Flags = fsauditFsaFlags

// Flags set by the kernel side, as fsaudit.bpf.c defines them.
const (
	FlagTruncated   = fsauditFsaFlagsFSA_F_TRUNCATED      // the path could not be resolved whole
	FlagDeleted     = fsauditFsaFlagsFSA_F_DELETED        // the file had no links left
	FlagAppend      = fsauditFsaFlagsFSA_F_APPEND         // opened O_APPEND: Offset is the size before the write
	FlagNoOffset    = fsauditFsaFlagsFSA_F_NO_OFFSET      // the hook could not tell the offset
	FlagIovPartial  = fsauditFsaFlagsFSA_F_IOV_PARTIAL    // writev with more iovecs than summed: Bytes is a lower bound
	FlagOutsideRoot = fsauditFsaFlagsFSA_F_OUTSIDE_ROOT   // the file lies outside the writer's root directory
	FlagArgsTrunc   = fsauditFsaFlagsFSA_F_ARGS_TRUNCATED // exec: argv was longer than the event carries
	FlagPassedRoot  = fsauditFsaFlagsFSA_F_PASSED_ROOT    // the walk passed the writer's root: RootOff splits the views
	// FlagGiven: the first component is a path string as the process gave
	// it (it may hold '/', '.' and '..'), relative to the directory the
	// other components name.
	FlagGiven    = fsauditFsaFlagsFSA_F_GIVEN
	FlagRaw      = fsauditFsaFlagsFSA_F_RAW      // Target is one string, not a path
	FlagNoInode  = fsauditFsaFlagsFSA_F_NO_INODE // Inode, Dev and Mode are unknown: the file was named by a path string
	FlagExchange = fsauditFsaFlagsFSA_F_EXCHANGE // a rename that swapped two files
	FlagFollow   = fsauditFsaFlagsFSA_F_FOLLOW   // with FlagGiven: the call followed a symbolic link at the path's end
	FlagPending  = fsauditFsaFlagsFSA_F_PENDING  // seen before the change: the thread's next OpResult says whether it happened
	// FlagCoalesced: Writes writes merged in the kernel, Bytes in all, the
	// first at Offset and KernelTime, the last at EndTime. The event holds
	// no path and of the writer only PID, UID, EUID and ExecID: the
	// FlagTemplate event with the same key names them.
	FlagCoalesced = fsauditFsaFlagsFSA_F_COALESCED
	// FlagTemplate: not a record. It names the file and the writer of the
	// writes the kernel merges in one window, sent with the first of them.
	FlagTemplate = fsauditFsaFlagsFSA_F_TEMPLATE
)

// UnsetLoginUID is the kernel's login uid of a task that never logged in.
const UnsetLoginUID = ^uint32(0)

// PathMax is the longest path, in bytes, the kernel side resolves exactly.
const PathMax = 4096

// Event is one file operation as the kernel saw it.
type Event struct {
	KernelTime uint64 // CLOCK_MONOTONIC nanoseconds
	StartTime  uint64 // the process's start, CLOCK_MONOTONIC nanoseconds
	CgroupID   uint64
	Inode      uint64
	Offset     uint64
	Bytes      uint64
	RootIno    uint64 // inode of the writer's root directory
	RootDev    uint32 // kernel dev_t of the writer's root directory
	// RootOff is how many bytes of Components lie below the writer's root
	// (its own view), when FlagPassedRoot is set; the rest lead on to the
	// top of its mount namespace.
	RootOff  int
	Dev      uint32 // kernel encoding: major << 20 | minor
	MntNS    uint32
	PID      uint32
	TID      uint32
	PPID     uint32
	UID      uint32
	GID      uint32
	EUID     uint32
	EGID     uint32
	LoginUID uint32
	Mode     uint32 // i_mode: type and permission bits
	Hook     Mode
	Op       Op
	Flags    Flags
	Depth    int
	Comm     []byte // without the trailing NULs
	// Components holds the path's names leaf first, each ending in a NUL
	// byte. It aliases the reader's buffer: valid until the next Read.
	Components []byte
	// Args holds an exec's argv, each argument ending in a NUL; it aliases
	// the reader's buffer too.
	Args []byte

	// Target is a second path, leaf first as Components (a rename's new
	// name, a hard link's existing file), or with FlagRaw in TargetFlags
	// one string ending in a NUL (a symlink's text, an attribute's name).
	Target        []byte
	TargetFlags   Flags
	TargetDepth   int
	TargetRootOff int
	Sub           uint32
	NewMode       uint32
	NewUID        uint32
	NewGID        uint32
	Length        uint64
	EndTime       uint64 // FlagCoalesced: the last write's CLOCK_MONOTONIC time
	Writes        uint64 // FlagCoalesced: how many writes were merged
	ExecID        uint32 // FlagCoalesced, FlagTemplate: which exec of the process wrote
	// Generation is the inode's i_generation: file systems hand a deleted
	// file's inode number out again, and with Inode it tells the files apart.
	Generation uint32

	// Mount says through which mount the walk reached the file, for its
	// path in another mount of the same file system (a bind mount in a
	// private namespace, a container's volume); TargetMount the same for
	// the target.
	Mount       MountView
	TargetMount MountView
	// Links is the inode's link count (i_nlink) when the event has the
	// inode: more than one, and the file has other names, anywhere.
	Links uint32
	// Taint says what the event's paths cannot tell: TaintMounts,
	// TaintLinks, TaintLate, TaintStale.
	Taint uint16
}

// Taints of a path string (enum fsa_taint).
const (
	// TaintMounts: the writer's mount namespace belongs to a user
	// namespace other than the initial one, so a user (not root) may have
	// changed its mounts; a bind mount may have given an audited directory
	// the name the string spells, and no mount in a string is walked.
	TaintMounts = 1
	// TaintLinks: the writer's user made hard links; the file the string
	// names may have other names.
	TaintLinks = 2
	// TaintLate: a string or structure the call gave was not in memory at
	// its entry, and was read at its exit, when another thread may have
	// changed it.
	TaintLate = 4
	// TaintStale: the file's name (a walked one) was unlinked while the
	// file keeps other links: the name is not the file's any more.
	TaintStale = 8
)

// MountView is where a walked path entered the file's own mount.
type MountView struct {
	// Off is how many bytes of the path's components lie below that
	// mount's root; -1 when the walk crossed no mount.
	Off int
	// Alias holds, leaf first, the names of the mount's root below its
	// file system's root, when the mount shows a directory (or a file) and
	// not a whole file system: a bind mount. It aliases the reader's buffer.
	Alias []byte
	// AliasLost says that the mount shows a directory whose names did not
	// fit beside the path.
	AliasLost bool
	// Dev is that mount's file system (kernel dev_t), known even when the
	// file is not yet (a create seen before it happens).
	Dev uint32
}

// WindowKey names one coalescing window: the process, as its record names
// it, and the file.
type WindowKey struct {
	PID, UID, EUID, ExecID uint32
	Dev, Generation        uint32
	Inode                  uint64
}

// Window is the key of a FlagCoalesced or FlagTemplate event.
func (e *Event) Window() WindowKey {
	return WindowKey{PID: e.PID, UID: e.UID, EUID: e.EUID, ExecID: e.ExecID, Dev: e.Dev, Generation: e.Generation, Inode: e.Inode}
}

// The fields some operations give other meanings, by name: an event's
// raw fields hold them as the kernel side's struct does.

// Result is the return value an OpResult event carries.
func (e *Event) Result() int64 { return int64(e.Length) }

// Cookie is, on an OpResult event, the kernel time of the pending event
// it settles: a result settles only the event it was made for.
func (e *Event) Cookie() uint64 { return e.Bytes }

// NewSize is the size an OpTruncate set.
func (e *Event) NewSize() uint64 { return e.Length }

// Times are the access and modification times an OpUtimes set (ns since
// the epoch; see Sub for a time set to now or left as it was).
func (e *Event) Times() (atime, mtime int64) { return int64(e.Offset), int64(e.Length) }

// DevMajor and DevMinor split the kernel's dev_t.
func (e *Event) DevMajor() uint32 { return e.Dev >> 20 }

// DevMinor is the minor number of the file's device.
func (e *Event) DevMinor() uint32 { return e.Dev & (1<<20 - 1) }

// headerSize is the part of the kernel's event before the path bytes.
var headerSize = int(unsafe.Offsetof(fsauditEvent{}.Path))

// ErrBadSample wraps every error about a ring buffer sample that does not
// decode: the reader skips it and goes on.
var ErrBadSample = errors.New("bad ring buffer sample")

// errShortSample is returned for a ring buffer sample too short to decode.
var errShortSample = fmt.Errorf("%w: shorter than the event header", ErrBadSample)

// noMount is the kernel's FSA_NO_MOUNT: no mount crossed (mnt_off), or a
// bind mount's root whose names did not fit (alias_len).
const noMount = 0xffff

// mountView splits a walk's bytes into the path's components and the names
// of its mount's root that follow them.
func mountView(walk []byte, off, aliasLen uint16, dev uint32) ([]byte, MountView, error) {
	m := MountView{Off: -1, Dev: dev}
	switch {
	case aliasLen == noMount:
		m.AliasLost = true
	case int(aliasLen) > len(walk):
		return nil, m, fmt.Errorf("%d bytes of mount root names past the %d-byte walk", aliasLen, len(walk))
	case aliasLen > 0:
		m.Alias = walk[len(walk)-int(aliasLen):]
		walk = walk[:len(walk)-int(aliasLen)]
	}
	if off != noMount {
		if int(off) > len(walk) {
			return nil, m, fmt.Errorf("mount offset %d past the %d-byte path", off, len(walk))
		}
		m.Off = int(off)
	}
	return walk, m, nil
}

// decode fills e from one ring buffer sample. raw is scratch space reused
// between calls; e.Components and e.Comm alias it.
func decode(sample []byte, raw *fsauditEvent, e *Event) error {
	if len(sample) < headerSize {
		return fmt.Errorf("%w: %d bytes", errShortSample, len(sample))
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(raw)), unsafe.Sizeof(*raw))
	n := copy(dst, sample)
	pathLen, targetLen := int(raw.PathLen), int(raw.TargetLen)
	if headerSize+pathLen+targetLen > n || pathLen+targetLen > len(raw.Path) {
		return fmt.Errorf("%w: %d bytes hold no %d-byte path and %d-byte target", ErrBadSample, len(sample), pathLen, targetLen)
	}
	path, mount, err := mountView(raw.Path[:pathLen], raw.MntOff, raw.AliasLen, raw.MntDev)
	if err != nil {
		return fmt.Errorf("%w: path: %w", ErrBadSample, err)
	}
	*e = Event{
		KernelTime: raw.TsNs,
		StartTime:  raw.StartNs,
		CgroupID:   raw.CgroupId,
		Inode:      raw.Ino,
		Offset:     raw.Offset,
		Bytes:      raw.Bytes,
		RootIno:    raw.RootIno,
		RootDev:    raw.RootDev,
		RootOff:    int(raw.RootOff),
		Dev:        raw.Dev,
		MntNS:      raw.MntNs,
		PID:        raw.Pid,
		TID:        raw.Tid,
		PPID:       raw.Ppid,
		UID:        raw.Uid,
		GID:        raw.Gid,
		EUID:       raw.Euid,
		EGID:       raw.Egid,
		LoginUID:   raw.Loginuid,
		Mode:       raw.Mode,
		Hook:       modeFromKernel(raw.Hook),
		Op:         raw.Op,
		Flags:      raw.Flags,
		Depth:      int(raw.Depth),
		Components: path,
		Mount:      mount,

		TargetFlags:   raw.TargetFlags,
		TargetDepth:   int(raw.TargetDepth),
		TargetRootOff: int(raw.TargetRootOff),
		Sub:           raw.Sub,
		NewMode:       raw.NewMode,
		NewUID:        raw.NewUid,
		NewGID:        raw.NewGid,
		Length:        raw.Length,
		EndTime:       raw.EndNs,
		Writes:        raw.Writes,
		ExecID:        raw.ExecId,
		Generation:    raw.Generation,
		Links:         raw.Nlink,
		Taint:         raw.Taint,
	}
	e.TargetMount = MountView{Off: -1}
	if targetLen > 0 {
		target, tm, err := mountView(raw.Path[pathLen:pathLen+targetLen], raw.TargetMntOff, raw.TargetAliasLen, raw.TargetMntDev)
		if err != nil {
			return fmt.Errorf("%w: target: %w", ErrBadSample, err)
		}
		e.Target, e.TargetMount = target, tm
		if e.TargetRootOff > len(target) {
			return fmt.Errorf("%w: target root offset %d past the %d-byte target", ErrBadSample, e.TargetRootOff, len(target))
		}
	}
	if e.RootOff > len(path) {
		return fmt.Errorf("%w: root offset %d past the %d-byte path", ErrBadSample, e.RootOff, len(path))
	}
	if e.Op == OpExec {
		argsAt := int(unsafe.Offsetof(raw.Args))
		argsLen := int(raw.ArgsLen)
		if argsAt+argsLen > n || argsLen > len(raw.Args) {
			return fmt.Errorf("%w: exec sample of %d bytes holds no %d bytes of arguments", ErrBadSample, len(sample), argsLen)
		}
		e.Args = raw.Args[:argsLen]
	}
	comm := unsafe.Slice((*byte)(unsafe.Pointer(&raw.Comm[0])), len(raw.Comm))
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	e.Comm = comm
	return nil
}

// MaxArgsBytes is the most of a process's argv an exec event can carry
// (FSA_ARGS_MAX - 1).
const MaxArgsBytes = 8191
