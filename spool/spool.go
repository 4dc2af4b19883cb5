// Package spool owns the disk queue between the pipeline and one sink:
// append-only segment files of framed, checksummed entries, a cursor of
// what the sink acknowledged, recovery after a crash (a torn tail is cut
// off and reported, the good part kept), and the size limit with its
// policy for a full disk queue.
package spool

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
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

const (
	frameHeader = 8 // length, CRC-32C
	// Frame versions: 1, of versions before chain sequences (Seq was the
	// record's event.sequence, never a chain's); 2, Seq is the chain's
	// sequence when the sink has a chain; 3, version 2 with Mark set.
	entryLegacy  = 1
	entryVersion = 2
	entryMarked  = 3
	maxEntry     = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

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

// recover lists the segments, reads the cursor, and checks every frame
// after it.
func (s *Spool) recover() (*Recovery, error) {
	names, err := filepath.Glob(filepath.Join(s.opts.Dir, "*.seg"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, n := range names {
		id, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), ".seg"), 10, 64)
		if err != nil {
			continue
		}
		st, err := os.Stat(n)
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		s.segs = append(s.segs, &segment{id: id, size: st.Size()})
		s.bytes += st.Size()
	}
	s.readCursor()
	rec := &Recovery{}
	// Drop segments wholly before the cursor (acknowledged, not yet removed).
	for len(s.segs) > 0 && s.segs[0].id < s.cursor.Segment {
		s.removeFirst()
	}
	if len(s.segs) > 0 && s.segs[0].id > s.cursor.Segment {
		s.cursor = Position{Segment: s.segs[0].id}
	}
	for i, seg := range s.segs {
		start := int64(0)
		if seg.id == s.cursor.Segment {
			if s.cursor.Offset > seg.size {
				// The segment lost its end (a power cut before the
				// kernel wrote it): nothing after the cursor is left.
				s.cursor.Offset = seg.size
			}
			start = s.cursor.Offset
		}
		n, good, last, err := scan(filepath.Join(s.opts.Dir, segName(seg.id)), start)
		if err != nil {
			return nil, err
		}
		s.entries += n
		if n > 0 {
			s.lastHash, s.lastSeq = last.Hash, last.Seq
		}
		if good < seg.size {
			if i == len(s.segs)-1 {
				rec.TornBytes = seg.size - good
			} else {
				rec.Corrupt = append(rec.Corrupt, segName(seg.id))
			}
			if err := os.Truncate(filepath.Join(s.opts.Dir, segName(seg.id)), good); err != nil {
				return nil, fmt.Errorf("spool: cutting off a torn tail: %w", err)
			}
			s.bytes -= seg.size - good
			seg.size = good
		}
	}
	if s.entries == 0 {
		s.lastHash, s.lastSeq = s.ackHash, s.ackSeq
	}
	rec.Entries = s.entries
	if err := s.openWriter(); err != nil {
		return nil, err
	}
	return rec, nil
}

// lastEntry is what the spool keeps of the last entry of a segment.
type lastEntry struct {
	Seq  uint64
	Hash [32]byte
}

// scan reads the frames of a segment from offset start and returns how
// many are whole, where the last whole one ends, and the last entry's
// sequence and chain hash.
func scan(path string, start int64) (int, int64, lastEntry, error) {
	var last lastEntry
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, last, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return 0, 0, last, fmt.Errorf("spool: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<16)
	n, off := 0, start
	var e Entry
	var arena []byte // one block, reused: only the hash is kept
	for {
		arena = arena[:0]
		size, err := readFrame(br, &e, &arena)
		if err != nil {
			return n, off, last, nil // io.EOF, or a torn or bad frame: stop there
		}
		n++
		off += size
		last = lastEntry{Seq: e.Seq, Hash: e.Hash}
		if e.legacy {
			last.Seq = 0 // where the chain goes on from is known by its hash alone
		}
	}
}

// arenaSize is the block readFrame carves frames from: one allocation for
// a batch of records, not one per record.
const arenaSize = 64 << 10

// readFrame reads one frame into e and returns its size. e's slices are
// carved from *arena, in a new block when the frame does not fit in what
// is left: never bytes an earlier entry holds, unless the caller gave the
// block back (arena[:0]).
func readFrame(r *bufio.Reader, e *Entry, arena *[]byte) (int64, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, errTorn
		}
		return 0, err
	}
	n := binary.LittleEndian.Uint32(h[0:4])
	if n < 1+8+8+32+4 || n > maxEntry {
		return 0, errTorn
	}
	if cap(*arena)-len(*arena) < int(n) {
		*arena = make([]byte, 0, max(arenaSize, int(n)))
	}
	a := *arena
	buf := a[len(a) : len(a)+int(n) : len(a)+int(n)]
	*arena = a[:len(a)+int(n)]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, errTorn
	}
	if crc32.Checksum(buf, crcTable) != binary.LittleEndian.Uint32(h[4:8]) || buf[0] < entryLegacy || buf[0] > entryMarked {
		return 0, errTorn
	}
	e.Mark = buf[0] == entryMarked
	e.legacy = buf[0] == entryLegacy
	e.Seq = binary.LittleEndian.Uint64(buf[1:9])
	e.Time = time.Unix(0, int64(binary.LittleEndian.Uint64(buf[9:17])))
	copy(e.Hash[:], buf[17:49])
	kl := binary.LittleEndian.Uint32(buf[49:53])
	if int(kl) > len(buf)-53 {
		return 0, errTorn
	}
	e.Key = buf[53 : 53+kl]
	if kl == 0 {
		e.Key = nil
	}
	e.Value = buf[53+kl:]
	return int64(frameHeader) + int64(n), nil
}

var errTorn = errors.New("torn or corrupt frame")

// appendFrame encodes e as a frame.
// frameSize is how many bytes appendFrame adds for e.
func frameSize(e *Entry) int { return 8 + 1 + 8 + 8 + 32 + 4 + len(e.Key) + len(e.Value) }

// maxKeptFrames bounds the frame buffer a spool keeps between appends.
const maxKeptFrames = 4 << 20

func appendFrame(b []byte, e *Entry) []byte {
	n := 1 + 8 + 8 + 32 + 4 + len(e.Key) + len(e.Value)
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = append(b, 0, 0, 0, 0)
	p := len(b)
	switch {
	case e.legacy:
		b = append(b, entryLegacy) // written again as it was read
	case e.Mark:
		b = append(b, entryMarked)
	default:
		b = append(b, entryVersion)
	}
	b = binary.LittleEndian.AppendUint64(b, e.Seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	b = append(b, e.Hash[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Key)))
	b = append(b, e.Key...)
	b = append(b, e.Value...)
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(b[p:], crcTable))
	return b
}

// cursor file: "SEGMENT OFFSET HASH SEQ\n", the numbers zero-padded
// (older versions wrote them without padding, and without SEQ).
func (s *Spool) readCursor() {
	data, err := os.ReadFile(filepath.Join(s.opts.Dir, "cursor"))
	if err != nil {
		return
	}
	// NULs after the line: a crash between lengthening an older, shorter
	// cursor file and writing its first padded line.
	f := strings.Fields(strings.TrimRight(string(data), "\x00"))
	if len(f) != 3 && len(f) != 4 {
		return
	}
	var seq uint64
	if len(f) == 4 {
		var err error
		if seq, err = strconv.ParseUint(f[3], 10, 64); err != nil {
			return
		}
	}
	seg, err1 := strconv.ParseUint(f[0], 10, 64)
	off, err2 := strconv.ParseInt(f[1], 10, 64)
	h, err3 := hex.DecodeString(f[2])
	if err1 != nil || err2 != nil || err3 != nil || len(h) != 32 || off < 0 {
		return
	}
	s.cursor = Position{Segment: seg, Offset: off}
	copy(s.ackHash[:], h)
	s.ackSeq = seq
}

func (s *Spool) writeCursor() error {
	// One write at offset 0 of a file kept open, of a line always as long
	// (numbers zero-padded): it replaces the last line whole, and a crash
	// can stop the agent before or after it, never inside it.
	if s.cursorFile == nil {
		f, err := os.OpenFile(filepath.Join(s.opts.Dir, "cursor"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("spool: writing the cursor: %w", err)
		}
		// An older, shorter line must not leave its tail behind.
		if err := f.Truncate(cursorLineLen); err != nil {
			f.Close()
			return fmt.Errorf("spool: writing the cursor: %w", err)
		}
		s.cursorFile = f
	}
	line := fmt.Appendf(s.cursorBuf[:0], "%020d %020d %s %020d\n", s.cursor.Segment, s.cursor.Offset, hex.EncodeToString(s.ackHash[:]), s.ackSeq)
	s.cursorBuf = line
	if _, err := s.cursorFile.WriteAt(line, 0); err != nil {
		return fmt.Errorf("spool: writing the cursor: %w", err)
	}
	return nil
}

// cursorLineLen is the cursor file's length: "SEGMENT OFFSET HASH SEQ\n".
const cursorLineLen = 20 + 1 + 20 + 1 + 64 + 1 + 20 + 1

// openWriter opens the last segment for appending, first starting a new
// one when there is none or the last is full.
func (s *Spool) openWriter() error {
	if len(s.segs) == 0 || s.segs[len(s.segs)-1].size >= s.opts.SegmentBytes {
		return s.newSegment()
	}
	last := s.segs[len(s.segs)-1]
	w, err := os.OpenFile(filepath.Join(s.opts.Dir, segName(last.id)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if s.w != nil {
		s.w.Close()
	}
	s.w = w
	return nil
}

// removeFirst deletes the oldest segment.
func (s *Spool) removeFirst() {
	seg := s.segs[0]
	os.Remove(filepath.Join(s.opts.Dir, segName(seg.id)))
	s.bytes -= seg.size
	s.segs = s.segs[1:]
}

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

// Append writes entries at the end. When the spool would pass MaxBytes
// (counting what waits, not what was acknowledged), the policy decides:
// drop the oldest segment (entries the sink never got) or refuse these
// entries. It returns how many entries that lost in all, and whether these
// entries were refused (then they are part of the count).
func (s *Spool) Append(entries []Entry) (dropped int, refused bool, err error) {
	return s.append(entries, true)
}

// AppendOver writes entries even when that takes the spool past MaxBytes:
// for a few small entries that must not be lost (a lost record).
func (s *Spool) AppendOver(entries []Entry) error {
	_, _, err := s.append(entries, false)
	return err
}

// live is how many bytes wait after the cursor (the cursor is always in
// the first segment: Ack deletes the ones before it).
func (s *Spool) live() int64 {
	if len(s.segs) > 0 && s.segs[0].id == s.cursor.Segment {
		return s.bytes - s.cursor.Offset
	}
	return s.bytes
}

func (s *Spool) append(entries []Entry, limit bool) (dropped int, refused bool, err error) {
	if len(entries) == 0 {
		return 0, false, nil
	}
	// The frames are built once, in a buffer kept from call to call, under
	// a lock of their own: the reader is not held up meanwhile.
	s.frameMu.Lock()
	defer s.frameMu.Unlock()
	size := 0
	for i := range entries {
		size += frameSize(&entries[i])
	}
	if cap(s.frames) < size || cap(s.frames) > maxKeptFrames && size <= maxKeptFrames {
		s.frames = make([]byte, 0, size)
	}
	buf := s.frames[:0]
	for i := range entries {
		buf = appendFrame(buf, &entries[i])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, false, ErrClosed
	}
	if limit && s.opts.MaxBytes > 0 {
		if int64(len(buf)) > s.opts.MaxBytes {
			s.dropped += uint64(len(entries))
			return len(entries), true, nil // could never fit: keep what waits
		}
		for s.live()+int64(len(buf)) > s.opts.MaxBytes {
			if s.opts.DropNewest || s.live() == 0 {
				s.dropped += uint64(len(entries))
				return dropped + len(entries), true, nil
			}
			if len(s.segs) == 1 {
				// Only the segment being written: start another, so the
				// old one can go.
				if err := s.newSegment(); err != nil {
					return dropped, false, err
				}
			}
			dropped += s.dropOldest()
		}
	}
	if s.segs[len(s.segs)-1].size >= s.opts.SegmentBytes {
		if err := s.newSegment(); err != nil {
			return dropped, false, err
		}
	}
	last := s.segs[len(s.segs)-1]
	n, err := s.w.Write(buf)
	if err != nil {
		// Take back a partial write so the segment ends on a whole frame;
		// if that fails too, go on in a new segment.
		if n > 0 {
			if terr := s.w.Truncate(last.size); terr != nil {
				last.size += int64(n) // the reader stops at the torn frame
				s.bytes += int64(n)
				s.newSegment()
			}
		}
		return dropped, false, fmt.Errorf("spool %s: %w", s.opts.Dir, err)
	}
	last.size += int64(n)
	s.bytes += int64(n)
	s.entries += len(entries)
	s.lastHash, s.lastSeq = entries[len(entries)-1].Hash, entries[len(entries)-1].Seq
	s.cond.Broadcast()
	return dropped, false, nil
}

// newSegment starts a segment after the last and opens it for appending.
func (s *Spool) newSegment() error {
	id := s.cursor.Segment
	if len(s.segs) > 0 {
		id = s.segs[len(s.segs)-1].id + 1
	}
	w, err := os.OpenFile(filepath.Join(s.opts.Dir, segName(id)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if s.w != nil {
		s.w.Close()
	}
	s.w = w
	s.segs = append(s.segs, &segment{id: id})
	if len(s.segs) == 1 {
		s.cursor = Position{Segment: id}
	}
	return nil
}

// dropOldest removes the oldest segment, moving the cursor past it, and
// returns how many entries waiting in it that lost.
func (s *Spool) dropOldest() int {
	seg := s.segs[0]
	// Entries the sink is being sent (read, not yet acknowledged) are not
	// lost: only what comes after the last Read is.
	start := int64(0)
	if s.cursor.Segment == seg.id {
		start = s.cursor.Offset
	}
	if s.readEnd.Segment == seg.id {
		start = max(start, s.readEnd.Offset)
	}
	n := 0
	if s.readEnd.Segment <= seg.id {
		n, _, _, _ = scan(filepath.Join(s.opts.Dir, segName(seg.id)), start)
	}
	if s.rSeg == seg.id && s.r != nil {
		s.r.Close()
		s.r = nil
	}
	s.removeFirst()
	s.entries -= n
	s.dropped += uint64(n)
	s.cursor = Position{Segment: s.segs[0].id}
	s.writeCursor()
	return n
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

// Read returns up to max entries after the cursor (or after the end of the
// previous Read, when that was not acknowledged yet) and the position after
// them. It waits for entries until wait passes; with none it returns an
// empty batch. Entries stay in the spool until Ack.
func (s *Spool) Read(max int, wait time.Duration, from Position) ([]Entry, Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if from.Segment < s.cursor.Segment || from.Segment == s.cursor.Segment && from.Offset < s.cursor.Offset {
		from = s.cursor // entries before the cursor were acknowledged or dropped
	}
	deadline := time.Now().Add(wait)
	for !s.closed && !s.hasAfter(from) {
		if time.Now().After(deadline) {
			return nil, from, nil
		}
		t := time.AfterFunc(time.Until(deadline), func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
		s.cond.Wait()
		t.Stop()
	}
	if s.closed {
		return nil, from, ErrClosed
	}
	var out []Entry
	var arena []byte // the batch's frames, in blocks of arenaSize
	pos := from
	for len(out) < max && s.hasAfter(pos) {
		seg := s.segFor(pos.Segment)
		if seg == nil {
			break
		}
		if pos.Offset >= seg.size {
			next := s.segAfter(pos.Segment)
			if next == nil {
				break
			}
			pos = Position{Segment: next.id}
			continue
		}
		if err := s.openReader(pos); err != nil {
			return out, pos, err
		}
		var e Entry
		size, err := readFrame(s.rbuf, &e, &arena)
		if err != nil {
			return out, pos, fmt.Errorf("spool %s: segment %s at %d: %w", s.opts.Dir, segName(pos.Segment), pos.Offset, err)
		}
		s.rOff += size
		pos.Offset += size
		out = append(out, e)
	}
	if pos.Segment > s.readEnd.Segment || pos.Segment == s.readEnd.Segment && pos.Offset > s.readEnd.Offset {
		s.readEnd = pos
	}
	return out, pos, nil
}

func (s *Spool) hasAfter(p Position) bool {
	last := s.segs[len(s.segs)-1]
	return p.Segment < last.id || p.Segment == last.id && p.Offset < last.size
}

func (s *Spool) segFor(id uint64) *segment {
	for _, seg := range s.segs {
		if seg.id == id {
			return seg
		}
	}
	return nil
}

func (s *Spool) segAfter(id uint64) *segment {
	for _, seg := range s.segs {
		if seg.id > id {
			return seg
		}
	}
	return nil
}

// openReader positions the read side at p.
func (s *Spool) openReader(p Position) error {
	if s.r != nil && s.rSeg == p.Segment && s.rOff == p.Offset {
		return nil
	}
	if s.r == nil || s.rSeg != p.Segment {
		if s.r != nil {
			s.r.Close()
		}
		f, err := os.Open(filepath.Join(s.opts.Dir, segName(p.Segment)))
		if err != nil {
			s.r = nil
			return fmt.Errorf("spool: %w", err)
		}
		s.r, s.rSeg = f, p.Segment
	}
	if _, err := s.r.Seek(p.Offset, io.SeekStart); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if s.rbuf == nil {
		s.rbuf = bufio.NewReaderSize(s.r, 1<<16)
	} else {
		s.rbuf.Reset(s.r)
	}
	s.rOff = p.Offset
	return nil
}

// Ack marks everything before p delivered: the cursor moves there (and is
// written down), and segments wholly before it are deleted. last is the
// last entry acknowledged (its sequence and chain hash are kept), and n how
// many entries that were.
func (s *Spool) Ack(p Position, n int, last Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// These entries were read, so no drop counted them: they leave the
	// count now, whether or not a drop moved the cursor past them.
	s.entries = max(s.entries-n, 0)
	if p.Segment < s.cursor.Segment || p.Segment == s.cursor.Segment && p.Offset <= s.cursor.Offset {
		return nil
	}
	s.cursor, s.ackHash, s.ackSeq = p, last.Hash, last.Seq
	if last.legacy {
		s.ackSeq = 0
	}
	for len(s.segs) > 1 && s.segs[0].id < p.Segment {
		if s.r != nil && s.rSeg == s.segs[0].id {
			s.r.Close()
			s.r = nil
		}
		s.removeFirst()
	}
	return s.writeCursor()
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
