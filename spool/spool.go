// Package spool owns the disk queue between the pipeline and one sink:
// append-only segment files of framed, checksummed entries, a cursor of
// what the sink acknowledged, recovery after a crash (a torn tail is cut
// off and reported, the good part kept), and the size limit with its
// policy for a full disk queue.
package spool

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Entry is one record as its sink will send it, with what the spool keeps
// beside it: the record's sequence number and the hash chain value after it.
type Entry struct {
	Seq   uint64
	Time  time.Time
	Hash  [32]byte // the chain's hash after this record; zero when not chaining
	Key   []byte
	Value []byte
	Mark  bool // the record starts its sink's next file (see sink.Message)
	// legacy: read from a frame of a version before chain sequences,
	// whose Seq is no chain's.
	legacy bool
}

// Options configure a spool.
type Options struct {
	Dir          string // one directory per sink
	MaxBytes     int64  // the most the segments may hold; 0: no limit
	SegmentBytes int64  // a segment is closed at this size; default 16 MiB
	// DropNewest refuses new entries when the spool is full; otherwise the
	// oldest segment is dropped to make room.
	DropNewest bool
}

// Recovery says what Open found.
type Recovery struct {
	Entries   int      // entries waiting for the sink
	TornBytes int64    // bytes cut off the end of the last segment (a write the crash cut short)
	Corrupt   []string // segments that held a bad frame before their end; what followed it is gone
}

// Position is a place in the spool: a segment and a byte offset in it.
type Position struct {
	Segment uint64
	Offset  int64
}

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("spool closed")

type segment struct {
	id   uint64
	size int64
}

// Spool is a disk queue for one sink. Append and Read/Ack may be called
// from different goroutines.
type Spool struct {
	opts Options
	lock *os.File

	frameMu sync.Mutex // held while frames is in use
	frames  []byte     // appends' frames, reused

	cursorFile *os.File // the cursor file, open once written
	cursorBuf  []byte

	mu       sync.Mutex
	cond     *sync.Cond
	segs     []*segment // in order; the last is written to
	w        *os.File   // the last segment, open for appending
	cursor   Position   // the first entry not acknowledged
	lastHash [32]byte   // chain hash of the last entry appended
	ackHash  [32]byte   // chain hash of the last entry acknowledged
	lastSeq  uint64     // Seq of the last entry appended
	ackSeq   uint64     // Seq of the last entry acknowledged
	entries  int        // entries after the cursor
	bytes    int64      // bytes in all segments
	dropped  uint64     // entries dropped because the spool was full
	closed   bool
	readEnd  Position // the end of the last Read: what the sink is being sent ends there
	r        *os.File // the segment being read
	rSeg     uint64
	rbuf     *bufio.Reader
	rOff     int64
}

// Open opens (or creates) the spool in o.Dir, takes its lock, checks every
// segment and cuts off a torn tail. Another process holding the directory
// is an error.
func Open(o Options) (*Spool, *Recovery, error) {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 16 << 20
		if o.MaxBytes > 0 {
			// Small enough that dropping the oldest gives back little.
			o.SegmentBytes = min(o.SegmentBytes, max(o.MaxBytes/8, 4096))
		}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("spool %s: %w", o.Dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(o.Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("spool %s: %w", o.Dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("spool %s is in use by another fsaudit process", o.Dir)
	}
	s := &Spool{opts: o, lock: lock}
	s.cond = sync.NewCond(&s.mu)
	rec, err := s.recover()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, rec, nil
}

func segName(id uint64) string { return fmt.Sprintf("%020d.seg", id) }

// LastHash is the chain hash of the last entry appended (or acknowledged,
// when nothing waits): where the chain goes on.
func (s *Spool) LastHash() [32]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastHash
}

// LastSeq is the Seq of the last entry appended (or acknowledged, when
// nothing waits): with a chain, its sequence, after which the chain goes on.
func (s *Spool) LastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSeq
}

// Dropped counts the entries lost to a full spool since Open.
func (s *Spool) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Len is the number of entries waiting, and Bytes the size on disk.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries
}

// Bytes is the size of the segments on disk.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Close releases the files and the lock; entries stay for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	if s.w != nil {
		s.w.Close()
	}
	if s.r != nil {
		s.r.Close()
	}
	if s.cursorFile != nil {
		s.cursorFile.Close()
		s.cursorFile = nil
	}
	s.mu.Unlock()
	return s.lock.Close()
}
