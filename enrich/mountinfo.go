package enrich

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
)

// mountLine is one line of /proc/PID/mountinfo.
type mountLine struct {
	dev        string // major:minor
	root       string // the mounted directory, within its file system
	mountPoint string
	fsType     string
	superOpts  string
}

// maxMountinfo bounds what is read of one mountinfo file: a user may
// make many mounts in a mount namespace of its own.
const maxMountinfo = 16 << 20

func readMountinfo(path string) []mountLine {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxMountinfo))
	f.Close()
	if err != nil {
		return nil
	}
	var out []mountLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+3 >= len(f) {
			continue
		}
		out = append(out, mountLine{
			dev: f[2], root: unescapeMountinfo(f[3]), mountPoint: unescapeMountinfo(f[4]),
			fsType: f[sep+1], superOpts: f[sep+3],
		})
	}
	return out
}

// hostPrefix finds the host's path of the root mount in a process's
// mountinfo: an overlay's upper directory (where every written file lands),
// or, for a bind mount, the host mount of the same device that shows it.
// It returns "" when the process sees no root mount of its own (a chroot,
// whose walk reaches the host anyway) or when no host mount shows it.
func hostPrefix(procMountinfo, hostMountinfo string) string {
	var root *mountLine
	lines := readMountinfo(procMountinfo)
	for i := range lines {
		if lines[i].mountPoint == "/" {
			root = &lines[i] // the last one listed is the one on top
		}
	}
	if root == nil {
		return ""
	}
	if root.fsType == "overlay" {
		return overlayUpper(root.superOpts)
	}
	var same []mountLine
	for _, h := range readMountinfo(hostMountinfo) {
		if h.dev == root.dev {
			same = append(same, h)
		}
	}
	p, ok := throughMounts(same, root.root)
	if !ok || p == "/" {
		return "" // no host mount shows it, or the host's own root: nothing to add
	}
	return p
}

// overlayUpper is the upperdir of an overlay's super options, or "".
func overlayUpper(superOpts string) string {
	for _, opt := range strings.Split(superOpts, ",") {
		if dir, ok := strings.CutPrefix(opt, "upperdir="); ok {
			return unescapeMountinfo(dir)
		}
	}
	return ""
}
