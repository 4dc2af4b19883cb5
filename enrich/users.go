package enrich

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// fileStamp tells whether a file changed since it was read.
type fileStamp struct {
	size         int64
	mtime, ctime int64
	ino, dev     uint64
}

// idFiles are the ids named by one root's passwd and group files.
type idFiles struct {
	users, groups map[uint32]string
	passwd, group fileStamp
}

// rootSource is how to reach a root again: a directory (its /proc/PID/root,
// a host path) that leads to key while it still does.
type rootSource struct {
	dir string
	key rootKey
}

// Names are the user and group names of one root file system, and where
// that root lies in the host's view when the kernel's walk cannot tell.
// They are read again when the files change, checked at most once per
// interval, beside the event path: a caller never waits for a reread.
type Names struct {
	// HostPrefix is the host's path of a root that is the top of its own
	// mount namespace (a container that pivoted into it): the overlay's
	// upper directory, or the host directory a bind mount shows. Empty when
	// unknown or when the kernel's walk already reaches the host.
	HostPrefix string

	src        rootSource
	beside     *beside
	interval   time.Duration
	ids        atomic.Pointer[idFiles]
	checked    atomic.Int64 // coarse Unix ns of the last check
	refreshing atomic.Bool
}

// user returns the name of id in the root's passwd file; "" when n is nil
// or names no such id.
func (n *Names) user(id uint32) string {
	if n == nil {
		return ""
	}
	n.maybeRefresh()
	return n.ids.Load().users[id]
}

// group is user for the group file.
func (n *Names) group(id uint32) string {
	if n == nil {
		return ""
	}
	n.maybeRefresh()
	return n.ids.Load().groups[id]
}

// maybeRefresh starts a check of the files when the last is an interval
// old and none runs.
func (n *Names) maybeRefresh() {
	if n.src.dir == "" {
		return
	}
	now := coarseNow().UnixNano()
	if now-n.checked.Load() < int64(n.interval) || !n.refreshing.CompareAndSwap(false, true) {
		return
	}
	n.checked.Store(now)
	if n.beside.start(func() { defer n.refreshing.Store(false); n.refresh() }) == nil {
		n.refreshing.Store(false)
	}
}

// refresh reads the files again where they changed, as long as the
// source still leads to the root; otherwise the names read stay.
func (n *Names) refresh() {
	root, err := openRoot(n.src.dir, n.src.key)
	if err != nil {
		return
	}
	defer unix.Close(root)
	cur := n.ids.Load()
	next := *cur
	next.users, next.passwd = rereadIDFile(root, "etc/passwd", cur.users, cur.passwd)
	next.groups, next.group = rereadIDFile(root, "etc/group", cur.groups, cur.group)
	n.ids.Store(&next)
}

// rereadIDFile reads name below root again when its stamp changed. A file
// that is gone, or is not a regular file within the bound, names no one;
// one that cannot be read for another reason keeps the names read before.
func rereadIDFile(root int, name string, names map[uint32]string, stamp fileStamp) (map[uint32]string, fileStamp) {
	st, err := statInRoot(root, name)
	switch {
	case err == nil && st == stamp && names != nil:
		return names, stamp
	case err == nil:
		f, err := readInRoot(root, name)
		if err == nil {
			return ParseIDFile(f.data), f.stamp
		}
		if !unreadable(err) {
			return names, stamp
		}
	case !unreadable(err):
		return names, stamp
	}
	return map[uint32]string{}, fileStamp{}
}

// unreadable tells the errors that mean a root has no usable file there.
func unreadable(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, errNotRegular) || errors.Is(err, errTooLarge) ||
		errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EXDEV)
}

// readNames reads the passwd and group files of the root open at root.
func readNames(root int, src rootSource, b *beside) *Names {
	users, passwd := rereadIDFile(root, "etc/passwd", nil, fileStamp{})
	groups, group := rereadIDFile(root, "etc/group", nil, fileStamp{})
	n := &Names{src: src, beside: b, interval: time.Second}
	n.ids.Store(&idFiles{users: users, groups: groups, passwd: passwd, group: group})
	n.checked.Store(coarseNow().UnixNano())
	return n
}

// ParseIDFile reads passwd or group format: the first field is the name,
// the third the id. Malformed lines are skipped; the first name of an id wins.
func ParseIDFile(data []byte) map[uint32]string {
	out := map[uint32]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		f := bytes.SplitN(line, []byte(":"), 4)
		if len(f) < 3 || len(f[0]) == 0 {
			continue
		}
		id, err := strconv.ParseUint(string(f[2]), 10, 32)
		if err != nil {
			continue
		}
		if _, dup := out[uint32(id)]; !dup {
			out[uint32(id)] = string(f[0])
		}
	}
	return out
}
