package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// allActions audits every operation the agent knows.
var allActions = []string{"write", "create", "truncate", "rename", "delete", "chmod", "chown", "xattr", "mmap_write", "utimes"}

// expectedHook is the hook mode a record of action (by via) comes from,
// given the modes the agent's hook points took: writes from the write
// point; transfers, extended attributes and mappings from the syscall
// point; the other operations from their VFS point when it attached, else
// from the syscall point.
func expectedHook(modes map[string]string, action, via string) string {
	switch {
	case action == "write" && via == "":
		return modes["write"]
	case action == "write":
		return modes["syscalls"]
	case modes[action] != "":
		return modes[action]
	}
	return modes["syscalls"]
}

// pathChange is what a change named by a path string says: a VFS hook
// knows the file's inode and its mode after the change (a deleted file's
// before); the syscall point knows neither.
func pathChange(modes map[string]string, c change, mode, typ string) change {
	if m := modes[c.action]; m == "fentry" || m == "kprobe" {
		c.inode, c.mode, c.typ = true, mode, typ
	}
	return c
}

// checkHooks checks that every record came from the hook it should.
func checkHooks(t *testing.T, records []Record, modes map[string]string) {
	t.Helper()
	if modes["write"] != *agentHook {
		t.Errorf("the write point took %q, want %q", modes["write"], *agentHook)
	}
	for _, r := range records {
		if r.Event.Action == "lost" {
			continue
		}
		if want := expectedHook(modes, r.Event.Action, r.FSAudit.Via); r.FSAudit.Hook != want {
			t.Errorf("record from hook %q, want %q (points took %v): %s", r.FSAudit.Hook, want, modes, r.Raw)
		}
	}
}

// createdMode is the mode a file asked for with perm gets under this
// process's umask.
func createdMode(perm uint32) string {
	old := unix.Umask(0)
	unix.Umask(old)
	return fmt.Sprintf("%04o", perm&^uint32(old))
}

// change is what one record says, apart from what differs from run to run
// (times, ids, pids, inode numbers): compared as a line.
type change struct {
	action, path, target string
	via, mode, typ       string
	uid, gid, size       string
	xattr, flags         string
	bytes, offset        string // writes and mappings
	comm, user           string
	inode, deleted       bool
}

func (c change) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", c.action, c.path)
	for _, kv := range [][2]string{{"target", c.target}, {"via", c.via}, {"mode", c.mode}, {"type", c.typ}, {"uid", c.uid}, {"gid", c.gid},
		{"size", c.size}, {"xattr", c.xattr}, {"flags", c.flags}, {"bytes", c.bytes}, {"offset", c.offset}, {"comm", c.comm}, {"user", c.user}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%q", kv[0], kv[1])
		}
	}
	fmt.Fprintf(&b, " inode=%v", c.inode)
	if c.deleted {
		b.WriteString(" deleted")
	}
	return b.String()
}

// changeOf reads a record as a change.
func changeOf(r Record) change {
	c := change{
		action: r.Event.Action, path: r.File.Path, target: r.File.TargetPath, via: r.FSAudit.Via,
		mode: r.File.Mode, typ: r.fileType(), uid: r.File.UID, gid: r.File.GID, xattr: r.FSAudit.Xattr.Name,
		flags: strings.Join(r.FSAudit.RenameFlags, ","), comm: r.Process.Name, user: r.User.Name,
		inode: r.File.Inode != "", deleted: r.FSAudit.Deleted,
	}
	if r.File.Size != nil {
		c.size = fmt.Sprint(*r.File.Size)
	}
	if r.Event.Action == "write" || r.Event.Action == "mmap_write" {
		c.bytes, c.offset = fmt.Sprint(r.FSAudit.Bytes), fmt.Sprint(r.FSAudit.Offset)
	}
	if r.File.UID != "" && r.File.Owner != "" {
		c.uid += "(" + r.File.Owner + ")"
	}
	if r.File.GID != "" && r.File.Group != "" {
		c.gid += "(" + r.File.Group + ")"
	}
	return c
}

// checkChanges compares the records of the actions in wants (all but
// write, when wants holds no write) with wants, as a multiset of lines.
func checkChanges(t *testing.T, records []Record, wants []change, root string) {
	t.Helper()
	withWrites := false
	for _, w := range wants {
		withWrites = withWrites || w.action == "write"
	}
	var got, want []string
	for _, r := range records {
		if r.Event.Action == "lost" || (r.Event.Action == "write" && !withWrites) {
			continue
		}
		got = append(got, strings.ReplaceAll(changeOf(r).String(), root, "$W"))
	}
	for _, w := range wants {
		want = append(want, strings.ReplaceAll(w.String(), root, "$W"))
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	missing, extra := diffLines(want, got)
	for _, l := range missing {
		t.Errorf("missing: %s", l)
	}
	for _, l := range extra {
		t.Errorf("unexpected: %s", l)
	}
}

// diffLines returns the lines of want not in got and of got not in want,
// counting repeats.
func diffLines(want, got []string) (missing, extra []string) {
	n := map[string]int{}
	for _, l := range got {
		n[l]++
	}
	for _, l := range want {
		if n[l] > 0 {
			n[l]--
		} else {
			missing = append(missing, l)
		}
	}
	for _, l := range got {
		if n[l] > 0 {
			n[l]--
			extra = append(extra, l)
		}
	}
	return missing, extra
}

// TestFileOperations: every way to change a file's content, name or
// metadata that the hook modes see, each asserted exactly, failed calls
// reported never.
func TestFileOperations(t *testing.T) {
	requireRoot(t)
	objs := objects(t)
	for _, obj := range objs {
		t.Run(obj, func(t *testing.T) { fileOperations(t, obj) })
	}
	// Where the syscall point runs one program at each end of every call
	// (to see the 32-bit ones), the per-call tracepoints it takes elsewhere
	// (a kernel that runs no 32-bit code) are proven here, forced.
	t.Run("per-call", func(t *testing.T) {
		a := fileOperations(t, objs[0], "FSAUDIT_PER_CALL_TRACEPOINTS=1")
		if !strings.Contains(a.Log(), "FSAUDIT_PER_CALL_TRACEPOINTS is set") {
			t.Errorf("the agent did not take the per-call tracepoints:\n%s", a.Log())
		}
	})
}

func fileOperations(t *testing.T, object string, env ...string) *Agent {
	w := tmpDir(t, "fsaudit-ops-", 0o755)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Made before the agent starts: no records.
	must(os.WriteFile(w+"/pre", []byte("0123456789"), 0o644))
	must(os.WriteFile(w+"/other", []byte("abc"), 0o644))
	must(os.Mkdir(w+"/sub", 0o755))
	must(os.Mkdir(w+"/empty", 0o755))
	dirfd, err := unix.Open(w, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	must(err)
	defer unix.Close(dirfd)
	subfd, err := unix.Open(w+"/sub", unix.O_DIRECTORY|unix.O_RDONLY, 0)
	must(err)
	defer unix.Close(subfd)

	agent := StartAgent(t, AgentConfig{Include: []string{w}, Sink: filepath.Join(t.TempDir(), "audit.jsonl"), Object: object, Actions: allActions, Env: env})
	users := names(t, "/etc/passwd")
	groups := names(t, "/etc/group")
	me := selfComm(t)
	root := users[0]
	var wants []change
	add := func(c change) {
		if c.comm == "" {
			c.comm, c.user = me, root
		}
		wants = append(wants, c)
	}
	modes := agent.PointModes()
	byPath := func(c change, mode, typ string) change { return pathChange(modes, c, mode, typ) }
	fdOf := func(path string, flags int, perm uint32) int {
		t.Helper()
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, perm)
		must(err)
		return fd
	}

	// create: open with O_CREAT (new, then existing), creat, mknod, mkdir, links.
	fd := fdOf(w+"/c-open", unix.O_CREAT|unix.O_EXCL|unix.O_RDWR, 0o640)
	add(change{action: "create", path: w + "/c-open", via: "open", mode: createdMode(0o640), typ: "file", inode: true})
	unix.Close(fdOf(w+"/c-open", unix.O_CREAT|unix.O_WRONLY, 0o600)) // there already: nothing
	cfd, err := unix.Creat(w+"/c-creat", 0o600)
	must(err)
	unix.Close(cfd)
	add(change{action: "create", path: w + "/c-creat", via: "open", mode: createdMode(0o600), typ: "file", inode: true})
	must(unix.Mknod(w+"/fifo", unix.S_IFIFO|0o644, 0))
	add(byPath(change{action: "create", path: w + "/fifo", via: "mknod", mode: createdMode(0o644), typ: "fifo"}, createdMode(0o644), "fifo"))
	must(unix.Mknodat(dirfd, "c-mknod", unix.S_IFREG|0o600, 0))
	add(byPath(change{action: "create", path: w + "/c-mknod", via: "mknod", mode: createdMode(0o600), typ: "file"}, createdMode(0o600), "file"))
	must(unix.Mkdir(w+"/dir", 0o750))
	add(byPath(change{action: "create", path: w + "/dir", via: "mkdir", mode: createdMode(0o750), typ: "dir"}, createdMode(0o750), "dir"))
	must(unix.Mkdirat(subfd, "../dir2", 0o755)) // relative to a directory descriptor, through ".."
	add(byPath(change{action: "create", path: w + "/dir2", via: "mkdir", mode: createdMode(0o755), typ: "dir"}, createdMode(0o755), "dir"))
	must(unix.Symlink("c-open", w+"/sym"))
	add(byPath(change{action: "create", path: w + "/sym", target: "c-open", via: "symlink", mode: "0777", typ: "symlink"}, "0777", "symlink"))
	must(unix.Symlink(w+"/sub", w+"/sublink")) // a directory reached through a symbolic link below
	add(byPath(change{action: "create", path: w + "/sublink", target: w + "/sub", via: "symlink", mode: "0777", typ: "symlink"}, "0777", "symlink"))
	must(unix.Link(w+"/c-open", w+"/hard"))
	add(byPath(change{action: "create", path: w + "/hard", target: w + "/c-open", via: "link"}, createdMode(0o640), "file"))
	must(unix.Linkat(fd, "", dirfd, "hard2", unix.AT_EMPTY_PATH))
	add(byPath(change{action: "create", path: w + "/hard2", target: w + "/c-open", via: "link"}, createdMode(0o640), "file"))

	// truncate: O_TRUNC on an existing file (even read-only), creat on an
	// existing file, truncate by path (through a symbolic link), ftruncate.
	unix.Close(fdOf(w+"/pre", unix.O_WRONLY|unix.O_TRUNC, 0))
	add(change{action: "truncate", path: w + "/pre", size: "0", mode: "0644", typ: "file", inode: true})
	unix.Close(fdOf(w+"/other", unix.O_RDONLY|unix.O_TRUNC, 0))
	add(change{action: "truncate", path: w + "/other", size: "0", mode: "0644", typ: "file", inode: true})
	cfd, err = unix.Creat(w+"/c-creat", 0o600)
	must(err)
	unix.Close(cfd)
	add(change{action: "truncate", path: w + "/c-creat", size: "0", mode: "0600", typ: "file", inode: true})
	must(unix.Truncate(w+"/sym", 10))
	add(byPath(change{action: "truncate", path: w + "/c-open", size: "10"}, createdMode(0o640), "file"))
	must(unix.Ftruncate(fd, 4096))
	add(change{action: "truncate", path: w + "/c-open", size: "4096", mode: createdMode(0o640), typ: "file", inode: true})

	// chmod, chown: by path, through a link, by descriptor, without following.
	must(unix.Chmod(w+"/c-mknod", 0o604))
	add(byPath(change{action: "chmod", path: w + "/c-mknod", mode: "0604", typ: ""}, "0604", "file"))
	must(unix.Fchmodat(unix.AT_FDCWD, w+"/sublink/../c-creat", 0o640, 0)) // ".." after a link: the kernel goes up from sub
	add(byPath(change{action: "chmod", path: w + "/c-creat", mode: "0640", typ: ""}, "0640", "file"))
	must(unix.Fchmod(fd, 0o600))
	add(change{action: "chmod", path: w + "/c-open", mode: "0600", typ: "file", inode: true})
	must(unix.Chown(w+"/sym", 65534, -1))
	add(byPath(change{action: "chown", path: w + "/c-open", uid: "65534(" + users[65534] + ")"}, "0600", "file"))
	must(unix.Lchown(w+"/sym", -1, 65534))
	add(byPath(change{action: "chown", path: w + "/sym", gid: "65534(" + groups[65534] + ")"}, "0777", "symlink"))
	must(unix.Fchown(fd, 0, 0))
	add(change{action: "chown", path: w + "/c-open", uid: "0(" + users[0] + ")", gid: "0(" + groups[0] + ")", mode: "0600", typ: "file", inode: true})

	// xattr: set and remove, by path, by descriptor, on a link itself.
	must(unix.Setxattr(w+"/c-open", "trusted.fsaudit", []byte("v1"), 0))
	add(change{action: "xattr", path: w + "/c-open", xattr: "trusted.fsaudit", via: "set"})
	must(unix.Fsetxattr(fd, "trusted.other", []byte("v2"), 0))
	add(change{action: "xattr", path: w + "/c-open", xattr: "trusted.other", via: "set", mode: "0600", typ: "file", inode: true})
	must(unix.Lsetxattr(w+"/sym", "trusted.link", []byte("v3"), 0))
	add(change{action: "xattr", path: w + "/sym", xattr: "trusted.link", via: "set"})
	must(unix.Removexattr(w+"/sym", "trusted.fsaudit")) // follows the link
	add(change{action: "xattr", path: w + "/c-open", xattr: "trusted.fsaudit", via: "remove"})
	must(unix.Fremovexattr(fd, "trusted.other"))
	add(change{action: "xattr", path: w + "/c-open", xattr: "trusted.other", via: "remove", mode: "0600", typ: "file", inode: true})

	// mmap: shared and writable is a record; private or read-only is not.
	m, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	must(err)
	copy(m, "mapped")
	must(unix.Munmap(m))
	add(change{action: "mmap_write", path: w + "/c-open", bytes: "4096", offset: "0", mode: "0600", typ: "file", inode: true})
	for _, mm := range []struct{ prot, flags int }{{unix.PROT_READ | unix.PROT_WRITE, unix.MAP_PRIVATE}, {unix.PROT_READ, unix.MAP_SHARED}} {
		m, err := unix.Mmap(fd, 0, 4096, mm.prot, mm.flags)
		must(err)
		must(unix.Munmap(m))
	}

	// Transfers into a file: sendfile, copy_file_range, splice.
	out := fdOf(w+"/copy", unix.O_CREAT|unix.O_WRONLY, 0o644)
	add(change{action: "create", path: w + "/copy", via: "open", mode: createdMode(0o644), typ: "file", inode: true})
	var off int64
	n, err := unix.Sendfile(out, fd, &off, 6)
	must(err)
	add(change{action: "write", path: w + "/copy", via: "sendfile", bytes: fmt.Sprint(n), offset: "0", mode: createdMode(0o644), typ: "file", inode: true})
	off = 0
	n, err = unix.CopyFileRange(fd, &off, out, nil, 3, 0)
	must(err)
	add(change{action: "write", path: w + "/copy", via: "copy_file_range", bytes: fmt.Sprint(n), offset: "6", mode: createdMode(0o644), typ: "file", inode: true})
	var p [2]int
	must(unix.Pipe2(p[:], unix.O_CLOEXEC))
	_, err = unix.Write(p[1], []byte("piped"))
	must(err)
	outOff := int64(100)
	n64, err := unix.Splice(p[0], nil, out, &outOff, 5, 0)
	must(err)
	add(change{action: "write", path: w + "/copy", via: "splice", bytes: fmt.Sprint(n64), offset: "100", mode: createdMode(0o644), typ: "file", inode: true})
	unix.Close(p[0])
	unix.Close(p[1])
	unix.Close(out)

	// rename: plain, relative through "..", exchanging two files; a rename
	// that fails is not one.
	must(unix.Rename(w+"/c-creat", w+"/renamed"))
	add(byPath(change{action: "rename", path: w + "/c-creat", target: w + "/renamed"}, "0640", "file"))
	must(unix.Renameat(subfd, "../hard", subfd, "moved"))
	add(byPath(change{action: "rename", path: w + "/hard", target: w + "/sub/moved"}, "0600", "file"))
	must(unix.Renameat2(dirfd, "renamed", dirfd, "c-mknod", unix.RENAME_EXCHANGE))
	add(byPath(change{action: "rename", path: w + "/renamed", target: w + "/c-mknod", flags: "exchange"}, "0640", "file"))
	if err := unix.Renameat2(dirfd, "renamed", dirfd, "c-mknod", unix.RENAME_NOREPLACE); err == nil {
		t.Fatal("RENAME_NOREPLACE onto an existing file succeeded")
	}

	// delete: unlink (through a linked directory), unlinkat, rmdir; and
	// calls that fail, which change nothing.
	must(unix.Unlink(w + "/sublink/moved"))
	add(byPath(change{action: "delete", path: w + "/sub/moved", via: "unlink"}, "0600", "file"))
	must(unix.Unlinkat(dirfd, "hard2", 0))
	add(byPath(change{action: "delete", path: w + "/hard2", via: "unlink"}, "0600", "file"))
	must(unix.Unlinkat(dirfd, "dir2", unix.AT_REMOVEDIR))
	add(byPath(change{action: "delete", path: w + "/dir2", via: "rmdir"}, createdMode(0o755), "dir"))
	must(unix.Rmdir(w + "/empty"))
	add(byPath(change{action: "delete", path: w + "/empty", via: "rmdir"}, createdMode(0o755), "dir"))
	if unix.Unlink(w+"/no-such-file") == nil || unix.Rmdir(w+"/dir/..") == nil || unix.Chmod(w+"/no-such-file", 0o600) == nil {
		t.Fatal("a call meant to fail succeeded")
	}
	unix.Close(fd)

	// Another user's calls that the kernel refuses: no record.
	sh(t, &syscall.Credential{Uid: 65534, Gid: 65534}, `rm -f "$1" 2>/dev/null; chmod 777 "$2" 2>/dev/null; ln "$2" "$1.ln" 2>/dev/null; true`, w+"/pre", w+"/other")
	// Shell tools: their records name them.
	sh(t, nil, `ln -s "$1" "$2" && rm "$2" "$3"`, "../fifo", w+"/dir/link", w+"/fifo")
	add(byPath(change{action: "create", path: w + "/dir/link", target: "../fifo", via: "symlink", mode: "0777", typ: "symlink", comm: "ln", user: root}, "0777", "symlink"))
	add(byPath(change{action: "delete", path: w + "/dir/link", via: "unlink", comm: "rm", user: root}, "0777", "symlink"))
	add(byPath(change{action: "delete", path: w + "/fifo", via: "unlink", comm: "rm", user: root}, createdMode(0o644), "fifo"))

	records := agent.Stop()
	logSummary(t, records, w)
	checkHooks(t, records, modes)
	checkChanges(t, records, wants, w)
	return agent
}
