package enrich

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRoots(t *testing.T) {
	r, err := NewRoots("", testBeside())
	if err != nil {
		t.Fatal(err)
	}
	if got, pending := r.For(r.self.dev, r.self.ino, uint32(os.Getpid()), ""); got != r.Host() || pending {
		t.Error("the agent's own root does not serve the host's names")
	}
	// A root no process has: no names, and no retry within the interval.
	ghost := rootKey{dev: r.self.dev, ino: r.self.ino + 1<<40}
	if got, pending := r.For(ghost.dev, ghost.ino, uint32(os.Getpid()), ""); got != nil || pending {
		t.Errorf("names for a root no process has: %+v (pending %v)", got, pending)
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
	r, err := NewRoots("", testBeside())
	if err != nil {
		t.Fatal(err)
	}
	r.max = 3
	for i := uint64(1); i <= 5; i++ {
		r.For(1, i, 0, "")
	}
	if len(r.m) != 3 {
		t.Errorf("cache holds %d entries, want the bound 3", len(r.m))
	}
}

func dirKey(t *testing.T, dir string) rootKey {
	t.Helper()
	k, err := dirRootKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	return k
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
	b := testBeside()
	n := readRoot(root, key, b, func() string { return "/host/prefix" })
	if n == nil || n.user(54321) != "app" || n.group(54321) != "appgroup" || n.HostPrefix != "/host/prefix" {
		t.Fatalf("names %+v", n)
	}
	// Another root now sits where this one was found.
	if err := os.Rename(root, root+".old"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "etc", "passwd"), "intruder:x:54321:54321::/:/bin/sh\n")
	n.refresh()
	if got := n.user(54321); got != "app" {
		t.Errorf("after the root moved: %q, want the names read from it", got)
	}
	if readRoot(root, key, b, func() string { return "" }) != nil {
		t.Error("readRoot accepted a directory that is not the root asked for")
	}
}

// The names of a root follow its files: a change is read on the next
// check, a file gone or replaced by something unreadable names no one.
func TestNamesRefresh(t *testing.T) {
	root := t.TempDir()
	passwd := filepath.Join(root, "etc", "passwd")
	writeFile(t, passwd, "ann:x:1000:1000::/:/bin/sh\n")
	n := readRoot(root, dirKey(t, root), testBeside(), func() string { return "" })
	if got := n.user(1000); got != "ann" {
		t.Fatalf("user(1000) = %q", got)
	}
	writeFile(t, passwd, "ann:x:1000:1000::/:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n")
	n.refresh()
	if got := n.user(1001); got != "bob" {
		t.Errorf("after the file changed, user(1001) = %q", got)
	}
	if err := os.Remove(passwd); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(passwd, 0o644); err != nil {
		t.Fatal(err)
	}
	n.refresh()
	if got := n.user(1000); got != "" {
		t.Errorf("after the file became a FIFO, user(1000) = %q", got)
	}
	// A check is started by a lookup once the interval passed, and never
	// waited for.
	os.Remove(passwd)
	writeFile(t, passwd, "carl:x:1002:1002::/:/bin/sh\n")
	n.interval = 0
	deadline := time.Now().Add(10 * time.Second)
	for n.user(1002) != "carl" {
		if time.Now().After(deadline) {
			t.Fatal("the change was never read")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hostileRoot builds a root whose etc/passwd is what make leaves there,
// beside a decoy passwd outside the root that must never be read.
func hostileRoot(t *testing.T, make func(root, decoy string)) (root, decoy string) {
	base := t.TempDir()
	root = filepath.Join(base, "root")
	decoy = filepath.Join(base, "decoy")
	for _, d := range []string{root + "/etc", decoy} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, decoy+"/passwd", "LEAKED:x:4242:4242::/:/bin/sh\n")
	make(root, decoy)
	return root, decoy
}

// What a writer may leave at its root's etc/passwd: each is refused or
// read inside the root, never outside, never blocking, never big.
func TestReadInRootHostile(t *testing.T) {
	symlink := func(target, name string) {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		make func(root, decoy string)
		want error // errors.Is; nil: read, naming 4242 as "jail"
		leak bool  // false: the decoy must not be read
	}{
		{"regular", func(root, _ string) { writeFile(t, root+"/etc/passwd", "jail:x:4242:4242::/:/bin/sh\n") }, nil, false},
		{"fifo", func(root, _ string) { unix.Mkfifo(root+"/etc/passwd", 0o644) }, errNotRegular, false},
		{"dev-zero", func(root, _ string) { symlink("/dev/zero", root+"/etc/passwd") }, errNotRegular, false},
		{"sparse-1GiB", func(root, _ string) {
			writeFile(t, root+"/etc/passwd", "")
			os.Truncate(root+"/etc/passwd", 1<<30)
		}, errTooLarge, false},
		{"link-loop", func(root, _ string) {
			symlink("passwd2", root+"/etc/passwd")
			symlink("passwd", root+"/etc/passwd2")
		}, errNotRegular, false},
		{"dir-loop", func(root, _ string) {
			os.RemoveAll(root + "/etc")
			symlink("etc2", root+"/etc")
			symlink("etc", root+"/etc2")
		}, unix.ELOOP, false},
		{"absolute-link-out", func(root, decoy string) { symlink(decoy+"/passwd", root+"/etc/passwd") }, errNotRegular, false},
		{"shadow", func(root, _ string) { symlink("/etc/shadow", root+"/etc/passwd") }, errNotRegular, false},
		{"dir-link-out", func(root, decoy string) {
			os.RemoveAll(root + "/etc")
			symlink(decoy, root+"/etc")
		}, os.ErrNotExist, false},
		{"dotdot-out", func(root, decoy string) {
			os.RemoveAll(root + "/etc")
			symlink("../../../../../../../.."+decoy, root+"/etc")
		}, os.ErrNotExist, false},
		{"dir-link-inside", func(root, _ string) {
			os.RemoveAll(root + "/etc")
			os.MkdirAll(root+"/usr/etc", 0o755)
			writeFile(t, root+"/usr/etc/passwd", "jail:x:4242:4242::/:/bin/sh\n")
			symlink("/usr/etc", root+"/etc")
		}, nil, false},
		{"proc-magic-link", func(root, _ string) {
			os.RemoveAll(root + "/etc")
			symlink(fmt.Sprintf("/proc/%d/root/%s", os.Getpid(), "ignored"), root+"/etc")
		}, os.ErrNotExist, false},
	}
	for _, walk := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/userspace-walk=%v", tc.name, walk), func(t *testing.T) {
				root, _ := hostileRoot(t, tc.make)
				dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer unix.Close(dir)
				var f rootFile
				if walk {
					var fd int
					if fd, err = walkInRoot(dir, "etc/passwd"); err == nil {
						f, err = readOpened(fd)
					}
				} else {
					f, err = readInRoot(dir, "etc/passwd")
				}
				if tc.want == nil {
					if err != nil || ParseIDFile(f.data)[4242] != "jail" {
						t.Fatalf("read %q, %v; want the root's own file", f.data, err)
					}
					return
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("err %v, want %v (read %q)", err, tc.want, f.data)
				}
				if ParseIDFile(f.data)[4242] == "LEAKED" {
					t.Error("read the decoy outside the root")
				}
			})
		}
	}
}

// A writer's root on the host, found again through the kernel's host view
// once its process is gone.
func TestRootsFindThroughHostDir(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc", "passwd"), "jail:x:4242:4242::/:/bin/sh\n")
	r, err := NewRoots("", testBeside())
	if err != nil {
		t.Fatal(err)
	}
	key := dirKey(t, root)
	const gonePID = 1 << 30 // no such process
	n, pending := r.For(key.dev, key.ino, gonePID, root)
	if n == nil || pending || n.user(4242) != "jail" {
		t.Fatalf("For through the host dir: %+v pending %v", n, pending)
	}
	// A host dir that is another directory is not taken.
	other := t.TempDir()
	writeFile(t, filepath.Join(other, "etc", "passwd"), "wrong:x:4242:4242::/:/bin/sh\n")
	k2 := rootKey{dev: key.dev, ino: key.ino + 1<<40}
	if n, _ := r.For(k2.dev, k2.ino, gonePID, other); n != nil {
		t.Errorf("took %s for another root: %q", other, n.user(4242))
	}
}

// A lookup that blocks (a file system that never answers) holds up no
// caller beyond the wait, and all of them together no more than the
// budget in a second.
func TestBesideBounds(t *testing.T) {
	b := newBeside(200*time.Millisecond, 250*time.Millisecond, 2)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hang := func() { <-release }
	start := time.Now()
	if _, ok := b.run(hang); ok {
		t.Fatal("a hung lookup reported done")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %v for a hung lookup, bound 200ms", d)
	}
	// 200 ms of the second's 250 are spent: the next hung one gets 50,
	// not its 200.
	start = time.Now()
	l, _ := b.run(hang)
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Errorf("waited %v with 50 ms of the budget left", d)
	}
	if l == nil {
		t.Fatal("no slot for the second lookup")
	}
	// Two hung lookups take both slots: a third is not started.
	if l := b.start(func() {}); l != nil {
		<-l.done
		t.Error("a lookup started with every slot taken")
	}
}
