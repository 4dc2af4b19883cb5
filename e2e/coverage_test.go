package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsaudit/fsaudit/bpf"
	"golang.org/x/sys/unix"
)

// errUnsupported marks a channel this kernel has no call for.
var errUnsupported = errors.New("the kernel lacks this call")

// channelWork does the changes of a coverage channel inside dir (a fresh
// directory holding "file", 4096 bytes long, an empty "out", and "sub"
// holding an empty "x") and
// returns the records they should make: action and path, a pair each.
type channelWork func(dir string) (expect []string, err error)

// all is the expectation of changes of one action to files of dir, each
// with the error of the call that made it.
func all(dir, action string, changes map[string]error) ([]string, error) {
	var out []string
	for name, err := range changes {
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", action, name, err)
		}
		out = append(out, action, dir+"/"+name)
	}
	return out, nil
}

// one is the expectation of a channel that makes one change.
func one(action, path string, err error) ([]string, error) { return []string{action, path}, err }

// channelWorks holds a workload for every bpf.Channels entry, by Way.
var channelWorks = map[string]channelWork{
	"write(2), pwrite64(2), writev(2), pwritev(2), pwritev2(2)": func(dir string) ([]string, error) {
		return one("write", dir+"/file", withFile(dir+"/file", unix.O_WRONLY, func(fd int) error {
			_, err := unix.Pwrite(fd, []byte("pwrite"), 10)
			return err
		}))
	},
	"write(2) through the 32-bit system call ABI (int $0x80)": func(dir string) ([]string, error) {
		return one("write", dir+"/file", withFile(dir+"/file", unix.O_WRONLY, func(fd int) error {
			a, free, err := low32("int80")
			if err != nil {
				return err
			}
			defer free()
			return result32(int80(sys32Write, uintptr(fd), a[0], 5))
		}))
	},
	"unlink(2), rename(2) through the 32-bit system call ABI (int $0x80)": func(dir string) ([]string, error) {
		a, free, err := low32(dir+"/out", dir+"/sub/x", dir+"/sub/y")
		if err != nil {
			return nil, err
		}
		defer free()
		if err := result32(int80(sys32Unlink, a[0], 0, 0)); err != nil {
			return nil, err
		}
		return []string{"delete", dir + "/out", "rename", dir + "/sub/x"}, result32(int80(sys32Rename, a[1], a[2], 0))
	},
	"fallocate(2): a hole punched, a range collapsed, zeroed or inserted, the file grown": func(dir string) ([]string, error) {
		return one("write", dir+"/file", withFile(dir+"/file", unix.O_WRONLY, func(fd int) error {
			return unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 1024)
		}))
	},
	"FICLONE, FICLONERANGE, FIDEDUPERANGE ioctls (reflinks)": func(dir string) ([]string, error) {
		return one("write", dir+"/out", withFile(dir+"/file", unix.O_RDONLY, func(src int) error {
			return withFile(dir+"/out", unix.O_WRONLY, func(dst int) error {
				err := unix.IoctlFileClone(dst, src)
				if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTTY) {
					return fmt.Errorf("%w: this file system has no reflinks (%v); TestReflinks makes them on XFS", errUnsupported, err)
				}
				return err
			})
		}))
	},
	"io_uring fallocate": func(dir string) ([]string, error) {
		return one("write", dir+"/file", withFile(dir+"/file", unix.O_WRONLY, func(fd int) error {
			// fallocate: fd, off = offset, addr = length, len = mode.
			return wantResult(uringSubmit(uringSQE{Opcode: uringOpFallocate, Fd: int32(fd), Off: 0, Addr: 1024,
				Len: unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE}))
		}))
	},
	"utimensat(2), futimens(3), utimes(2), futimesat(2), utime(2)": func(dir string) ([]string, error) {
		return one("utimes", dir+"/file", unix.UtimesNano(dir+"/file", []unix.Timespec{{Sec: 1e9}, {Sec: 1e9}}))
	},
	"sendfile(2), splice(2), copy_file_range(2)": func(dir string) ([]string, error) {
		return one("write", dir+"/out", withFile(dir+"/file", unix.O_RDONLY, func(in int) error {
			return withFile(dir+"/out", unix.O_WRONLY, func(out int) error {
				_, err := unix.Sendfile(out, in, nil, 100)
				return err
			})
		}))
	},
	"io_uring writes": func(dir string) ([]string, error) {
		return one("write", dir+"/file", withFile(dir+"/file", unix.O_WRONLY, func(fd int) error {
			return wantResult(uringWrite(fd, []byte("uring"), 100))
		}))
	},
	"Linux AIO writes (io_submit(2))": func(dir string) ([]string, error) {
		return one("write", dir+"/file", withFile(dir+"/file", unix.O_WRONLY, func(fd int) error {
			return wantResult(aioWrite(fd, []byte("aio"), 200))
		}))
	},
	"open(2), openat(2), openat2(2), creat(2) making a file": func(dir string) ([]string, error) {
		fd, err := unix.Creat(dir+"/new", 0o644)
		if err == nil {
			unix.Close(fd)
		}
		return one("create", dir+"/new", err)
	},
	"mknod(2), mkdir(2), link(2), symlink(2) and their *at forms": func(dir string) ([]string, error) {
		return all(dir, "create", map[string]error{
			"newdir":  unix.Mkdir(dir+"/newdir", 0o755),
			"fifo":    unix.Mknod(dir+"/fifo", unix.S_IFIFO|0o600, 0),
			"link":    unix.Link(dir+"/file", dir+"/link"),
			"symlink": unix.Symlink("file", dir+"/symlink"),
		})
	},
	"io_uring openat, mkdirat, linkat, symlinkat": func(dir string) ([]string, error) {
		fd, err := uringOpenat(dir+"/uring-new", unix.O_CREAT|unix.O_WRONLY, 0o644)
		if err == nil && fd >= 0 {
			unix.Close(fd)
		}
		if err := wantResult(fd, err); err != nil {
			return nil, err
		}
		for _, op := range []func() (int, error){
			func() (int, error) { return uringMkdirat(dir+"/uring-dir", 0o755) },
			func() (int, error) { return uringLink(uringOpSymlinkat, "file", dir+"/uring-symlink") },
			func() (int, error) { return uringLink(uringOpLinkat, dir+"/file", dir+"/uring-link") },
		} {
			if err := wantResult(op()); err != nil {
				return nil, err
			}
		}
		return []string{"create", dir + "/uring-new", "create", dir + "/uring-dir", "create", dir + "/uring-symlink",
			"create", dir + "/uring-link"}, nil
	},
	"truncate(2), ftruncate(2), O_TRUNC": func(dir string) ([]string, error) {
		return all(dir, "truncate", map[string]error{
			"file":  unix.Truncate(dir+"/file", 100),
			"out":   withFile(dir+"/out", unix.O_WRONLY, func(fd int) error { return unix.Ftruncate(fd, 10) }),
			"sub/x": withFile(dir+"/sub/x", unix.O_WRONLY|unix.O_TRUNC, func(int) error { return nil }),
		})
	},
	"rename(2), renameat(2), renameat2(2) (RENAME_EXCHANGE too)": func(dir string) ([]string, error) {
		err1 := unix.Rename(dir+"/file", dir+"/renamed")
		return all(dir, "rename", map[string]error{
			"file": err1,
			"out":  unix.Renameat2(unix.AT_FDCWD, dir+"/out", unix.AT_FDCWD, dir+"/renamed", unix.RENAME_EXCHANGE),
		})
	},
	"io_uring renameat": func(dir string) ([]string, error) {
		return one("rename", dir+"/file", wantResult(uringRenameat(dir+"/file", dir+"/renamed")))
	},
	"unlink(2), unlinkat(2), rmdir(2)": func(dir string) ([]string, error) {
		err1 := unix.Unlink(dir + "/sub/x")
		return all(dir, "delete", map[string]error{
			"file":  unix.Unlink(dir + "/file"),
			"sub/x": err1,
			"sub":   unix.Rmdir(dir + "/sub"),
		})
	},
	"io_uring unlinkat": func(dir string) ([]string, error) {
		return one("delete", dir+"/file", wantResult(uringUnlinkat(dir+"/file")))
	},
	"chmod(2), fchmod(2), fchmodat(2), fchmodat2(2)": func(dir string) ([]string, error) {
		return all(dir, "chmod", map[string]error{
			"file": unix.Chmod(dir+"/file", 0o600),
			"out":  withFile(dir+"/out", unix.O_RDONLY, func(fd int) error { return unix.Fchmod(fd, 0o640) }),
		})
	},
	"chown(2), fchown(2), lchown(2), fchownat(2)": func(dir string) ([]string, error) {
		return all(dir, "chown", map[string]error{
			"file": unix.Chown(dir+"/file", 65534, 65534),
			"out":  withFile(dir+"/out", unix.O_RDONLY, func(fd int) error { return unix.Fchown(fd, 65534, -1) }),
		})
	},
	"setxattr(2), removexattr(2) and their f, l and at forms": func(dir string) ([]string, error) {
		return all(dir, "xattr", map[string]error{
			"file": unix.Setxattr(dir+"/file", "trusted.coverage", []byte("1"), 0),
			"out":  withFile(dir+"/out", unix.O_RDONLY, func(fd int) error { return unix.Fsetxattr(fd, "trusted.coverage", []byte("2"), 0) }),
		})
	},
	"mmap(2) of a file, shared and writable": func(dir string) ([]string, error) {
		return one("mmap_write", dir+"/file", withFile(dir+"/file", unix.O_RDWR, func(fd int) error {
			m, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			if err != nil {
				return err
			}
			copy(m, "mapped")
			return unix.Munmap(m)
		}))
	},
	"mprotect(2) adding PROT_WRITE to a shared mapping": func(dir string) ([]string, error) {
		return one("mmap_write", dir+"/file", withFile(dir+"/file", unix.O_RDWR, func(fd int) error {
			m, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ, unix.MAP_SHARED)
			if err != nil {
				return err
			}
			if err := unix.Mprotect(m, unix.PROT_READ|unix.PROT_WRITE); err != nil {
				return err
			}
			copy(m, "mapped")
			return unix.Munmap(m)
		}))
	},
}

// hookOf is the hook of the first record of action among rs.
func hookOf(rs []Record, action string) string {
	for _, r := range rs {
		if r.Event.Action == action {
			return r.FSAudit.Hook
		}
	}
	return ""
}

func withFile(path string, flags int, f func(fd int) error) error {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return f(fd)
}

// wantResult turns an io_uring or AIO completion into an error.
func wantResult(res int, err error) error {
	switch {
	case err != nil && (errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM)):
		return fmt.Errorf("%w: %v", errUnsupported, err)
	case err != nil:
		return err
	case res == -int(unix.EINVAL) || res == -int(unix.EOPNOTSUPP):
		return fmt.Errorf("%w: completion %d", errUnsupported, res)
	case res < 0:
		return unix.Errno(-res)
	}
	return nil
}

// TestCoverage runs one change per coverage channel, each in a directory of
// its own, and checks that the agent reports exactly the channels that
// bpf.CoverageFor says the hook mode under test sees. Its "coverage:" lines
// are what the kernel matrix builds the README's coverage table from.
func TestCoverage(t *testing.T) {
	requireRoot(t)
	w := tmpDir(t, "fsaudit-coverage-", 0o755)
	dirs := make([]string, len(bpf.Channels))
	for i, ch := range bpf.Channels {
		if channelWorks[ch.Way] == nil {
			t.Fatalf("no workload for channel %q", ch.Way)
		}
		dirs[i] = filepath.Join(w, fmt.Sprintf("c%02d", i))
		if err := os.Mkdir(dirs[i], 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dirs[i]+"/file", make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dirs[i]+"/out", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dirs[i]+"/sub", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dirs[i]+"/sub/x", nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	agent := StartAgent(t, AgentConfig{Include: []string{w}, Sink: filepath.Join(t.TempDir(), "audit.jsonl"), Actions: allActions})
	took := map[string]bpf.Mode{}
	for p, m := range agent.PointModes() {
		took[p] = bpf.Mode(m)
	}
	attached := bpf.CoverageOf(took)
	type result struct {
		expect []string // action, path, action, path ...
		err    error
	}
	results := make([]result, len(bpf.Channels))
	for i, ch := range bpf.Channels {
		expect, err := channelWorks[ch.Way](dirs[i])
		results[i] = result{expect, err}
		if err != nil && !errors.Is(err, errUnsupported) {
			t.Errorf("%s: %v", ch.Way, err)
		}
	}
	records := agent.Stop()

	// What check says this mode does not see, with the reasons.
	dir := t.TempDir()
	conf := writeConfig(t, fmt.Sprintf("[agent]\nhook = %q\n[[sink]]\nname = \"a\"\ntype = \"file\"\npath = %q\n", *agentHook, dir+"/audit.jsonl"))
	code, stdout, stderr := runAgentCmd(t, "check", "--config", conf)
	if code != 0 {
		t.Fatalf("check exit %d:\n%s%s", code, stdout, stderr)
	}
	unseen := checkUnseen(t, stdout, *agentHook)

	want := bpf.CoverageFor(*agentHook, nil)
	for i, ch := range bpf.Channels {
		r := results[i]
		if errors.Is(r.err, errUnsupported) {
			t.Logf("coverage: %d %s untested (%v)", i, *agentHook, r.err)
			continue
		}
		var got []Record
		for _, rec := range records {
			if strings.HasPrefix(rec.File.Path, dirs[i]+"/") || rec.File.Path == dirs[i] {
				got = append(got, rec)
			}
		}
		// Seen when every change made its record, not seen when none did.
		found := 0
		expected := map[string]bool{}
		for j := 0; j+1 < len(r.expect); j += 2 {
			expected[r.expect[j]+" "+r.expect[j+1]] = true
			for _, rec := range got {
				if rec.Event.Action == r.expect[j] && rec.File.Path == r.expect[j+1] {
					found++
					break
				}
			}
		}
		seen := found > 0
		if found != 0 && found != len(r.expect)/2 {
			t.Errorf("%s: %d of %d changes made records", ch.Way, found, len(r.expect)/2)
		}
		state := "no"
		if seen {
			state = "seen"
		}
		t.Logf("coverage: %d %s %s", i, *agentHook, state)
		if seen != want[i].Seen {
			t.Errorf("%s %s: seen %v, but the coverage table says %s; records: %d", ch.Action, ch.Way, seen, want[i], len(got))
		}
		if seen != attached[i].Seen || seen && attached[i].By != bpf.Mode(hookOf(got, r.expect[0])) {
			t.Errorf("%s %s: seen %v (hook %q), but with the points the agent attached (%v) it should be %s", ch.Action, ch.Way, seen, hookOf(got, r.expect[0]), took, attached[i])
		}
		if seen == unseen[ch.Action+", "+ch.Way] {
			t.Errorf("%s %s: seen %v, but check's list of what hook = %s does not see says %v", ch.Action, ch.Way, seen, *agentHook, !seen)
		}
		for _, rec := range got {
			if !expected[rec.Event.Action+" "+rec.File.Path] {
				t.Errorf("%s: unexpected record: %s", ch.Way, rec.Raw)
			}
		}
	}
}
