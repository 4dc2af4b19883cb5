package enrich

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// IDNames maps numeric ids to names from one passwd- or group-format file,
// read again when the file changes (checked at most once per interval).
type IDNames struct {
	path     string
	interval time.Duration
	valid    func() bool // nil: the path always names the right file

	mu      sync.Mutex
	names   map[uint32]string
	checked time.Time
	stamp   fileStamp
}

type fileStamp struct {
	size    int64
	modTime time.Time
	ino     uint64
}

// NewIDNames serves names from a passwd-format file (name:x:id:...), such
// as /etc/passwd or /etc/group.
func NewIDNames(path string) *IDNames {
	return &IDNames{path: path, interval: time.Second}
}

// Name returns the name of id, or "" when the file has none.
func (n *IDNames) Name(id uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if now := coarseNow(); n.names == nil || now.Sub(n.checked) >= n.interval {
		n.checked = now
		n.reloadIfChanged()
	}
	return n.names[id]
}

// newRootIDNames serves names from a file below a container's root, whose
// content was read as the root was found. The file is read again on change
// only while valid says path still leads into that root; otherwise, or when
// it cannot be read, the last names stay.
func newRootIDNames(path string, valid func() bool, content []byte) *IDNames {
	return &IDNames{path: path, interval: time.Second, valid: valid, names: ParseIDFile(content), checked: coarseNow()}
}

func (n *IDNames) reloadIfChanged() {
	if n.valid != nil && !n.valid() {
		return
	}
	st, err := os.Stat(n.path)
	if err != nil {
		if n.valid == nil || n.valid() {
			// The file is gone from a root that is still there.
			n.names = map[uint32]string{}
			n.stamp = fileStamp{}
		}
		return
	}
	stamp := fileStamp{size: st.Size(), modTime: st.ModTime(), ino: inode(st)}
	if n.names != nil && stamp == n.stamp {
		return
	}
	data, err := os.ReadFile(n.path)
	if err != nil {
		if n.valid == nil {
			n.names = map[uint32]string{}
		}
		return
	}
	if n.valid != nil && !n.valid() {
		return // the path left the root while it was read
	}
	n.names = ParseIDFile(data)
	n.stamp = stamp
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
