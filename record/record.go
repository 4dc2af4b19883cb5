// Package record owns the audit record that sinks write: its ECS-shaped
// fields and its encoders, with the escaping that keeps attacker-chosen
// strings (file names, command names) from splitting or forging a record.
package record

import "time"

// Actions a record can report (event.action).
const (
	ActionWrite = "write"
	ActionLost  = "lost"
)

// Record is one audit record: one event, enriched.
type Record struct {
	Time     time.Time
	Action   string
	ID       string // event.id: unique across hosts and restarts
	Sequence uint64 // event.sequence: gap-free per agent run

	File         File
	Process      Process
	User         User
	Container    Container
	Orchestrator Orchestrator
	Host         Host
	FSAudit      FSAudit
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
	Path       string // the writer's view, absolute
	Name       string
	Directory  string
	Inode      uint64
	DevMajor   uint32
	DevMinor   uint32
	Mode       uint32 // i_mode: type and permission bits
	TargetPath string // rename: the new path
}

// Process describes the writer.
type Process struct {
	PID        uint32
	TID        uint32
	PPID       uint32
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
	BootID string
}

// FSAudit holds fsaudit's own fields.
type FSAudit struct {
	Hook          string
	Bytes         uint64
	Writes        uint64
	Offset        uint64
	HostPath      string
	PathTruncated bool
	Deleted       bool
	Lost          uint64
	Chain         Chain
}

// Chain links a record to the one before it in its sink's stream:
// Hash = SHA-256 (or HMAC-SHA-256) over Prev and the record's canonical
// encoding (its json format without the chain), both in hex.
type Chain struct {
	Prev, Hash string
}
