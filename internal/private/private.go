// Package private owns reading key and credential files: a file is taken
// only when it is a regular file of root or the agent's own user that
// group and others may neither read nor change, checked on the file
// opened, never on its name.
package private

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// File is a key or credential file a config names; What names it in
// errors ("chain key_file", "sink k: tls_key_file").
type File struct{ What, Path string }

// Read reads a key or credential file, opened by Open: what is checked is
// what is read. It refuses an empty file too.
func Read(path, what string) ([]byte, error) {
	f, err := Open(path, what, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s %s is empty", what, path)
	}
	return data, nil
}

// Check is Read without reading: the same checks, and the secret stays on
// disk.
func Check(path, what string) error {
	f, err := Open(path, what, os.O_RDONLY)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		return fmt.Errorf("%s %s is empty", what, path)
	}
	return nil
}

// Open opens a key or credential file with flag (os.O_RDONLY or
// os.O_RDWR) and refuses it, closed again, unless it is a regular file (a
// symbolic link at path is not followed) of root or the agent's user that
// group and others may neither read nor change: the checks are made on
// the file opened (Mode), not on the name. what names the file in
// errors, each one line.
func Open(path, what string, flag int) (*os.File, error) {
	// O_NONBLOCK: a FIFO at path must not hold the start up; it is
	// refused below like any other file that is not a regular one.
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			if st, lerr := os.Lstat(path); lerr == nil && st.Mode()&os.ModeSymlink != 0 {
				return nil, fmt.Errorf("%s %s: is a symbolic link, which is not followed: name the file itself", what, path)
			}
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	st, err := f.Stat()
	if err == nil {
		err = Mode(st)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return f, nil
}

// Mode refuses a key file's stat unless it is a regular file of root or
// the agent's user that only its owner may read or change.
func Mode(st os.FileInfo) error {
	switch t := st.Mode().Type(); {
	case t&os.ModeDir != 0:
		return errors.New("is a directory, want a regular file")
	case t != 0:
		return errors.New("is not a regular file (a device, pipe or socket)")
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 && int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("owned by uid %d, want root or the agent's user (uid %d)", sys.Uid, os.Geteuid())
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("mode %04o lets group or others read or change it; want 0600 or 0400", st.Mode().Perm())
	}
	return nil
}
