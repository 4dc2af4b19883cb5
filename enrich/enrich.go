package enrich

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/filter"
	"github.com/fsaudit/fsaudit/record"
	"golang.org/x/sys/unix"
)

// Enricher turns kernel events into records.
type Enricher struct {
	host    record.Host
	agent   record.Agent
	run     [8]byte // the run's id, which begins every event id
	roots   *Roots
	cgroups *Cgroups
	procs   *Processes
	meta    *Metadata
	clock   Clock
	mntNS   uint32 // the agent's mount namespace
	hostNS  uint32 // the host's (its init's), whose mounts only root changes
	mounts  *hostMounts
	// resolver follows symbolic links in paths named by a string, as the
	// agent sees them, refusing any way through /proc (which would be the
	// agent's own); magicResolver follows /proc's links of the writer's
	// process, rewritten to its pid.
	resolver, magicResolver *resolver
	// Caches of Fill's strings; Fill is called from one goroutine.
	paths pathCache
	comms stringCache
}

// Options configure an Enricher.
type Options struct {
	HostName string // empty: the kernel's host name
	Root     string // the host's file system, whose /etc/passwd and /etc/group name host ids; empty: "/"
	// Metadata names containers, images and pods; nil leaves those out.
	Metadata *Metadata
	// MaxArgsBytes bounds the arguments read from /proc for processes
	// that started before the agent, as the kernel bounds an exec event's
	// (bpf.Options.MaxArgsBytes); 0: bpf.MaxArgsBytes.
	MaxArgsBytes int
	// Version is the agent's (agent.version).
	Version string
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
	side := newBeside(besideWait, besideBudget, besideSlots)
	if o.Metadata != nil {
		o.Metadata.beside = side
	}
	roots, err := NewRoots(root, side)
	if err != nil {
		return nil, err
	}
	cgroups, err := NewCgroups("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var ns unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &ns); err != nil {
		return nil, fmt.Errorf("reading the agent's mount namespace: %w", err)
	}
	machine := machineID(root)
	host := record.Host{Name: name, ID: appID(machine, "fsaudit host id"), BootID: strings.TrimSpace(string(boot))}
	agent, run, err := newAgent(o.Version, machine)
	if err != nil {
		return nil, err
	}
	return &Enricher{
		host:    host,
		agent:   agent,
		run:     run,
		roots:   roots,
		cgroups: cgroups,
		procs:   newProcesses(1<<16, side, o.MaxArgsBytes),
		meta:    o.Metadata,
		mntNS:   uint32(ns.Ino),
		mounts:  newHostMounts(hostMountinfo()),
		hostNS:  hostMountNS(uint32(ns.Ino)),
		// A second: far beyond any local lookup, even on a loaded or
		// emulated machine, and still short for a mount that hangs.
		resolver:      newResolver(evalOutsideProc, 4, time.Second),
		magicResolver: newResolver(filepath.EvalSymlinks, 4, time.Second),
	}, nil
}

// walked is one of an event's paths as the kernel side sent it; primary:
// the file the call changes (not a rename's new name or a link's target).
type walked struct {
	components []byte
	flags      bpf.Flags
	rootOff    int
	mount      bpf.MountView
	primary    bool
}

// mountViews finishes a path's host view (host, so far) from what the
// kernel side says of the mounts it went through, and marks p unresolved
// when it may name the file other than the host does.
func (x *Enricher) mountViews(ev *bpf.Event, w walked, p *Path, host string) string {
	if view, lost := x.mountView(ev, w.components, w.flags, w.rootOff, w.mount, p.Full, host); lost {
		p.Unresolved = true
	} else if view != "" {
		host = view
	}
	host = x.givenHostView(ev, w.flags, *p, host)
	p.Unresolved = p.Unresolved || tainted(ev, w.flags, w.primary)
	return host
}

// hardLinks is the file's count of hard links when it has other names: 0
// for one link, an unknown inode, and a directory, whose links are its
// subdirectories' "..", not other names.
func hardLinks(ev *bpf.Event) uint32 {
	if ev.Links < 2 || ev.Flags&bpf.FlagNoInode != 0 || ev.Mode&unix.S_IFMT == unix.S_IFDIR {
		return 0
	}
	return ev.Links
}

// tainted says whether a path (flags: its walk's) may name its file other
// than the host does, by what the kernel side says: a name unlinked while
// the file keeps other links, for a change to the file's content or
// attributes (primary); for a path named by a string, a mount namespace
// whose mounts a user may have changed (a bind mount of an audited
// directory, which no string's walk sees), a string read after the call
// began, or, for such a change, a writer whose user made hard links. Such a
// path is unresolved: every filter keeps it.
func tainted(ev *bpf.Event, flags bpf.Flags, primary bool) bool {
	change := primary && filter.LinkedChange(ev.Op.String(), 2)
	if change && ev.Taint&bpf.TaintStale != 0 {
		return true
	}
	if flags&bpf.FlagGiven == 0 {
		return false
	}
	if ev.Taint&(bpf.TaintMounts|bpf.TaintLate) != 0 {
		return true
	}
	return change && ev.Taint&bpf.TaintLinks != 0
}

// hostMountNS is the host's mount namespace: its init's, else the agent's.
func hostMountNS(agent uint32) uint32 {
	var st unix.Stat_t
	if unix.Stat("/proc/1/ns/mnt", &st) != nil {
		return agent
	}
	return uint32(st.Ino)
}

// givenHostView is the host's view of a path named by a string that a
// writer of the host's mount namespace gave, when the string went through
// a bind mount of a directory (which only root makes there): the kernel
// walked none of its mounts. host is the view so far.
func (x *Enricher) givenHostView(ev *bpf.Event, flags bpf.Flags, p Path, host string) string {
	if flags&bpf.FlagGiven == 0 || p.Truncated || p.Unresolved || ev.MntNS != x.hostNS {
		return host
	}
	view := host
	if view == "" {
		view = p.Full
	}
	if c := x.mounts.canonical(view); c != "" && c != p.Full {
		return c
	}
	return host
}

// hostMountinfo is the host's mount table: its init's, which a container
// started with the host's PID namespace sees, else the agent's own.
func hostMountinfo() string {
	if f, err := os.Open("/proc/1/mountinfo"); err == nil {
		f.Close()
		return "/proc/1/mountinfo"
	}
	return "/proc/self/mountinfo"
}

// Host is the identity every record carries.
func (x *Enricher) Host() record.Host { return x.host }

// Agent names this agent, for every record (agent.*).
func (x *Enricher) Agent() record.Agent { return x.agent }

// RunID is the id drawn for this run of the agent: agent.ephemeral_id,
// and the first half of every event id.
func (x *Enricher) RunID() [8]byte { return x.run }

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

// filterPath is p as the path filter sees it.
func filterPath(p Path) filter.Path {
	return filter.Path{Full: p.Full, Truncated: p.Truncated, Unresolved: p.Unresolved}
}

// Fill writes everything the event tells into r (all but event.id and
// event.sequence, which belong to the pipeline) and returns its paths. It
// is not safe for concurrent use.
func (x *Enricher) Fill(ev *bpf.Event, r *record.Record) filter.Paths {
	p, hostPath := x.paths.views(ev)
	p = x.resolveGiven(ev, p, ev.Flags)
	names, namesPending := x.roots.For(ev.RootDev, ev.RootIno, ev.PID, rootHostDir(p, hostPath))
	hostPath = names.hostView(p, hostPath)
	hostPath = x.mountViews(ev, walked{ev.Components, ev.Flags, ev.RootOff, ev.Mount, true}, &p, hostPath)
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
		Process: record.Process{PID: ev.PID, TID: ev.TID, PPID: ev.PPID, EntityID: entityID(x.host.BootID, ev.PID, ev.StartTime), Name: x.comms.intern(ev.Comm)},
		User: record.User{
			ID: ev.UID, Name: names.user(ev.UID),
			EffectiveID: ev.EUID, EffectiveName: names.user(ev.EUID),
			GroupID: ev.GID, GroupName: names.group(ev.GID),
		},
		Host:    x.host,
		Agent:   x.agent,
		Created: time.Now(),
		FSAudit: record.FSAudit{
			Hook:           string(ev.Hook),
			HostPath:       hostPath,
			PathTruncated:  p.Truncated,
			PathUnresolved: p.Unresolved,
			Deleted:        ev.Flags&bpf.FlagDeleted != 0,
		},
	}
	r.FSAudit.Links = hardLinks(ev)
	paths := filter.Paths{Own: filterPath(p), OwnHost: hostPath, Linked: filter.LinkedChange(r.Action, r.FSAudit.Links)}
	if ev.Flags&bpf.FlagNoInode != 0 {
		r.File.Inode, r.File.DevMajor, r.File.DevMinor = 0, 0, 0
	}
	x.fillAction(ev, r, names, &paths)
	pr, procPending := x.procs.Lookup(ev.PID, ev.StartTime)
	if pr != nil {
		r.Process.Executable = pr.Executable
		r.Process.Args = pr.Args
		r.FSAudit.ArgsTruncated = pr.ArgsTruncated
	}
	var pending incomplete
	if namesPending {
		pending |= pendingNames
	}
	if procPending {
		pending |= pendingProcess
	}
	if ev.LoginUID != bpf.UnsetLoginUID {
		// The login uid is set when someone logs in to the host: the host names it.
		r.User.HasAudit = true
		r.User.AuditID = ev.LoginUID
		r.User.AuditName = x.roots.Host().user(ev.LoginUID)
	}
	if c, ok := x.cgroups.Container(ev.CgroupID); ok {
		m, found, metaPending := x.meta.lookup(c)
		if metaPending {
			pending |= pendingContainer
		}
		// A cgroup a user made is a container only once a runtime
		// confirms its id: anyone may name a cgroup docker-<id>.scope.
		if !c.UserMade || found {
			r.Container = record.Container{ID: c.ID, Runtime: c.Runtime}
			r.Orchestrator = record.Orchestrator{ResourceID: c.PodUID}
			if found {
				fillMeta(r, m)
			}
		}
	}
	r.FSAudit.Incomplete = incompleteSets[pending]
	return paths
}

// writeVia names the call behind a write that write(2) did not make.
var writeVia = map[uint32]string{bpf.WriteSendfile: "sendfile", bpf.WriteSplice: "splice", bpf.WriteCopyRange: "copy_file_range",
	bpf.WriteFallocate: "fallocate", bpf.WriteClone: "clone"}

// incomplete says which lookups were not done when a record left.
type incomplete uint8

const (
	pendingNames     incomplete = 1 << iota // the writer's passwd and group
	pendingProcess                          // the executable and arguments, from /proc
	pendingContainer                        // the container's runtime metadata
)

// incompleteSets are fsaudit.incomplete for each set of pending lookups,
// made once and shared by the records, which never change them.
var incompleteSets = func() (sets [8][]string) {
	for i := range sets {
		for bit, name := range []string{"user_names", "process", "container"} {
			if i&(1<<bit) != 0 {
				sets[i] = append(sets[i], name)
			}
		}
	}
	return sets
}()

// rootHostDir is where the writer's root lies in the host's view, from a
// path in both views: the host's path less the writer's. "" when the
// views are the same or do not tell.
func rootHostDir(p Path, host string) string {
	if host == "" || p.Truncated || len(p.Full) < 2 || !strings.HasSuffix(host, p.Full) {
		return ""
	}
	return host[:len(host)-len(p.Full)]
}

// fillAction writes what is particular to the event's operation.
func (x *Enricher) fillAction(ev *bpf.Event, r *record.Record, names *Names, paths *filter.Paths) {
	f, a := &r.File, &r.FSAudit
	known := ev.Flags&bpf.FlagNoInode == 0
	switch ev.Op {
	case bpf.OpWrite:
		a.Bytes, a.Writes, a.Offset = ev.Bytes, 1, ev.Offset
		a.Via = writeVia[ev.Sub]
	case bpf.OpUtimes:
		// A time set to the call's moment is the event's time.
		atime, mtime := ev.Times()
		if ev.Sub&bpf.UtimeAtimeOmit == 0 {
			f.Accessed = r.Time
			if ev.Sub&bpf.UtimeAtimeNow == 0 {
				f.Accessed = time.Unix(0, atime).UTC()
			}
		}
		if ev.Sub&bpf.UtimeMtimeOmit == 0 {
			f.Mtime = r.Time
			if ev.Sub&bpf.UtimeMtimeNow == 0 {
				f.Mtime = time.Unix(0, mtime).UTC()
			}
		}
	case bpf.OpMmapWrite:
		a.Bytes, a.Offset = ev.Bytes, ev.Offset
	case bpf.OpCreate:
		a.Via = map[uint32]string{bpf.CreateOpen: "open", bpf.CreateMknod: "mknod", bpf.CreateMkdir: "mkdir",
			bpf.CreateLink: "link", bpf.CreateSymlink: "symlink"}[ev.Sub]
		if !known {
			f.Mode = ev.NewMode
		}
		if ev.Sub == bpf.CreateSymlink {
			f.TargetPath = RawTarget(ev)
		}
	case bpf.OpTruncate:
		f.HasSize, f.Size = true, ev.NewSize()
	case bpf.OpDelete:
		a.Via = "unlink"
		if ev.Sub == bpf.DeleteDir {
			a.Via = "rmdir"
		}
	case bpf.OpChmod:
		if !known {
			f.Mode = ev.NewMode
		}
	case bpf.OpChown:
		if ev.NewUID != bpf.NoID {
			f.HasUID, f.UID, f.Owner = true, ev.NewUID, names.user(ev.NewUID)
		}
		if ev.NewGID != bpf.NoID {
			f.HasGID, f.GID, f.Group = true, ev.NewGID, names.group(ev.NewGID)
		}
	case bpf.OpXattr:
		a.XattrName = RawTarget(ev)
		a.Via = "set"
		if ev.Sub == bpf.XattrRemove {
			a.Via = "remove"
		}
	case bpf.OpRename:
		for _, fl := range []struct {
			bit  uint32
			name string
		}{{bpf.RenameNoReplace, "noreplace"}, {bpf.RenameExchange, "exchange"}, {bpf.RenameWhiteout, "whiteout"}} {
			if ev.Sub&fl.bit != 0 {
				a.RenameFlags = append(a.RenameFlags, fl.name)
			}
		}
	}
	if t, host, ok := TargetViews(ev); ok {
		t = x.resolveGiven(ev, t, ev.TargetFlags)
		f.TargetPath = t.Full
		a.TargetHostPath = names.hostView(t, host)
		a.TargetHostPath = x.mountViews(ev, walked{ev.Target, ev.TargetFlags, ev.TargetRootOff, ev.TargetMount, false}, &t, a.TargetHostPath)
		a.PathTruncated = a.PathTruncated || t.Truncated
		a.PathUnresolved = a.PathUnresolved || t.Unresolved
		paths.Target, paths.HasTarget, paths.TargetHost = filterPath(t), true, a.TargetHostPath
	}
}

// resolveGiven follows the symbolic links in a path the process named by a
// string, which the kernel side joined to its directory without following
// them. That is done here, after the fact, where it can be done right: the
// writer shares the agent's mount namespace and root, so the agent sees
// the same files. The directories are followed, ".." after a link going up
// from where the link leads, and the last component too when the call
// followed it. Anything that no longer resolves, or does not answer in
// time, stays as the process gave it (cleaned).
func (x *Enricher) resolveGiven(ev *bpf.Event, p Path, flags bpf.Flags) Path {
	if flags&bpf.FlagGiven == 0 || p.Truncated || !strings.HasPrefix(p.given, "/") || p.Full == "/" {
		return p
	}
	shared := ev.MntNS == x.mntNS && x.roots.IsSelf(ev.RootDev, ev.RootIno)
	if magic, ok := procMagic(p.given); ok {
		return x.resolveMagic(ev, p, magic, shared)
	}
	if !shared {
		return p
	}
	j := strings.LastIndexByte(p.given, '/')
	dir, leaf := p.given[:j], p.given[j+1:]
	if dir == "" {
		dir = "/"
	}
	if flags&bpf.FlagFollow != 0 || leaf == "." || leaf == ".." || leaf == "" {
		real, err := x.resolver.resolve(p.given)
		if err == nil {
			return joinGiven("/", real, false)
		}
		if errors.Is(err, errViaProc) {
			return unresolvedPath(p.given)
		}
	}
	real, err := x.resolver.resolve(dir)
	switch {
	case errors.Is(err, errViaProc):
		// A link of the writer's own (to /proc/self, /dev/fd) leads into
		// /proc: the agent would follow its own descriptors there.
		return unresolvedPath(p.given)
	case err != nil:
		return p
	}
	return joinGiven(real, leaf, false)
}

// unresolvedPath is a path string kept as the writer gave it, marked
// unresolved.
func unresolvedPath(given string) Path {
	q := joinGiven("/", given, false)
	q.Full, q.Unresolved = given, true
	return q
}

// errViaProc says a path's resolution reached /proc.
var errViaProc = errors.New("the path leads through /proc")

// evalOutsideProc follows the symbolic links of path p (absolute) as
// filepath.EvalSymlinks does, in the agent's view, but fails with
// errViaProc as soon as the walk enters /proc: there a link names the
// agent's own process, not the writer's.
func evalOutsideProc(p string) (string, error) {
	resolved := "/"
	rest := strings.Split(p, "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, c)
		if next == "/proc" || strings.HasPrefix(next, "/proc/") {
			return "", errViaProc
		}
		fi, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if links++; links > maxLinks {
			return "", unix.ELOOP
		}
		t, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(t, "/") {
			resolved = "/"
		}
		rest = append(strings.Split(t, "/"), rest...)
	}
	return resolved, nil
}

// procMagicRe matches a path through one of /proc's magic links of a
// process (its descriptors, working directory, root), which lead where the
// process's own state says, not where the string does.
var procMagicRe = regexp.MustCompile(`^(/proc/(self|thread-self|[0-9]+)(/task/[0-9]+)?/(fd/[0-9]+|cwd|root|map_files/[^/]+)|/dev/fd/[0-9]+|/dev/std(in|out|err))(/|$)`)

// procMagic reports whether a path string a process gave passes through a
// magic link of /proc, with its repeated slashes made one.
func procMagic(given string) (string, bool) {
	for strings.Contains(given, "//") {
		given = strings.ReplaceAll(given, "//", "/")
	}
	// Cleaned too, for spellings such as /proc/./self/fd/3: those are not
	// rewritten (see resolveMagic), only kept as given.
	return given, procMagicRe.MatchString(given) || procMagicRe.MatchString(path.Clean(given))
}

// resolveMagic resolves a path through a magic link of /proc as the
// writer's: /proc/self is the writer, not the agent. That is possible
// while the writer lives and shares the agent's view of the files;
// otherwise the path stays as given, marked unresolved (and so never taken
// for a path under /proc by a filter).
func (x *Enricher) resolveMagic(ev *bpf.Event, p Path, magic string, shared bool) Path {
	given := magic
	unresolved := func() Path { return unresolvedPath(given) }
	if !shared {
		return unresolved()
	}
	// Only the plain spellings are rewritten to the writer's pid; any
	// other way into /proc (through ".", a pid of another namespace) would
	// be followed as the agent's: kept as given.
	pid := fmt.Sprintf("/proc/%d/", ev.PID)
	switch {
	case strings.HasPrefix(magic, "/proc/self/"):
		magic = pid + magic[len("/proc/self/"):]
	case strings.HasPrefix(magic, "/proc/thread-self/"):
		magic = fmt.Sprintf("/proc/%d/task/%d/", ev.PID, ev.TID) + magic[len("/proc/thread-self/"):]
	case strings.HasPrefix(magic, "/dev/fd/"):
		magic = pid + "fd/" + magic[len("/dev/fd/"):]
	case strings.HasPrefix(magic, "/dev/std"):
		std := map[string]string{"in": "0", "out": "1", "err": "2"}
		name, tail, _ := strings.Cut(magic[len("/dev/std"):], "/")
		magic = pid + "fd/" + std[name] + "/" + tail
	case strings.HasPrefix(magic, pid):
	default:
		return unresolved()
	}
	j := strings.LastIndexByte(magic, '/')
	dir, leaf := magic[:j], magic[j+1:]
	if ev.Flags&bpf.FlagFollow != 0 || leaf == "" || leaf == "." || leaf == ".." {
		if real, err := x.magicResolver.resolve(magic); err == nil && !strings.HasPrefix(real, "/proc/") {
			return joinGiven("/", real, false)
		}
		return unresolved()
	}
	real, err := x.magicResolver.resolve(dir)
	if err != nil || real == "/proc" || strings.HasPrefix(real, "/proc/") {
		return unresolved()
	}
	return joinGiven(real, leaf, false)
}

// resolver runs a path resolution that may block (a FUSE or network file
// system that does not answer) without holding up the caller: at most
// slots run at once, each waited for timeout; when all are taken, or the
// wait ends, the caller goes on without.
type resolver struct {
	eval    func(string) (string, error)
	slots   chan struct{}
	timeout time.Duration
}

func newResolver(eval func(string) (string, error), slots int, timeout time.Duration) *resolver {
	return &resolver{eval: eval, slots: make(chan struct{}, slots), timeout: timeout}
}

// errResolveBusy says a resolution was not tried (every slot taken) or did
// not answer in time.
var errResolveBusy = errors.New("the resolution did not answer in time")

func (r *resolver) resolve(p string) (string, error) {
	select {
	case r.slots <- struct{}{}:
	default:
		return "", errResolveBusy
	}
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-r.slots }()
		s, err := r.eval(p)
		done <- result{s, err}
	}()
	t := time.NewTimer(r.timeout)
	defer t.Stop()
	select {
	case res := <-done:
		return res.s, res.err
	case <-t.C:
		return "", errResolveBusy
	}
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
	if now := coarseNow(); c.updated.IsZero() || now.Sub(c.updated) > time.Second {
		// A measurement that could be off by a millisecond is taken only
		// when there is none yet; the next event measures again.
		if off, uncertainty, ok := measureOffset(); ok && (uncertainty < int64(time.Millisecond) || c.updated.IsZero()) {
			c.offset = off
			c.updated = now
		}
	}
	off := c.offset
	c.mu.Unlock()
	return time.Unix(0, int64(mono)+off)
}

// offsetTries is how many readings measureOffset takes the best of.
const offsetTries = 5

// measureOffset reads realtime - monotonic: the wall clock between two
// monotonic readings, the best of a few tries (the pair closest together).
// One unbracketed pair can be milliseconds off where the reader is
// preempted between its two reads (virtual machines), enough to put a
// record's time before that of an earlier event. uncertainty is half the
// best pair's gap.
func measureOffset() (offset, uncertainty int64, ok bool) {
	best := int64(-1)
	for range offsetTries {
		var a, b unix.Timespec
		if unix.ClockGettime(unix.CLOCK_MONOTONIC, &a) != nil {
			return 0, 0, false
		}
		wall := time.Now().UnixNano()
		if unix.ClockGettime(unix.CLOCK_MONOTONIC, &b) != nil {
			return 0, 0, false
		}
		gap := b.Nano() - a.Nano()
		if best < 0 || gap < best {
			best = gap
			offset = wall - (a.Nano() + gap/2)
		}
	}
	return offset, best / 2, true
}
