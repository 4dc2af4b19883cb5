package enrich

import (
	"fmt"
	"os"
	"strconv"
	"strings"
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

// hostView is the host's view of p: host when the kernel's walk gave it,
// else p below HostPrefix when the walk ended at the writer's root, the
// top of its own mount namespace; "" when that is p itself or unknown.
func (n *Names) hostView(p Path, host string) string {
	if host == "" && !p.Truncated && n != nil && n.HostPrefix != "" {
		return n.HostPrefix + strings.TrimSuffix(p.Full, "/")
	}
	return host
}

type rootEntry struct {
	names    *Names // nil: the root could not be found
	lastSeen time.Time
}

// Roots serves names from each writer's own /etc/passwd and /etc/group: a
// process in a container is named by the container's files, not the host's.
// The first event from a root finds a path to it (/proc/PID/root, or the
// host's mount of a container root) and reads the files at once, so the
// names stay known after that process exits. No file or directory of a
// container is held open: the runtime must stay free to unmount it.
type Roots struct {
	self      rootKey
	host      *Names
	mountinfo string // the host's view of the mounts (the agent's own)
	max       int
	retry     time.Duration

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
		self:      self,
		mountinfo: "/proc/self/mountinfo",
		host:      &Names{Users: NewIDNames(hostRoot + "/etc/passwd"), Groups: NewIDNames(hostRoot + "/etc/group")},
		max:       4096,
		retry:     5 * time.Second,
		m:         map[rootKey]*rootEntry{},
	}, nil
}

func selfRoot() (rootKey, error) {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		return rootKey{}, fmt.Errorf("reading the agent's root: %w", err)
	}
	return rootKey{dev: unix.Major(st.Dev)<<20 | unix.Minor(st.Dev), ino: st.Ino}, nil
}

// IsSelf says whether (rootDev, rootIno) is the agent's own root directory.
func (r *Roots) IsSelf(rootDev uint32, rootIno uint64) bool {
	return r.self == rootKey{dev: rootDev, ino: rootIno}
}

// Host names ids from the host's files (the agent's own root).
func (r *Roots) Host() *Names { return r.host }

// For returns the names of the root directory (rootDev, rootIno) that process
// pid sees, or nil when that root cannot be found (the process is gone, no
// host mount shows it, and no other process has it).
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
	// Each way to the root is tried in turn until one still leads there
	// while its files are read.
	procPrefix := func(pid uint32) func() string {
		return func() string { return hostPrefix(fmt.Sprintf("/proc/%d/mountinfo", pid), r.mountinfo) }
	}
	e.names = readRoot(fmt.Sprintf("/proc/%d/root", pid), key, procPrefix(pid))
	if e.names == nil {
		// The writer is gone (short-lived processes often are by now).
		if dir, prefix, found := findRootMount(key, r.mountinfo); found {
			e.names = readRoot(dir, key, func() string { return prefix })
		}
	}
	if e.names == nil {
		// No host mount shows the root (a chroot): any live process with
		// that root will do.
		if other, found := findRoot(key); found {
			e.names = readRoot(fmt.Sprintf("/proc/%d/root", other), key, procPrefix(other))
		}
	}
	r.m[key] = e
	r.evict()
	return e.names
}

// readRoot reads the passwd and group files of the root at dir, if dir is
// root key. The directory is held open only while they are read, so the
// root cannot change or go away in between; later the files are read again
// through dir only while it still leads to key (a pid may be reused, a
// mount point may get another mount).
func readRoot(dir string, key rootKey, prefix func() string) *Names {
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Ino != key.ino || unix.Major(st.Dev)<<20|unix.Minor(st.Dev) != key.dev {
		return nil
	}
	etc := fmt.Sprintf("/proc/self/fd/%d/etc/", f.Fd())
	passwd, _ := os.ReadFile(etc + "passwd") // a root without one names no one
	group, _ := os.ReadFile(etc + "group")
	valid := func() bool { return isRoot(dir, key) }
	return &Names{
		Users:      newRootIDNames(dir+"/etc/passwd", valid, passwd),
		Groups:     newRootIDNames(dir+"/etc/group", valid, group),
		HostPrefix: prefix(),
	}
}

// isRoot tells whether the directory at path is the root key.
func isRoot(path string, key rootKey) bool {
	var st unix.Stat_t
	return unix.Stat(path, &st) == nil && st.Ino == key.ino && unix.Major(st.Dev)<<20|unix.Minor(st.Dev) == key.dev
}

// findRootMount looks for key among the host's mounts: a mount of its
// device whose top directory is its inode. A runtime mounts each
// container's root there (its bundle's rootfs) for as long as the container
// exists. It returns that directory and the host's view of the files in it
// (an overlay's upper directory, else the mount point itself).
func findRootMount(key rootKey, mountinfo string) (dir, prefix string, found bool) {
	dev := fmt.Sprintf("%d:%d", key.dev>>20, key.dev&(1<<20-1))
	for _, m := range readMountinfo(mountinfo) {
		if m.dev != dev || !isRoot(m.mountPoint, key) {
			continue
		}
		prefix := m.mountPoint
		if m.fsType == "overlay" {
			prefix = overlayUpper(m.superOpts)
		}
		return m.mountPoint, prefix, true
	}
	return "", "", false
}

// findRoot scans /proc for a process whose root is key. It runs once per
// unknown root and retry interval, never per event.
func findRoot(key rootKey) (uint32, bool) {
	d, err := os.Open("/proc")
	if err != nil {
		return 0, false
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, false
	}
	for _, n := range names {
		pid, err := strconv.ParseUint(n, 10, 32)
		if err != nil {
			continue
		}
		if isRoot(fmt.Sprintf("/proc/%d/root", pid), key) {
			return uint32(pid), true
		}
	}
	return 0, false
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
		delete(r.m, oldest)
	}
}
