package sink

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/fsaudit/fsaudit/record"
)

// FileOptions configure a file sink.
type FileOptions struct {
	Name       string
	Path       string
	MaxBytes   int64         // rotate before a write would make the file larger; 0: never
	MaxAge     time.Duration // rotate a file that was started this long ago; 0: never
	MaxBackups int           // rotated files kept as Path.1 (newest) to Path.N
	Compress   bool          // gzip rotated files (Path.1.gz ...)
	// Fsync is how soon written records reach the disk: 0 after every
	// batch, > 0 at most that long after a write, < 0 left to the kernel.
	Fsync  time.Duration
	Format record.Format
}

// File appends records to a file, one per line, and rotates it by size
// and age. A batch is acknowledged once written (and synced, when Fsync
// is 0).
type File struct {
	opts FileOptions

	mu      sync.Mutex
	f       *os.File
	size    int64
	started time.Time // when the current file was opened
	dirty   bool      // written since the last sync
	buf     []byte
	stop    chan struct{}
	done    chan struct{}
}

var _ Sink = (*File)(nil)
var _ Reopener = (*File)(nil)

// OpenFile opens (or creates, mode 0600, with its directory) the sink's file.
func OpenFile(o FileOptions) (*File, error) {
	s := &File{opts: o}
	if err := s.open(); err != nil {
		return nil, err
	}
	if o.Fsync > 0 {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.syncLoop()
	}
	return s, nil
}

// syncLoop syncs written data every Fsync interval.
func (s *File) syncLoop() {
	defer close(s.done)
	t := time.NewTicker(s.opts.Fsync)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			s.sync()
			s.mu.Unlock()
		}
	}
}

// sync flushes written data to the disk; errors surface on the next write.
func (s *File) sync() error {
	if !s.dirty || s.f == nil {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("file sink %s: syncing %s: %w", s.opts.Name, s.opts.Path, err)
	}
	s.dirty = false
	return nil
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
	s.f, s.size, s.started = f, st.Size(), time.Now()
	return nil
}

// Encode implements Sink: one record per line.
func (s *File) Encode(buf []byte, r *record.Record) ([]byte, Message) {
	return appendLine(buf, r, s.opts.Format)
}

// EncodeJSON implements JSONEncoder.
func (s *File) EncodeJSON(buf []byte, _ *record.Record, json []byte) ([]byte, Message, bool) {
	if _, ok := s.opts.Format.(record.JSON); !ok {
		return buf, Message{}, false
	}
	start := len(buf)
	buf = append(buf, json...)
	buf = append(buf, '\n')
	return buf, Message{Value: buf[start:]}, true
}

// Write appends the batch, rotating first whenever the next record would
// push the file past MaxBytes.
func (s *File) Write(ctx context.Context, batch []Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	s.buf = s.buf[:0]
	pending := int64(0)
	if s.opts.MaxAge > 0 && s.size > 0 && time.Since(s.started) >= s.opts.MaxAge {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	for _, m := range batch {
		rec := m.Value
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
	if err := s.flush(); err != nil {
		return err
	}
	if s.opts.Fsync == 0 {
		return s.sync()
	}
	return nil
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
	s.dirty = true
	return nil
}

// rotate moves Path to Path.1, Path.1 to Path.2 and so on (each .gz when
// compressing), dropping what falls past MaxBackups, then opens a fresh
// Path. The file is synced before it moves, whatever the fsync policy.
func (s *File) rotate() error {
	if err := s.sync(); err != nil {
		return err
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("file sink %s: closing for rotation: %w", s.opts.Name, err)
	}
	s.f, s.dirty = nil, false
	ext := ""
	if s.opts.Compress {
		ext = ".gz"
	}
	backup := func(i int) string { return s.opts.Path + "." + strconv.Itoa(i) + ext }
	fail := func(err error) error { return fmt.Errorf("file sink %s: rotating: %w", s.opts.Name, err) }
	if s.opts.MaxBackups <= 0 {
		if err := os.Remove(s.opts.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail(err)
		}
		return s.open()
	}
	if err := os.Remove(backup(s.opts.MaxBackups)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fail(err)
	}
	for i := s.opts.MaxBackups - 1; i >= 1; i-- {
		if err := os.Rename(backup(i), backup(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail(err)
		}
	}
	if s.opts.Compress {
		if err := gzipFile(s.opts.Path, backup(1)); err != nil {
			return fail(err)
		}
		if err := os.Remove(s.opts.Path); err != nil {
			return fail(err)
		}
	} else if err := os.Rename(s.opts.Path, backup(1)); err != nil {
		return fail(err)
	}
	return s.open()
}

// gzipFile writes src compressed to dst (mode 0600, synced), replacing dst
// only once it is whole.
func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
	_, err = io.Copy(zw, in)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Reopen closes the file and opens Path again, for log rotators that moved it.
func (s *File) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		if err := s.sync(); err != nil {
			return err
		}
		if err := s.f.Close(); err != nil {
			return fmt.Errorf("file sink %s: closing: %w", s.opts.Name, err)
		}
		s.f = nil
	}
	return s.open()
}

// Close syncs and closes the file.
func (s *File) Close() error {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

// Stdout writes records to standard output, for containers.
type Stdout struct {
	name   string
	w      io.Writer
	format record.Format
	mu     sync.Mutex
	buf    []byte
}

var _ Sink = (*Stdout)(nil)

// NewStdout returns a sink writing records in format f to w (os.Stdout
// when nil), one per line.
func NewStdout(name string, w io.Writer, f record.Format) *Stdout {
	if w == nil {
		w = os.Stdout
	}
	return &Stdout{name: name, w: w, format: f}
}

// Encode implements Sink: one record per line.
func (s *Stdout) Encode(buf []byte, r *record.Record) ([]byte, Message) {
	return appendLine(buf, r, s.format)
}

// Name is the sink's configured name.
func (s *Stdout) Name() string { return s.name }

// Write writes the batch in one call.
func (s *Stdout) Write(ctx context.Context, batch []Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.buf[:0]
	for _, m := range batch {
		s.buf = append(s.buf, m.Value...)
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("stdout sink %s: %w", s.name, err)
	}
	return nil
}

// Close does nothing: standard output stays open.
func (s *Stdout) Close() error { return nil }
