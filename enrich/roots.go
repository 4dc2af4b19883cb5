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
	names    *Names    // nil: not found (yet)
	busy     bool      // a lookup runs
	lastSeen time.Time // last asked for
	tried    time.Time // last lookup started
}

// Roots serves names from each writer's own /etc/passwd and /etc/group: a
// process in a container is named by the container's files, not the host's.
// The first event from a root starts a lookup of a way to it
// (/proc/PID/root, the host's view of it from the kernel's walk, the host's
// mount of a container root, another process with that root), which reads
// the files at once, so the names stay known after that process exits.
// Lookups run beside the event path (see beside.go): an event whose root is
// still being looked up is told so, and goes on without names. No file or
// directory of a container is held open: the runtime must stay free to
// unmount it.
type Roots struct {
	self      rootKey
	host      *Names
	mountinfo string // the host's view of the mounts (the agent's own)
	max       int
	retry     time.Duration
	beside    *beside

	mu sync.Mutex
	m  map[rootKey]*rootEntry
}

// NewRoots prepares the cache and reads the host's names (the agent's own
// root, at hostRoot) at once.
func NewRoots(hostRoot string, b *beside) (*Roots, error) {
	self, err := selfRoot()
	if err != nil {
		return nil, err
	}
	if hostRoot == "" {
		hostRoot = "/"
	}
	r := &Roots{
		self:      self,
		mountinfo: "/proc/self/mountinfo",
		max:       4096,
		retry:     5 * time.Second,
		beside:    b,
		m:         map[rootKey]*rootEntry{},
	}
	key, err := dirRootKey(hostRoot)
	if err != nil {
		return nil, fmt.Errorf("reading the host's root %s: %w", hostRoot, err)
	}
	r.host = readRoot(hostRoot, key, b, func() string { return "" })
	if r.host == nil {
		return nil, fmt.Errorf("reading the host's root %s: it changed while read", hostRoot)
	}
	return r, nil
}

func selfRoot() (rootKey, error) {
	k, err := dirRootKey("/")
	if err != nil {
		return rootKey{}, fmt.Errorf("reading the agent's root: %w", err)
	}
	return k, nil
}

func dirRootKey(dir string) (rootKey, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return rootKey{}, err
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
// host mount shows it, and no other process has it) or is still being
// looked up: pending says which. hostDir, when not empty, is where the
// kernel's walk says the root lies in the host's view.
func (r *Roots) For(rootDev uint32, rootIno uint64, pid uint32, hostDir string) (names *Names, pending bool) {
	key := rootKey{dev: rootDev, ino: rootIno}
	if key == r.self {
		return r.host, false
	}
	now := time.Now()
	r.mu.Lock()
	e := r.m[key]
	if e != nil {
		e.lastSeen = now
		if e.names != nil || e.busy || now.Sub(e.tried) < r.retry {
			names, busy := e.names, e.busy // read under the lock: the lookup writes them
			r.mu.Unlock()
			return names, busy
		}
	} else {
		e = &rootEntry{lastSeen: now}
		r.m[key] = e
		r.evict()
	}
	e.busy, e.tried = true, now
	r.mu.Unlock()
	l, _ := r.beside.run(func() {
		n := r.find(key, pid, hostDir)
		r.mu.Lock()
		e.names, e.busy = n, false
		r.mu.Unlock()
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if l == nil {
		// Every lookup slot is taken: the next event tries again.
		e.busy, e.tried = false, time.Time{}
		return nil, true
	}
	return e.names, e.busy
}

// find tries each way to the root in turn until one still leads there
// while its files are read. It runs beside the event path.
func (r *Roots) find(key rootKey, pid uint32, hostDir string) *Names {
	procPrefix := func(pid uint32) func() string {
		return func() string { return hostPrefix(fmt.Sprintf("/proc/%d/mountinfo", pid), r.mountinfo) }
	}
	if n := readRoot(fmt.Sprintf("/proc/%d/root", pid), key, r.beside, procPrefix(pid)); n != nil {
		return n
	}
	// The writer is gone (short-lived processes often are by now). The
	// kernel's walk passed its root on the way to the host's: that path,
	// in the agent's view, if it still leads to the same directory.
	if hostDir != "" {
		if n := readRoot(hostDir, key, r.beside, func() string { return "" }); n != nil {
			return n
		}
	}
	if dir, prefix, found := findRootMount(key, r.mountinfo); found {
		if n := readRoot(dir, key, r.beside, func() string { return prefix }); n != nil {
			return n
		}
	}
	// No host mount shows the root (a chroot): any live process with
	// that root will do.
	if other, found := findRoot(key); found {
		return readRoot(fmt.Sprintf("/proc/%d/root", other), key, r.beside, procPrefix(other))
	}
	return nil
}

// readRoot reads the passwd and group files of the root at dir, if dir is
// root key, resolving them inside that root (see rootfs.go). The directory
// is held open only while they are read, so the root cannot change or go
// away in between; later the files are read again through dir only while
// it still leads to key (a pid may be reused, a mount point may get
// another mount).
func readRoot(dir string, key rootKey, b *beside, prefix func() string) *Names {
	root, err := openRoot(dir, key)
	if err != nil {
		return nil
	}
	defer unix.Close(root)
	n := readNames(root, rootSource{dir: dir, key: key}, b)
	n.HostPrefix = prefix()
	return n
}

// isRoot tells whether the directory at path is the root key.
func isRoot(path string, key rootKey) bool {
	k, err := dirRootKey(path)
	return err == nil && k == key
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
