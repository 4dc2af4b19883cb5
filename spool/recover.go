package spool

// Recovery: what Open finds on disk after a stop or a crash.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

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
