// Package file owns the file sink: records appended to a file, one per
// line, which the agent rotates by size and age (or logrotate does), and
// its [[sink]] keys.
package file

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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
)

// Options configure a file sink.
type Options struct {
	Name       string
	Path       string
	MaxBytes   int64         // rotate before a write would make the file larger; 0: never
	MaxAge     time.Duration // rotate a file that was started this long ago; 0: never
	MaxBackups int           // rotated files kept as Path.1 (newest) to Path.N; 0: none, a rotation removes the file
	Compress   bool          // gzip rotated files (Path.1.gz ...)
	// Fsync is how soon written records reach the disk: 0 after every
	// batch, > 0 at most that long after a write, < 0 left to the kernel.
	Fsync  time.Duration
	Format record.Format
	// Marked makes every file the sink starts (by rotation or on Reopen)
	// begin with a seal record of its chain: when a file is due to end,
	// the sink asks its route for one (TakeMarkRequest) and starts the
	// next file at the message that carries it (Message.Mark). A verifier
	// then tells a file whose head retention removed from one whose first
	// lines were cut.
	Marked bool
}

// Sink appends records to a file, one per line, and rotates it by size
// and age. A batch is acknowledged once written (and synced, when Fsync
// is 0).
type Sink struct {
	opts Options

	mu      sync.Mutex
	f       *os.File
	size    int64
	started time.Time // when the current file was opened
	dirty   bool      // written since the last sync
	buf     []byte
	// With Marked: a mark is wanted (a file is due to end), and whether
	// the next file comes from Reopen rather than rotation.
	markWanted  atomic.Bool
	outstanding bool      // a mark was asked for and has not come: ask once per file
	askedAt     time.Time // when; a mark lost on the way is asked for again after markWait
	reopenDue   bool
	stop        chan struct{}
	done        chan struct{}
}

var _ sink.Sink = (*Sink)(nil)
var _ sink.Reopener = (*Sink)(nil)
var _ sink.MarkRequester = (*Sink)(nil)

// TakeMarkRequest implements sink.MarkRequester: true once for each file due
// to end.
func (s *Sink) TakeMarkRequest() bool { return s.markWanted.CompareAndSwap(true, false) }

// OpenSink opens (or creates, mode 0600, with its directory) the sink's
// file. It never follows a symbolic link at the path, and refuses a
// directory that other users could plant names in (see CheckFileDir).
func OpenSink(o Options) (*Sink, error) {
	s := &Sink{opts: o}
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
func (s *Sink) syncLoop() {
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
func (s *Sink) sync() error {
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
func (s *Sink) Name() string { return s.opts.Name }

// open opens Path for appending, creating it and its directory: at the
// start, on Reopen and after each rotation. Neither a link planted at Path
// nor a directory others can write is ever used.
func (s *Sink) open() error {
	dir := filepath.Dir(s.opts.Path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("file sink %s: creating directory: %w", s.opts.Name, err)
	}
	if err := CheckFileDir(dir); err != nil {
		return fmt.Errorf("file sink %s: %w", s.opts.Name, err)
	}
	f, err := os.OpenFile(s.opts.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("file sink %s: %w", s.opts.Name, noFollowError(s.opts.Path, err))
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

// CheckFileDir refuses dir as the directory of a sink file when anyone but
// root and the agent's own user could create or replace names in it (as
// logrotate refuses "insecure permissions"): a directory owned by another
// user, or writable by group or others, sticky or not (in /tmp others can
// plant a link at the name before the agent creates the file). A directory
// that does not exist yet passes: OpenSink creates it, 0750, owned by the
// agent.
func CheckFileDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	const fix = "insecure permissions, make it 0755 and owned by root"
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("directory %s is writable by group or others (mode %04o): %s", dir, unixMode(st.Mode()), fix)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 && int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("directory %s is owned by uid %d, neither root nor the agent's user (uid %d): %s", dir, sys.Uid, os.Geteuid(), fix)
	}
	return nil
}

// unixMode is m's permission, sticky, setgid and setuid bits as chmod
// takes them (01777 for /tmp).
func unixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&os.ModeSticky != 0 {
		u |= 0o1000
	}
	if m&os.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&os.ModeSetuid != 0 {
		u |= 0o4000
	}
	return u
}

// noFollowError says in words that an open with O_NOFOLLOW met a symbolic
// link; other errors it returns as they are.
func noFollowError(path string, err error) error {
	if errors.Is(err, syscall.ELOOP) {
		if st, lerr := os.Lstat(path); lerr == nil && st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link: a file sink never follows one", path)
		}
	}
	return err
}

// Encode implements sink.Sink: one record per line.
func (s *Sink) Encode(buf []byte, r *record.Record) ([]byte, sink.Message) {
	return sink.AppendLine(buf, r, s.opts.Format)
}

// EncodeJSON implements sink.JSONEncoder.
func (s *Sink) EncodeJSON(buf []byte, _ *record.Record, json []byte) ([]byte, sink.Message, bool) {
	if _, ok := s.opts.Format.(record.JSON); !ok {
		return buf, sink.Message{}, false
	}
	start := len(buf)
	buf = append(buf, json...)
	buf = append(buf, '\n')
	return buf, sink.Message{Value: buf[start:]}, true
}

// Write appends the batch, rotating first whenever the next record would
// push the file past MaxBytes. With Marked it rotates (or reopens) only at
// a marked message, and asks for one when the file is due to end.
func (s *Sink) Write(ctx context.Context, batch []sink.Message) error {
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
		if s.opts.Marked {
			s.askMark()
		} else if err := s.rotate(); err != nil {
			return err
		}
	}
	for _, m := range batch {
		rec := m.Value
		full := s.opts.MaxBytes > 0 && s.size+pending > 0 && s.size+pending+int64(len(rec)) > s.opts.MaxBytes
		// A mark comes after what the route had queued or spooled by the
		// time it was asked for: a backlog can keep it long, and twice
		// the limit is the most a file may wait for it.
		overdue := full && s.size+pending+int64(len(rec)) > 2*s.opts.MaxBytes
		if m.Mark {
			s.outstanding = false
		}
		switch {
		case s.opts.Marked && m.Mark && s.size+pending > 0:
			if err := s.flush(); err != nil {
				return err
			}
			pending = 0
			if err := s.next(); err != nil {
				return err
			}
		case s.opts.Marked && full && !overdue:
			s.askMark() // go on until the mark comes
		case full:
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

func (s *Sink) flush() error {
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
// compressing), dropping what falls past MaxBackups (with MaxBackups 0,
// Path itself), then opens a fresh Path. The file is synced before it
// moves, whatever the fsync policy.
func (s *Sink) rotate() error {
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
// only once it is whole. Neither src nor the temporary file is reached
// through a symbolic link: a stale or planted dst.tmp is removed (the
// link itself, not its target) and the new one made with O_EXCL.
func gzipFile(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return noFollowError(src, err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
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

// askMark asks the route for a mark, once until it comes, or again when
// it has not come for markWait (lost on the way: a spool that could not
// take it, a delivery given up).
func (s *Sink) askMark() {
	if !s.outstanding || time.Since(s.askedAt) >= markWait {
		s.outstanding, s.askedAt = true, time.Now()
		s.markWanted.Store(true)
	}
}

// markWait is how long a mark asked for may take before it is asked for
// again.
const markWait = time.Minute

// next starts the next file at a mark: by reopening Path when Reopen asked
// for it (a log rotator moved the file), else by rotation.
func (s *Sink) next() error {
	if !s.reopenDue && (s.opts.MaxBytes > 0 || s.opts.MaxAge > 0) {
		return s.rotate()
	}
	s.reopenDue = false
	return s.reopen()
}

// Reopen closes the file and opens Path again, for log rotators that moved
// it; with Marked, at the mark it asks for, so the new file begins with it.
func (s *Sink) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Marked {
		s.reopenDue = true
		s.askMark()
		return nil
	}
	return s.reopen()
}

func (s *Sink) reopen() error {
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
func (s *Sink) Close() error {
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
