// Package record owns the audit record that sinks write: its ECS-shaped
// fields and its encoders, with the escaping that keeps attacker-chosen
// strings (file names, command names) from splitting or forging a record.
package record

import (
	"slices"
	"time"
)

// SchemaVersion is the version of the record's layout, which Kafka
// messages carry in their fsaudit.schema header. 2: file.type takes ECS's
// values only (a reader of 1 refuses records without it), with ecs,
// agent and related.
const SchemaVersion = "2"

// ReadsSchema tells whether this version reads records of layout v: its
// own and the ones before it.
func ReadsSchema(v string) bool { return v == "1" || v == SchemaVersion }

// ECSVersion is the version of the Elastic Common Schema the json format
// follows, which every record names (ecs.version).
const ECSVersion = "9.4.0"

// The ECS event.module and event.dataset of every record.
const (
	ECSModule  = "fsaudit"
	ECSDataset = "fsaudit.file"
)

// Actions a record can report (event.action).
const (
	ActionWrite = "write"
	ActionLost  = "lost"
	ActionSeal  = "seal"
)

// FileActions are the event.action values of file changes, in the order
// the README and the config list them: the one list of them.
var FileActions = []string{ActionWrite, ActionCreate, ActionTruncate, ActionRename, ActionDelete, ActionChmod,
	ActionChown, ActionXattr, ActionMmapWrite, ActionUtimes}

// KnownAction tells whether a is an event.action of this version.
func KnownAction(a string) bool {
	return a == ActionLost || a == ActionSeal || slices.Contains(FileActions, a)
}

// Marker tells the records that are not file changes (lost and seal):
// they carry no file, process or user.
func Marker(action string) bool { return action == ActionLost || action == ActionSeal }

// Record is one audit record: one event, enriched.
type Record struct {
	Time time.Time
	// End is the time of the last write a coalesced record covers (Time is
	// the first's); zero for a record of one event.
	End      time.Time
	Action   string
	ID       string // event.id: unique across hosts and restarts
	Sequence uint64 // event.sequence: gap-free per agent run
	// Created is when the agent made the record (event.created).
	Created time.Time

	File         File
	Process      Process
	User         User
	Container    Container
	Orchestrator Orchestrator
	Host         Host
	Agent        Agent
	FSAudit      FSAudit
}

// Agent names the agent that made the record (ECS agent.*; its type is
// fsaudit).
type Agent struct {
	Version     string
	ID          string // stable across restarts on one host; "" when unknown
	EphemeralID string // one agent run: the first half of its event ids
}

// Container names the writer's container; empty when it runs in none.
type Container struct {
	ID        string
	Runtime   string
	Name      string
	ImageName string
}

// Orchestrator names the Kubernetes pod of the writer's container, when known.
type Orchestrator struct {
	Namespace    string
	ResourceName string
	ResourceID   string // the pod uid; the resource type is then "pod"
}

// File describes the file the event changed.
type File struct {
	Path      string // the writer's view, absolute
	Name      string
	Directory string
	Inode     uint64 // 0: unknown (a file named by a path string), and then DevMajor, DevMinor too
	DevMajor  uint32
	DevMinor  uint32
	Mode      uint32 // i_mode: type and permission bits; chmod, create: the mode set
	// TargetPath is a rename's new path, a hard link's existing file, or a
	// symbolic link's text.
	TargetPath string
	// Owner: chown's new owner. HasUID, HasGID say which ids it set.
	HasUID, HasGID bool
	UID, GID       uint32
	Owner, Group   string // names of UID and GID, when known
	// Size is a truncate's new size, when HasSize.
	HasSize bool
	Size    uint64
	// Mtime and Accessed are the modification and access times a utimes
	// set (zero: left as they were).
	Mtime, Accessed time.Time
}

// Process describes the writer.
type Process struct {
	PID  uint32
	TID  uint32
	PPID uint32
	// EntityID names the process uniquely on the host across its life:
	// the boot, its pid and its start time.
	EntityID   string
	Name       string // the kernel's comm
	Executable string
	Args       []string
}

// User holds the writer's ids; names are empty when unknown.
type User struct {
	ID, EffectiveID, GroupID       uint32
	Name, EffectiveName, GroupName string
	HasAudit                       bool // the login uid is set
	AuditID                        uint32
	AuditName                      string
}

// Host names the machine.
type Host struct {
	Name   string
	ID     string // the machine id (/etc/machine-id); "" when unknown
	BootID string
}

// FSAudit holds fsaudit's own fields.
type FSAudit struct {
	Hook string
	// Bytes, Writes and Offset describe a write (Writes calls of Bytes in
	// all, the first at Offset) or a mapping (Bytes from Offset; Writes 0).
	Bytes          uint64
	Writes         uint64
	Offset         uint64
	HostPath       string
	TargetHostPath string // the target's path in the host's view, when it differs
	PathTruncated  bool
	// PathUnresolved says a path is the string the writer gave, through a
	// magic link of /proc (/proc/self/fd/N/...) that could not be followed
	// as the writer would have.
	PathUnresolved bool
	Deleted        bool
	// Links is the file's count of hard links, when more than one: the
	// same file has other names, which may lie anywhere.
	Links uint32
	// Incomplete names what the record lacks because its lookup was not
	// done when the record left: "user_names" (the writer's passwd and
	// group files), "process" (its executable and arguments), "container"
	// (the runtime's name, image and pod of its container).
	Incomplete []string
	// Via names the call behind the action when the action alone does not
	// (create: open, mknod, mkdir, link, symlink; delete: unlink, rmdir;
	// write: sendfile, splice, copy_file_range; xattr: set, remove).
	Via         string
	XattrName   string   // xattr: the attribute's name
	RenameFlags []string // rename: noreplace, exchange, whiteout
	Lost        uint64
	// ArgsTruncated: process.args holds the start of an argv longer than
	// [agent] max_args_bytes.
	ArgsTruncated bool
	Seal          *Seal   // seal records only
	Replay        *Replay // a record sent again by fsaudit replay: where it was read
	Chain         Chain
}

// Replay marks a record that fsaudit replay read back from Kafka and sent
// again: the topic, partition and offset it came from. It is no part of
// the record's hash chain (see chain.Split), so a replayed record still
// verifies against the chain it was made in.
type Replay struct {
	Topic     string
	Partition int
	Offset    int64
}

// Seal is what a seal record says about its sink's chain (see package
// chain): why it was made, the record it covers (the one before it), and
// with a sealing key the epoch and MAC; strings in hex.
type Seal struct {
	Reason     string // start, interval, stop, rotate
	Sink       string
	Instance   string // the agent run that made it
	Sequence   uint64 // the chain sequence it covers
	Hash       string // that record's chain hash
	Epoch      uint64
	KeyID      string // "": a seal without a sealing key (a marker of the chain's structure)
	NextBefore time.Time
	MAC        string
	// Anchored marks the copy of another sink's seal that its anchor sink
	// carries (sink.RouteOptions.SealAnchor): no seal of this chain.
	Anchored bool
}

// Chain links a record to the one before it in its sink's stream:
// Hash = SHA-256 (or HMAC-SHA-256) over Prev and the record's canonical
// encoding (its json format without the chain), both in hex.
type Chain struct {
	Seq        uint64 // the record's place in its sink's chain, from 1
	Prev, Hash string
}
