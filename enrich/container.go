package enrich

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Container is what a cgroup path tells about the container a process runs in.
type Container struct {
	ID      string // 64 hex digits
	Runtime string // docker, containerd, cri-o, podman, or cri when a kubepods path does not say
	PodUID  string // Kubernetes pod uid, with dashes
	QoS     string // Kubernetes QoS class: guaranteed, burstable or besteffort
	// UserMade is set when the writer's cgroup belongs to a user other
	// than root (systemd delegates subtrees to users, who name cgroups as
	// they like): its name proves nothing until a runtime confirms the id.
	UserMade bool
}

var (
	hex64 = `([0-9a-f]{64})`
	// Runtime scopes (systemd layout) and runtime directories (cgroupfs layout).
	containerPatterns = []struct {
		re      *regexp.Regexp
		runtime string
	}{
		{regexp.MustCompile(`^docker-` + hex64 + `\.scope$`), "docker"},
		{regexp.MustCompile(`^cri-containerd-` + hex64 + `\.scope$`), "containerd"},
		{regexp.MustCompile(`^crio-` + hex64 + `(\.scope)?$`), "cri-o"},
		{regexp.MustCompile(`^libpod-` + hex64 + `(\.scope)?$`), "podman"},
	}
	bareID = regexp.MustCompile(`^` + hex64 + `$`)
	// pod<uid> (cgroupfs) or kubepods-<qos>-pod<uid_with_underscores>.slice (systemd).
	podDir = regexp.MustCompile(`^(?:kubepods-(?:(besteffort|burstable)-)?)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$`)
)

// ParseCgroupPath reads a container and pod out of a cgroup v2 path, in the
// systemd or the cgroupfs layout. ok is false when the path names no container.
func ParseCgroupPath(path string) (c Container, ok bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	inKubepods := false
	for i, p := range parts {
		if p == "kubepods" || p == "kubepods.slice" {
			inKubepods = true
			c.QoS = "guaranteed"
			continue
		}
		if inKubepods {
			switch p {
			case "besteffort", "burstable", "kubepods-besteffort.slice", "kubepods-burstable.slice":
				c.QoS = strings.TrimSuffix(strings.TrimPrefix(p, "kubepods-"), ".slice")
				continue
			}
			if m := podDir.FindStringSubmatch(p); m != nil {
				if m[1] != "" {
					c.QoS = m[1]
				}
				c.PodUID = strings.ReplaceAll(m[2], "_", "-")
				continue
			}
		}
		if id, runtime := containerDir(p); id != "" {
			c.ID, c.Runtime, ok = id, runtime, true
			continue
		}
		if m := bareID.FindStringSubmatch(p); m != nil {
			switch {
			case i > 0 && parts[i-1] == "docker":
				c.ID, c.Runtime, ok = m[1], "docker", true
			case c.PodUID != "":
				c.ID, c.Runtime, ok = m[1], "cri", true
			}
		}
	}
	if !inKubepods {
		c.QoS = ""
	}
	return c, ok
}

// containerDir matches one path component against the runtimes' scope names.
func containerDir(p string) (id, runtime string) {
	for _, cp := range containerPatterns {
		if m := cp.re.FindStringSubmatch(p); m != nil {
			return m[1], cp.runtime
		}
	}
	return "", ""
}

// Cgroups resolves cgroup v2 ids (the kernel's bpf_get_current_cgroup_id)
// to paths below the cgroup2 mount, and those to containers. An id not yet
// known is opened by its file handle (the id is the cgroup2 file system's
// handle of the directory: one system call, whatever the size of the tree,
// which users with a delegated subtree choose). Where the kernel refuses
// that (no CAP_DAC_READ_SEARCH), an unknown id makes it rescan the tree at
// once, so a new container's first write is named; an id the scan did not
// find waits Retry before it may cause another, and no more than MaxScans
// scans run in any second.
type Cgroups struct {
	root     string // where cgroup2 is mounted; "" when it is not
	Retry    time.Duration
	MaxScans int
	// noHandles is set once the kernel refused to open a cgroup by its
	// handle: scans take over.
	noHandles bool

	mu       sync.Mutex
	paths    map[uint64]string
	owners   map[uint64]uint32       // the uid that owns each cgroup's directory
	parsed   map[uint64]parsedCgroup // what each path says, parsed once
	missing  map[uint64]time.Time    // ids a scan did not find, and when
	scans    []time.Time             // the scans of the last second
	maxPaths int
}

// NewCgroups finds the cgroup2 mount in mountinfo (normally /proc/self/mountinfo).
func NewCgroups(mountinfo string) (*Cgroups, error) {
	root, err := cgroup2Mount(mountinfo)
	if err != nil {
		return nil, err
	}
	return newCgroups(root), nil
}

func newCgroups(root string) *Cgroups {
	g := &Cgroups{
		root: root, Retry: time.Second, MaxScans: 20,
		paths: map[uint64]string{}, owners: map[uint64]uint32{}, parsed: map[uint64]parsedCgroup{}, missing: map[uint64]time.Time{}, maxPaths: 1 << 16,
	}
	// Handles are used when the root itself opens by its own.
	if st, err := os.Stat(root); err != nil || root == "" {
		g.noHandles = true
	} else if p, _, err := g.byHandle(inode(st)); err != nil || p != "/" {
		g.noHandles = true
	}
	return g
}

// Root is where cgroup2 is mounted, or "" when it is not.
func (g *Cgroups) Root() string { return g.root }

func cgroup2Mount(mountinfo string) (string, error) {
	if _, err := os.Stat(mountinfo); err != nil {
		return "", fmt.Errorf("reading %s: %w", mountinfo, err)
	}
	for _, m := range readMountinfo(mountinfo) {
		if m.fsType == "cgroup2" {
			return m.mountPoint, nil
		}
	}
	return "", nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

type parsedCgroup struct {
	c  Container
	ok bool
}

// Container returns the container that cgroup id names, parsing its path
// once; ok is false outside containers and for ids not found.
func (g *Cgroups) Container(id uint64) (Container, bool) {
	g.mu.Lock()
	p, known := g.parsed[id]
	g.mu.Unlock()
	if known {
		return p.c, p.ok
	}
	path := g.Path(id)
	if path == "" {
		return Container{}, false
	}
	p.c, p.ok = ParseCgroupPath(path)
	g.mu.Lock()
	p.c.UserMade = p.ok && g.owners[id] != 0
	if len(g.parsed) > g.maxPaths {
		g.parsed = map[uint64]parsedCgroup{}
	}
	g.parsed[id] = p
	g.mu.Unlock()
	return p.c, p.ok
}

// Path returns the cgroup path (from the cgroup2 root, starting with '/')
// of a cgroup id, or "" when it cannot be found.
func (g *Cgroups) Path(id uint64) string {
	if g.root == "" || id == 0 {
		return ""
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.paths[id]; ok {
		return p
	}
	now := time.Now()
	if t, ok := g.missing[id]; ok && now.Sub(t) < g.Retry {
		return ""
	}
	if !g.noHandles {
		p, owner, err := g.byHandle(id)
		if err == nil {
			g.remember(id, p, owner)
			return p
		}
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
			g.noHandles = true // the kernel refuses handles to this process: scans from now on
		} else {
			// The cgroup is gone (ESTALE: its events came late), or this
			// one lookup failed (EMFILE ...): tried again after Retry.
			g.miss(id, now)
			return ""
		}
	}
	for len(g.scans) > 0 && now.Sub(g.scans[0]) >= time.Second {
		g.scans = g.scans[1:]
	}
	if len(g.scans) >= g.MaxScans {
		return ""
	}
	g.scans = append(g.scans, now)
	g.scan()
	p, ok := g.paths[id]
	if !ok {
		g.miss(id, now)
	}
	return p
}

func (g *Cgroups) miss(id uint64, now time.Time) {
	if len(g.missing) > g.maxPaths {
		g.missing = map[uint64]time.Time{}
	}
	g.missing[id] = now
}

func (g *Cgroups) remember(id uint64, p string, owner uint32) {
	if len(g.paths) > g.maxPaths {
		g.paths = map[uint64]string{}
		g.owners = map[uint64]uint32{}
	}
	g.paths[id] = p
	g.owners[id] = owner
}

// fileidKernfs is the kernel's FILEID_KERNFS: a handle that is a kernfs
// node's 64-bit id, which for cgroup2 is the cgroup id.
const fileidKernfs = 0xfe

// byHandle opens cgroup id by its file handle and reads its path and the
// owner of its directory.
func (g *Cgroups) byHandle(id uint64) (string, uint32, error) {
	mnt, err := unix.Open(g.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", 0, err
	}
	defer unix.Close(mnt)
	var raw [8]byte
	binary.NativeEndian.PutUint64(raw[:], id)
	fd, err := unix.OpenByHandleAt(mnt, unix.NewFileHandle(fileidKernfs, raw[:]), unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return "", 0, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", 0, err
	}
	full, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", 0, err
	}
	rel, ok := strings.CutPrefix(full, strings.TrimSuffix(g.root, "/"))
	if !ok || (rel != "" && rel[0] != '/') {
		return "", 0, fmt.Errorf("cgroup %d at %q, outside %s", id, full, g.root)
	}
	if rel == "" {
		rel = "/"
	}
	return rel, st.Uid, nil
}

// scan walks the cgroup2 tree and maps every directory's inode (its cgroup id)
// to its path. Paths of cgroups that are gone stay known: events may still
// name them.
func (g *Cgroups) scan() {
	if len(g.paths) > g.maxPaths {
		g.paths = map[uint64]string{}
		g.owners = map[uint64]uint32{}
	}
	filepath.WalkDir(g.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel := strings.TrimPrefix(p, g.root)
		if rel == "" {
			rel = "/"
		}
		var owner uint32
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			owner = st.Uid
		}
		g.paths[inode(info)] = rel
		g.owners[inode(info)] = owner
		return nil
	})
}
