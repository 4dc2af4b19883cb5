package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// FileOptions configure a file sink.
type FileOptions struct {
	Name       string
	Path       string
	MaxBytes   int64 // rotate before a write would make the file larger; 0: never
	MaxBackups int   // rotated files kept as Path.1 (newest) to Path.N
}

// File appends records to a file, one per line, and rotates it by size.
type File struct {
	opts FileOptions

	mu   sync.Mutex
	f    *os.File
	size int64
	buf  []byte
}

var _ Sink = (*File)(nil)
var _ Reopener = (*File)(nil)

// OpenFile opens (or creates, mode 0600, with its directory) the sink's file.
func OpenFile(o FileOptions) (*File, error) {
	s := &File{opts: o}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// Name is the sink's configured name.
func (s *File) Name() string { return s.opts.Name }

func (s *File) open() error {
	if err := os.MkdirAll(filepath.Dir(s.opts.Path), 0o750); err != nil {
		return fmt.Errorf("file sink %s: creating directory: %w", s.opts.Name, err)
	}
	f, err := os.OpenFile(s.opts.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("file sink %s: %w", s.opts.Name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("file sink %s: %w", s.opts.Name, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("file sink %s: %s is not a regular file", s.opts.Name, s.opts.Path)
	}
	s.f, s.size = f, st.Size()
	return nil
}

// Write appends the batch, rotating first whenever the next record would
// push the file past MaxBytes.
func (s *File) Write(ctx context.Context, batch [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	s.buf = s.buf[:0]
	pending := int64(0)
	for _, rec := range batch {
		if s.opts.MaxBytes > 0 && s.size+pending > 0 && s.size+pending+int64(len(rec)) > s.opts.MaxBytes {
			if err := s.flush(); err != nil {
				return err
			}
			pending = 0
			if err := s.rotate(); err != nil {
				return err
			}
		}
		s.buf = append(s.buf, rec...)
		pending += int64(len(rec))
	}
	return s.flush()
}

func (s *File) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	n, err := s.f.Write(s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		// Take back a partial write so the file holds only whole records;
		// the caller still has the batch and may send it again.
		if n > 0 {
			if terr := s.f.Truncate(s.size); terr != nil {
				err = fmt.Errorf("%w (taking back the partial write failed too: %v)", err, terr)
			}
		}
		return fmt.Errorf("file sink %s: writing %s: %w", s.opts.Name, s.opts.Path, err)
	}
	s.size += int64(n)
	return nil
}

// rotate moves Path to Path.1, Path.1 to Path.2 and so on, dropping what
// falls past MaxBackups, then opens a fresh Path.
func (s *File) rotate() error {
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("file sink %s: closing for rotation: %w", s.opts.Name, err)
	}
	s.f = nil
	backup := func(i int) string { return s.opts.Path + "." + strconv.Itoa(i) }
	if s.opts.MaxBackups <= 0 {
		if err := os.Remove(s.opts.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("file sink %s: rotating: %w", s.opts.Name, err)
		}
	} else {
		if err := os.Remove(backup(s.opts.MaxBackups)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("file sink %s: rotating: %w", s.opts.Name, err)
		}
		for i := s.opts.MaxBackups - 1; i >= 1; i-- {
			if err := os.Rename(backup(i), backup(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("file sink %s: rotating: %w", s.opts.Name, err)
			}
		}
		if err := os.Rename(s.opts.Path, backup(1)); err != nil {
			return fmt.Errorf("file sink %s: rotating: %w", s.opts.Name, err)
		}
	}
	return s.open()
}

// Reopen closes the file and opens Path again, for log rotators that moved it.
func (s *File) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		if err := s.f.Close(); err != nil {
			return fmt.Errorf("file sink %s: closing: %w", s.opts.Name, err)
		}
		s.f = nil
	}
	return s.open()
}

// Close closes the file.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// Stdout writes records to standard output, for containers.
type Stdout struct {
	name string
	w    io.Writer
	mu   sync.Mutex
}

var _ Sink = (*Stdout)(nil)

// NewStdout returns a sink writing to w (os.Stdout when nil).
func NewStdout(name string, w io.Writer) *Stdout {
	if w == nil {
		w = os.Stdout
	}
	return &Stdout{name: name, w: w}
}

// Name is the sink's configured name.
func (s *Stdout) Name() string { return s.name }

// Write writes the batch in one call.
func (s *Stdout) Write(ctx context.Context, batch [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range batch {
		n += len(r)
	}
	buf := make([]byte, 0, n)
	for _, r := range batch {
		buf = append(buf, r...)
	}
	if _, err := s.w.Write(buf); err != nil {
		return fmt.Errorf("stdout sink %s: %w", s.name, err)
	}
	return nil
}

// Close does nothing: standard output stays open.
func (s *Stdout) Close() error { return nil }
