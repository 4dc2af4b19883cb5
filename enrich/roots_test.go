package enrich

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRoots(t *testing.T) {
	r, err := NewRoots("")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.For(r.self.dev, r.self.ino, uint32(os.Getpid())); got != r.Host() {
		t.Error("the agent's own root does not serve the host's names")
	}
	// A root no process has: no names, and no retry within the interval.
	ghost := rootKey{dev: r.self.dev, ino: r.self.ino + 1<<40}
	if got := r.For(ghost.dev, ghost.ino, uint32(os.Getpid())); got != nil {
		t.Errorf("names for a root no process has: %+v", got)
	}
	if len(r.m) != 1 {
		t.Errorf("cache holds %d entries, want the one negative entry", len(r.m))
	}
	var n *Names
	if n.user(0) != "" || n.group(0) != "" {
		t.Error("a nil Names must name nothing")
	}
}

func TestRootsEvict(t *testing.T) {
	r, err := NewRoots("")
	if err != nil {
		t.Fatal(err)
	}
	r.max = 3
	for i := uint64(1); i <= 5; i++ {
		r.For(1, i, 0)
	}
	if len(r.m) != 3 {
		t.Errorf("cache holds %d entries, want the bound 3", len(r.m))
	}
}

func dirKey(t *testing.T, dir string) rootKey {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return rootKey{dev: unix.Major(st.Dev)<<20 | unix.Minor(st.Dev), ino: st.Ino}
}

// A root's names are read as it is found and stay when the way to it goes
// (the process exits, the runtime unmounts); a path that now leads to
// another root is not read.
func TestReadRootKeepsNamesWhenTheRootGoes(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "rootfs")
	writeFile(t, filepath.Join(root, "etc", "passwd"), "app:x:54321:54321::/:/bin/sh\n")
	writeFile(t, filepath.Join(root, "etc", "group"), "appgroup:x:54321:\n")
	key := dirKey(t, root)
	n := readRoot(root, key, func() string { return "/host/prefix" })
	if n == nil || n.user(54321) != "app" || n.group(54321) != "appgroup" || n.HostPrefix != "/host/prefix" {
		t.Fatalf("names %+v", n)
	}
	// Another root now sits where this one was found.
	if err := os.Rename(root, root+".old"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "etc", "passwd"), "intruder:x:54321:54321::/:/bin/sh\n")
	n.Users.checked = time.Time{}
	if got := n.user(54321); got != "app" {
		t.Errorf("after the root moved: %q, want the names read from it", got)
	}
	if readRoot(root, key, func() string { return "" }) != nil {
		t.Error("readRoot accepted a directory that is not the root asked for")
	}
}

func TestFindRootMount(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "merged")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	key := dirKey(t, root)
	dev := fmt.Sprintf("%d:%d", key.dev>>20, key.dev&(1<<20-1))
	mi := filepath.Join(base, "mountinfo")
	writeFile(t, mi, fmt.Sprintf("1 0 %s / / rw - ext4 /dev/root rw\n"+
		"2 1 %s / %s rw - overlay overlay rw,lowerdir=/l,upperdir=/var/lib/x/diff,workdir=/w\n", dev, dev, root))
	dir, prefix, ok := findRootMount(key, mi)
	if !ok || dir != root || prefix != "/var/lib/x/diff" {
		t.Errorf("findRootMount = %q %q %v; want %s and the overlay's upper directory", dir, prefix, ok, root)
	}
	if _, _, ok := findRootMount(rootKey{dev: key.dev, ino: key.ino + 1}, mi); ok {
		t.Error("findRootMount matched another inode")
	}
}
