package enrich

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Reading files below a writer's root. Everything there is the writer's to
// choose: a FIFO where /etc/passwd should be, a link to /dev/zero or to the
// host's /etc/shadow, a sparse file of a terabyte, a loop of links. The
// rules: names resolve inside the root (an absolute link or ".." never
// leaves it, magic links of /proc are refused); the last component is not
// followed; only a regular file is opened at all (a device is never opened,
// so no driver's open runs), and then non-blocking; at most maxRootFile
// bytes are read. Whatever may still block (a FUSE file system that does
// not answer) runs beside the event path (see beside.go).

// maxRootFile bounds a passwd or group file read from a root.
const maxRootFile = 8 << 20

// errNotRegular and errTooLarge say why a file below a root was not read.
var (
	errNotRegular = errors.New("not a regular file")
	errTooLarge   = errors.New("larger than the bound")
)

// openat2Missing is set once openat2(2) is found missing (ENOSYS) or refused
// by a seccomp filter (EPERM): the walk in user space takes over.
var openat2Missing atomic.Bool

// openInRoot opens name (relative to the directory root, "/"-separated)
// with O_PATH, every component resolved inside root and the last one not
// followed: a symbolic link there is returned as the link itself.
func openInRoot(root int, name string) (int, error) {
	name = strings.TrimLeft(name, "/")
	if !openat2Missing.Load() {
		fd, err := unix.Openat2(root, name, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == nil || (err != unix.ENOSYS && err != unix.EPERM) {
			return fd, err
		}
		openat2Missing.Store(true)
	}
	return walkInRoot(root, name)
}

// maxLinks bounds the symbolic links one walk follows, as the kernel's 40.
const maxLinks = 40

// walkInRoot does what openat2's RESOLVE_IN_ROOT does, in user space, for
// kernels or sandboxes without it: component by component with O_PATH and
// O_NOFOLLOW, a link's text spliced in (an absolute one from root), ".."
// taken from the directories walked (never from the file system, so a
// directory moved away meanwhile cannot lead out), at most maxLinks links.
func walkInRoot(root int, name string) (int, error) {
	self, err := unix.Openat(root, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	stack := []int{self} // the directories from root to where the walk is
	defer func() {
		for _, fd := range stack {
			unix.Close(fd)
		}
	}()
	rest := strings.Split(name, "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				unix.Close(stack[len(stack)-1])
				stack = stack[:len(stack)-1]
			}
			continue
		}
		fd, st, err := openStat(stack[len(stack)-1], c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
		if err != nil {
			return -1, err
		}
		last := len(rest) == 0 || strings.Trim(strings.Join(rest, "/"), "/.") == ""
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFLNK && !last:
			links++
			if links > maxLinks {
				unix.Close(fd)
				return -1, unix.ELOOP
			}
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(fd, "", buf)
			unix.Close(fd)
			if err != nil {
				return -1, err
			}
			target := string(buf[:n])
			if strings.HasPrefix(target, "/") {
				for _, d := range stack[1:] {
					unix.Close(d)
				}
				stack = stack[:1]
			}
			rest = append(strings.Split(target, "/"), rest...)
		case last:
			return fd, nil
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			unix.Close(fd)
			return -1, unix.ENOTDIR
		default:
			stack = append(stack, fd)
		}
	}
	// The name led back to a directory on the stack (".", "a/.."): that one.
	return unix.Dup(stack[len(stack)-1])
}

// rootFile is what was read of one file below a root.
type rootFile struct {
	data  []byte
	stamp fileStamp
}

// statInRoot returns the stamp of name below root, which must be a regular
// file, without opening it for reading.
func statInRoot(root int, name string) (fileStamp, error) {
	fd, err := openInRoot(root, name)
	if err != nil {
		return fileStamp{}, err
	}
	defer unix.Close(fd)
	st, err := regularStamp(fd)
	return st, err
}

func regularStamp(fd int) (fileStamp, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileStamp{}, err
	}
	s := fileStamp{size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), ino: st.Ino, dev: st.Dev}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return s, errNotRegular
	}
	if st.Size > maxRootFile {
		return s, errTooLarge
	}
	return s, nil
}

// readInRoot reads name below root by the rules above.
func readInRoot(root int, name string) (rootFile, error) {
	fd, err := openInRoot(root, name)
	if err != nil {
		return rootFile{}, err
	}
	return readOpened(fd)
}

// readOpened reads the file open at fd (O_PATH), which it closes, if it is
// a regular file within the bound.
func readOpened(fd int) (rootFile, error) {
	defer unix.Close(fd)
	stamp, err := regularStamp(fd)
	if err != nil {
		return rootFile{}, err
	}
	// Opened for reading through the O_PATH descriptor, so it is the very
	// file checked above, whatever the name leads to by now.
	rfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return rootFile{}, err
	}
	f := os.NewFile(uintptr(rfd), "")
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRootFile+1))
	if err != nil {
		return rootFile{}, err
	}
	if len(data) > maxRootFile {
		return rootFile{}, errTooLarge // it grew while it was read
	}
	return rootFile{data: data, stamp: stamp}, nil
}

// openRoot opens the directory at dir (a /proc/PID/root link, a host path)
// with O_PATH and checks that it is the root key: a pid may have been
// reused, a mount point may show another mount.
func openRoot(dir string, key rootKey) (int, error) {
	fd, st, err := openStat(unix.AT_FDCWD, dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return -1, err
	}
	if st.Ino != key.ino || unix.Major(st.Dev)<<20|unix.Minor(st.Dev) != key.dev {
		unix.Close(fd)
		return -1, fmt.Errorf("%s is no longer the root %d:%d", dir, key.dev, key.ino)
	}
	return fd, nil
}

// openStat opens name relative to dir with flags and reads its status.
func openStat(dir int, name string, flags int) (int, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Openat(dir, name, flags, 0)
	if err != nil {
		return -1, st, err
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, err
	}
	return fd, st, nil
}
