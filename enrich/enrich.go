package enrich

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/record"
	"golang.org/x/sys/unix"
)

// Enricher turns kernel events into records.
type Enricher struct {
	host    record.Host
	roots   *Roots
	cgroups *Cgroups
	procs   *Processes
	meta    *Metadata
	clock   Clock
}

// Options configure an Enricher.
type Options struct {
	HostName string // empty: the kernel's host name
	Root     string // the host's file system, whose /etc/passwd and /etc/group name host ids; empty: "/"
	// Metadata names containers, images and pods; nil leaves those out.
	Metadata *Metadata
}

// New reads the host's identity and prepares the name caches.
func New(o Options) (*Enricher, error) {
	name := o.HostName
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("reading the host name: %w", err)
		}
		name = h
	}
	root := o.Root
	if root == "" {
		root = "/"
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return nil, fmt.Errorf("reading the boot id: %w", err)
	}
	roots, err := NewRoots(strings.TrimSuffix(root, "/"))
	if err != nil {
		return nil, err
	}
	cgroups, err := NewCgroups("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return &Enricher{
		host:    record.Host{Name: name, BootID: strings.TrimSpace(string(boot))},
		roots:   roots,
		cgroups: cgroups,
		procs:   NewProcesses(1 << 16),
		meta:    o.Metadata,
	}, nil
}

// Host is the identity every record carries.
func (x *Enricher) Host() record.Host { return x.host }

// Wall converts a kernel CLOCK_MONOTONIC time to wall-clock time.
func (x *Enricher) Wall(mono uint64) time.Time { return x.clock.Wall(mono) }

// Observe takes the events that only inform enrichment (exec, exit) and
// says whether ev was one; those make no record.
func (x *Enricher) Observe(ev *bpf.Event) bool {
	if ev.Op != bpf.OpExec && ev.Op != bpf.OpExit {
		return false
	}
	x.procs.Observe(ev)
	return true
}

// Fill writes everything the event tells into r (all but event.id and
// event.sequence, which belong to the pipeline) and returns the path.
func (x *Enricher) Fill(ev *bpf.Event, r *record.Record) Path {
	p, hostPath := Views(ev)
	names := x.roots.For(ev.RootDev, ev.RootIno, ev.PID)
	if hostPath == "" && !p.Truncated && names != nil && names.HostPrefix != "" {
		// The walk ended at the writer's root, the top of its own mount
		// namespace: the host's view comes from where that root is mounted.
		hostPath = names.HostPrefix + strings.TrimSuffix(p.Full, "/")
	}
	*r = record.Record{
		Time:   x.clock.Wall(ev.KernelTime),
		Action: ev.Op.String(),
		File: record.File{
			Path:      p.Full,
			Name:      p.Name,
			Directory: p.Directory,
			Inode:     ev.Inode,
			DevMajor:  ev.DevMajor(),
			DevMinor:  ev.DevMinor(),
			Mode:      ev.Mode,
		},
		Process: record.Process{PID: ev.PID, TID: ev.TID, PPID: ev.PPID, Name: string(ev.Comm)},
		User: record.User{
			ID: ev.UID, Name: names.user(ev.UID),
			EffectiveID: ev.EUID, EffectiveName: names.user(ev.EUID),
			GroupID: ev.GID, GroupName: names.group(ev.GID),
		},
		Host: x.host,
		FSAudit: record.FSAudit{
			Hook:          string(ev.Hook),
			Bytes:         ev.Bytes,
			Writes:        1,
			Offset:        ev.Offset,
			HostPath:      hostPath,
			PathTruncated: p.Truncated,
			Deleted:       ev.Flags&bpf.FlagDeleted != 0,
		},
	}
	if pr := x.procs.Lookup(ev.PID, ev.StartTime); pr != nil {
		r.Process.Executable = pr.Executable
		r.Process.Args = pr.Args
	}
	if ev.LoginUID != bpf.UnsetLoginUID {
		// The login uid is set when someone logs in to the host: the host names it.
		r.User.HasAudit = true
		r.User.AuditID = ev.LoginUID
		r.User.AuditName = x.roots.Host().user(ev.LoginUID)
	}
	if c, ok := x.cgroups.Container(ev.CgroupID); ok {
		r.Container = record.Container{ID: c.ID, Runtime: c.Runtime}
		r.Orchestrator = record.Orchestrator{ResourceID: c.PodUID}
		if m, ok := x.meta.Lookup(c); ok {
			fillMeta(r, m)
		}
	}
	return p
}

// fillMeta adds what the runtime said to what the cgroup told.
func fillMeta(r *record.Record, m Meta) {
	if r.Container.Runtime == "cri" && m.Runtime != "" {
		r.Container.Runtime = m.Runtime
	}
	r.Container.Name = m.Name
	r.Container.ImageName = m.Image
	if r.Orchestrator.ResourceID == "" {
		r.Orchestrator.ResourceID = m.PodUID
	}
	if r.Orchestrator.ResourceID == m.PodUID || m.PodUID == "" {
		r.Orchestrator.Namespace = m.PodNamespace
		r.Orchestrator.ResourceName = m.PodName
	}
}

// Close releases the connections to the container runtimes.
func (x *Enricher) Close() error { return x.meta.Close() }

// Clock converts CLOCK_MONOTONIC readings to wall-clock time, refreshing
// the offset between the two once a second so clock steps are followed.
type Clock struct {
	mu      sync.Mutex
	offset  int64 // realtime - monotonic, ns
	updated time.Time
}

// Wall returns the wall-clock time of a CLOCK_MONOTONIC reading.
func (c *Clock) Wall(mono uint64) time.Time {
	c.mu.Lock()
	if now := time.Now(); c.updated.IsZero() || now.Sub(c.updated) > time.Second {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err == nil {
			c.offset = time.Now().UnixNano() - ts.Nano()
			c.updated = now
		}
	}
	off := c.offset
	c.mu.Unlock()
	return time.Unix(0, int64(mono)+off)
}
