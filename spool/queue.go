package spool

// The queue: appending at the end (with the size limit and its policy),
// reading after the cursor, acknowledging.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

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
