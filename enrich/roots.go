package enrich

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// rootKey names a writer's root directory: its file system's device and its
// inode. A chroot or a container's overlay root has its own; a process that
// only unshared its mount namespace keeps the host's.
type rootKey struct {
	dev uint32 // kernel encoding: major << 20 | minor
	ino uint64
}

// Names are the user and group names of one root file system, and where
// that root lies in the host's view when the kernel's walk cannot tell.
type Names struct {
	Users, Groups *IDNames
	// HostPrefix is the host's path of a root that is the top of its own
	// mount namespace (a container that pivoted into it): the overlay's
	// upper directory, or the host directory a bind mount shows. Empty when
	// unknown or when the kernel's walk already reaches the host.
	HostPrefix string
}

// name returns the name of id in f, or "" when n or its file is missing.
func (n *Names) user(id uint32) string {
	if n == nil {
		return ""
	}
	return n.Users.Name(id)
}

func (n *Names) group(id uint32) string {
	if n == nil {
		return ""
	}
	return n.Groups.Name(id)
}

type rootEntry struct {
	names    *Names // nil: the root could not be opened
	fd       *os.File
	lastSeen time.Time
}

// Roots serves names from each writer's own /etc/passwd and /etc/group: a
// process in a container is named by the container's files, not the host's.
// The first event from a root opens /proc/PID/root and keeps it open, so the
// names stay readable after that process exits.
type Roots struct {
	self  rootKey
	host  *Names
	max   int
	retry time.Duration

	mu sync.Mutex
	m  map[rootKey]*rootEntry
}

// NewRoots prepares the cache; the agent's own root serves as the host's.
func NewRoots(hostRoot string) (*Roots, error) {
	self, err := selfRoot()
	if err != nil {
		return nil, err
	}
	return &Roots{
		self:  self,
		host:  &Names{Users: NewIDNames(hostRoot + "/etc/passwd"), Groups: NewIDNames(hostRoot + "/etc/group")},
		max:   4096,
		retry: 5 * time.Second,
		m:     map[rootKey]*rootEntry{},
	}, nil
}

func selfRoot() (rootKey, error) {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		return rootKey{}, fmt.Errorf("reading the agent's root: %w", err)
	}
	return rootKey{dev: unix.Major(st.Dev)<<20 | unix.Minor(st.Dev), ino: st.Ino}, nil
}

// Host names ids from the host's files (the agent's own root).
func (r *Roots) Host() *Names { return r.host }

// For returns the names of the root directory (rootDev, rootIno) that process
// pid sees, or nil when that root cannot be read (the process is gone and no
// other process of that root was seen before).
func (r *Roots) For(rootDev uint32, rootIno uint64, pid uint32) *Names {
	key := rootKey{dev: rootDev, ino: rootIno}
	if key == r.self {
		return r.host
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[key]; ok && (e.names != nil || now.Sub(e.lastSeen) < r.retry) {
		if e.names != nil {
			e.lastSeen = now
		}
		return e.names
	}
	e := &rootEntry{lastSeen: now}
	f, err := openRoot(pid, key)
	if err != nil {
		// The writer is gone (short-lived processes often are by now): any
		// live process with the same root will do, such as its container's init.
		pid, f, err = findRoot(key)
	}
	if err == nil {
		dir := fmt.Sprintf("/proc/self/fd/%d/etc/", f.Fd())
		e.fd = f
		e.names = &Names{Users: NewIDNames(dir + "passwd"), Groups: NewIDNames(dir + "group")}
		e.names.HostPrefix = hostPrefix(fmt.Sprintf("/proc/%d/mountinfo", pid), "/proc/self/mountinfo")
	}
	if old, ok := r.m[key]; ok && old.fd != nil {
		old.fd.Close()
	}
	r.m[key] = e
	r.evict()
	return e.names
}

// openRoot opens /proc/PID/root if it still is the root the event named.
func openRoot(pid uint32, key rootKey) (*os.File, error) {
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Ino != key.ino || unix.Major(st.Dev)<<20|unix.Minor(st.Dev) != key.dev {
		f.Close()
		return nil, fmt.Errorf("process %d no longer has the root it wrote from", pid)
	}
	return f, nil
}

// findRoot scans /proc for a process whose root is key. It runs once per
// unknown root and retry interval, never per event.
func findRoot(key rootKey) (uint32, *os.File, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return 0, nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, nil, err
	}
	for _, n := range names {
		pid, err := strconv.ParseUint(n, 10, 32)
		if err != nil {
			continue
		}
		if f, err := openRoot(uint32(pid), key); err == nil {
			return uint32(pid), f, nil
		}
	}
	return 0, nil, fmt.Errorf("no process has root %d:%d", key.dev, key.ino)
}

// evict drops the least recently seen roots beyond the bound.
func (r *Roots) evict() {
	for len(r.m) > r.max {
		var oldest rootKey
		var t time.Time
		for k, e := range r.m {
			if t.IsZero() || e.lastSeen.Before(t) {
				oldest, t = k, e.lastSeen
			}
		}
		if e := r.m[oldest]; e.fd != nil {
			e.fd.Close()
		}
		delete(r.m, oldest)
	}
}
