package spool

// The cursor: what the sink acknowledged, one line overwritten in place.

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

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
