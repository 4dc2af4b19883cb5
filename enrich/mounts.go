package enrich

import (
	"bytes"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
)

// hostMounts maps a file system and a path within it to the host's path of
// the same file, through the host's mount table: a writer that reached the
// file through a mount of its own (a bind mount of an audited directory
// somewhere else, in a mount namespace of its own; a container's volume)
// named it by a path the host does not use.
type hostMounts struct {
	mountinfo string // the host's mount table
	mu        sync.Mutex
	all       []mountLine // in the table's order: a later mount on the same point is on top
	byDev     map[uint32][]mountLine
	read      time.Time
}

// mountsReread bounds how often the table is read again: on a file system
// it does not list (a mount made since, or one the host never sees), and
// when it is older than mountsMaxAge.
const (
	mountsReread = time.Second
	mountsMaxAge = 10 * time.Second
)

func newHostMounts(mountinfo string) *hostMounts {
	return &hostMounts{mountinfo: mountinfo}
}

// kernelDev parses mountinfo's major:minor into the kernel's encoding.
func kernelDev(s string) (uint32, bool) {
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return 0, false
	}
	a, err1 := strconv.ParseUint(maj, 10, 12)
	b, err2 := strconv.ParseUint(min, 10, 20)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return uint32(a<<20 | b), true
}

func (h *hostMounts) lines(dev uint32) []mountLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	age := time.Since(h.read)
	if _, ok := h.byDev[dev]; (!ok && age >= mountsReread) || age >= mountsMaxAge {
		h.reread()
	}
	return h.byDev[dev]
}

// reread reads the table again; h.mu is held.
func (h *hostMounts) reread() {
	byDev := map[uint32][]mountLine{}
	all := readMountinfo(h.mountinfo)
	for _, l := range all {
		if d, ok := kernelDev(l.dev); ok {
			byDev[d] = append(byDev[d], l)
		}
	}
	h.all, h.byDev, h.read = all, byDev, time.Now()
}

// canonical is the host's path of p (a path in the host's view) when p
// lies in a bind mount of a directory: the path through the host mount
// that shows the most of that file system. "" when p is that path already.
func (h *hostMounts) canonical(p string) string {
	h.mu.Lock()
	if time.Since(h.read) >= mountsReread {
		h.reread()
	}
	all := h.all
	h.mu.Unlock()
	var m *mountLine
	for i := range all {
		if underDir(p, all[i].mountPoint) && (m == nil || len(all[i].mountPoint) >= len(m.mountPoint)) {
			m = &all[i]
		}
	}
	if m == nil || m.root == "/" {
		return "" // a whole file system
	}
	dev, ok := kernelDev(m.dev)
	if !ok {
		return ""
	}
	rest := strings.TrimPrefix(p, strings.TrimSuffix(m.mountPoint, "/"))
	host, ok := h.hostPath(dev, path.Join(m.root, rest))
	if !ok || host == p {
		return ""
	}
	return host
}

// hostPath is the host's path of fsPath (a path from the root of the file
// system dev): through the host mount that shows the most of that file
// system (the shortest root above the path), then the shortest mount point.
// ok is false when no host mount shows it.
func (h *hostMounts) hostPath(dev uint32, fsPath string) (string, bool) {
	return throughMounts(h.lines(dev), fsPath)
}

// throughMounts maps fsPath, a path from the root of the file system that
// lines mount, through the mount that shows the most of it (the shortest
// root above the path), then the shortest mount point.
func throughMounts(lines []mountLine, fsPath string) (string, bool) {
	var best *mountLine
	for i, l := range lines {
		if !underDir(fsPath, l.root) {
			continue
		}
		if best == nil || len(l.root) < len(best.root) || len(l.root) == len(best.root) && len(l.mountPoint) < len(best.mountPoint) {
			best = &lines[i]
		}
	}
	if best == nil {
		return "", false
	}
	rel := strings.TrimPrefix(fsPath, strings.TrimSuffix(best.root, "/"))
	return path.Join(best.mountPoint, rel), true
}

// underDir says whether p is dir or below it, on whole components.
func underDir(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	rest, ok := strings.CutPrefix(p, dir)
	return ok && (rest == "" || rest[0] == '/')
}

// fsPath is the path of a walked file from the root of its file system:
// its names below its mount's root, then the names of that root when the
// mount is a bind mount. ok is false when the walk does not tell it, or
// when a ".." the writer gave could climb out of the mount.
func fsPath(components []byte, flags bpf.Flags, m bpf.MountView) (string, bool) {
	if m.Off < 0 || m.AliasLost || flags&bpf.FlagTruncated != 0 {
		return "", false
	}
	below := components[:m.Off]
	var given string
	if flags&bpf.FlagGiven != 0 {
		i := bytes.IndexByte(below, 0)
		if i < 0 {
			return "", false
		}
		given, below = string(below[:i]), below[i+1:]
		if strings.HasPrefix(given, "/") {
			return "", false // named from the root, not from this mount
		}
		for _, c := range strings.Split(given, "/") {
			if c == ".." {
				return "", false
			}
		}
	}
	walked := make([]byte, 0, len(below)+len(m.Alias))
	walked = append(append(walked, below...), m.Alias...)
	dir := AssemblePath(walked, false)
	if dir.Truncated {
		return "", false
	}
	if given == "" {
		return dir.Full, true
	}
	return path.Join(dir.Full, given), true
}

// mountView is the host's path of a walked file that the writer reached
// through a mount the host does not use for it: a bind mount (any
// namespace), or, from another mount namespace, a whole file system's
// mount other than the writer's root. "" when there is none or it is the
// path already given; lost when the walk crossed a bind mount whose names
// did not fit, so the file could be anywhere.
func (x *Enricher) mountView(ev *bpf.Event, components []byte, flags bpf.Flags, rootOff int, m bpf.MountView, own, host string) (view string, lost bool) {
	if m.AliasLost {
		return "", true
	}
	if ev.Flags&bpf.FlagNoInode != 0 || m.Off < 0 {
		return "", false // the file system is not known
	}
	if m.Alias == nil {
		ownRoot := flags&bpf.FlagPassedRoot != 0 && m.Off == rootOff
		if ev.MntNS == x.mntNS || ownRoot {
			return "", false
		}
	}
	fs, ok := fsPath(components, flags, m)
	if !ok {
		return "", m.Alias != nil
	}
	p, ok := x.mounts.hostPath(m.Dev, fs)
	if !ok || p == own || p == host {
		return "", false
	}
	return p, false
}
