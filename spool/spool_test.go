package spool

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func entries(from, n int) []Entry {
	var out []Entry
	for i := from; i < from+n; i++ {
		e := Entry{Seq: uint64(i), Time: time.Unix(0, int64(i)*1000), Value: []byte(fmt.Sprintf("record %d %s", i, strings.Repeat("x", 100)))}
		e.Hash[0] = byte(i)
		if i%2 == 0 {
			e.Key = []byte(fmt.Sprintf("key-%d", i))
		}
		out = append(out, e)
	}
	return out
}

func open(t *testing.T, o Options) (*Spool, *Recovery) {
	t.Helper()
	s, rec, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s, rec
}

// readAll reads and acknowledges everything waiting, returning the sequences.
func readAll(t *testing.T, s *Spool) []uint64 {
	t.Helper()
	var seqs []uint64
	pos := Position{}
	for {
		es, next, err := s.Read(7, 0, pos)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return seqs
		}
		for _, e := range es {
			seqs = append(seqs, e.Seq)
		}
		if err := s.Ack(next, len(es), es[len(es)-1]); err != nil {
			t.Fatal(err)
		}
		pos = next
	}
}

func seqRange(from, n int) []uint64 {
	var out []uint64
	for i := from; i < from+n; i++ {
		out = append(out, uint64(i))
	}
	return out
}

func TestAppendReadAck(t *testing.T) {
	dir := t.TempDir()
	s, rec := open(t, Options{Dir: dir, SegmentBytes: 1000})
	if rec.Entries != 0 || rec.TornBytes != 0 {
		t.Errorf("fresh spool: %+v", rec)
	}
	if _, _, err := s.Append(entries(0, 30)); err != nil {
		t.Fatal(err)
	}
	// Read without acknowledging: the entries stay.
	es, _, err := s.Read(10, 0, Position{})
	if err != nil || len(es) != 10 || es[0].Seq != 0 || string(es[0].Key) != "key-0" || es[1].Key != nil || es[3].Time.UnixNano() != 3000 {
		t.Fatalf("Read = %d entries, %v", len(es), err)
	}
	if got := readAll(t, s); fmt.Sprint(got) != fmt.Sprint(seqRange(0, 30)) {
		t.Errorf("read %v", got)
	}
	if s.Len() != 0 {
		t.Errorf("Len %d after acknowledging everything", s.Len())
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) > 1 {
		t.Errorf("%d segments left after acknowledging everything", len(segs))
	}
	if s.LastHash()[0] != 29 {
		t.Errorf("last hash %x", s.LastHash())
	}
	s.Close()
}

// A batch's entries are carved from shared blocks: each keeps its own bytes,
// whatever their sizes (frames larger than a block included), and appending
// to one never writes over the next.
func TestReadBatchBytes(t *testing.T) {
	s, _ := open(t, Options{Dir: t.TempDir()})
	defer s.Close()
	sizes := []int{10, arenaSize - 100, 300, arenaSize + 5000, 1, 0, 5000}
	var in []Entry
	for i, n := range sizes {
		e := Entry{Seq: uint64(i), Key: []byte(fmt.Sprint("k", i)), Value: bytes.Repeat([]byte{byte('a' + i)}, n)}
		in = append(in, e)
	}
	if _, _, err := s.Append(in); err != nil {
		t.Fatal(err)
	}
	es, _, err := s.Read(len(in), 0, Position{})
	if err != nil || len(es) != len(in) {
		t.Fatalf("Read = %d entries, %v", len(es), err)
	}
	for i := range es {
		es[i].Value = append(es[i].Value, '!')
	}
	for i, e := range es {
		want := append(bytes.Repeat([]byte{byte('a' + i)}, sizes[i]), '!')
		if string(e.Key) != fmt.Sprint("k", i) || !bytes.Equal(e.Value, want) {
			t.Errorf("entry %d: key %q, value of %d bytes, want %d", i, e.Key, len(e.Value), len(want))
		}
	}
}

// After a crash (no Close), what was appended and not acknowledged is read
// again; what was acknowledged is not.
func TestReopenRedelivers(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, Options{Dir: dir, SegmentBytes: 2000})
	s.Append(entries(0, 40))
	es, next, _ := s.Read(15, 0, Position{})
	if err := s.Ack(next, len(es), es[len(es)-1]); err != nil {
		t.Fatal(err)
	}
	s.Read(10, 0, next) // read, never acknowledged
	s.lock.Close()      // the process dies: only the lock goes
	s2, rec := open(t, Options{Dir: dir, SegmentBytes: 2000})
	defer s2.Close()
	if rec.Entries != 25 {
		t.Errorf("recovered %d waiting entries, want 25", rec.Entries)
	}
	if got := readAll(t, s2); fmt.Sprint(got) != fmt.Sprint(seqRange(15, 25)) {
		t.Errorf("after reopening read %v", got)
	}
	if s2.LastHash()[0] != 39 {
		t.Errorf("chain goes on from %x, want the last entry's hash", s2.LastHash())
	}
}

func TestTornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		kept int
		cut  func(path string)
	}{
		{"half a frame", 9, func(p string) {
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-50)
		}},
		{"garbage after the last frame", 10, func(p string) {
			f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 5})
			f.Close()
		}},
		{"a flipped byte in the last frame", 9, func(p string) {
			data, _ := os.ReadFile(p)
			data[len(data)-3] ^= 0xff
			os.WriteFile(p, data, 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := open(t, Options{Dir: dir})
			s.Append(entries(0, 10))
			s.Close()
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			tc.cut(segs[len(segs)-1])
			s2, rec := open(t, Options{Dir: dir})
			defer s2.Close()
			if rec.TornBytes == 0 || rec.Entries != tc.kept {
				t.Errorf("recovery %+v: want a torn tail reported and %d entries kept", rec, tc.kept)
			}
			// Appending goes on after the good part.
			s2.Append(entries(10, 2))
			if got := readAll(t, s2); fmt.Sprint(got) != fmt.Sprint(append(seqRange(0, tc.kept), 10, 11)) {
				t.Errorf("read %v", got)
			}
		})
	}
}

func TestCorruptMiddleSegment(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, Options{Dir: dir, SegmentBytes: 600})
	s.Append(entries(0, 5))
	s.Append(entries(5, 5))
	s.Append(entries(10, 5))
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("%d segments, want 3 or more", len(segs))
	}
	data, _ := os.ReadFile(segs[0])
	data[len(data)/2] ^= 0xff
	os.WriteFile(segs[0], data, 0o600)
	s2, rec := open(t, Options{Dir: dir, SegmentBytes: 600})
	defer s2.Close()
	if len(rec.Corrupt) != 1 || rec.Corrupt[0] != filepath.Base(segs[0]) {
		t.Errorf("corrupt segments %v, want the first", rec.Corrupt)
	}
	got := readAll(t, s2)
	if len(got) == 0 || got[len(got)-1] != 14 || len(got) >= 15 {
		t.Errorf("read %v: want the good frames before the damage and every later segment", got)
	}
}

func TestFullPolicies(t *testing.T) {
	one := len(appendFrame(nil, &entries(0, 1)[0]))
	t.Run("drop oldest", func(t *testing.T) {
		s, _ := open(t, Options{Dir: t.TempDir(), SegmentBytes: int64(5 * one), MaxBytes: int64(12 * one)})
		defer s.Close()
		var dropped int
		for i := 0; i < 30; i += 5 {
			n, _, err := s.Append(entries(i, 5))
			if err != nil {
				t.Fatal(err)
			}
			dropped += n
		}
		got := readAll(t, s)
		if dropped == 0 || dropped+len(got) != 30 || got[len(got)-1] != 29 || s.Dropped() != uint64(dropped) {
			t.Errorf("dropped %d, kept %v: want the newest kept and all accounted for", dropped, got)
		}
	})
	t.Run("drop newest", func(t *testing.T) {
		s, _ := open(t, Options{Dir: t.TempDir(), SegmentBytes: int64(5 * one), MaxBytes: int64(12 * one), DropNewest: true})
		defer s.Close()
		var dropped int
		for i := 0; i < 30; i += 5 {
			n, _, _ := s.Append(entries(i, 5))
			dropped += n
		}
		got := readAll(t, s)
		if dropped == 0 || dropped+len(got) != 30 || got[0] != 0 {
			t.Errorf("dropped %d, kept %v: want the oldest kept", dropped, got)
		}
	})
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, Options{Dir: dir})
	if _, _, err := Open(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use by another fsaudit process") {
		t.Errorf("second Open: %v", err)
	}
	s.Close()
	s2, _ := open(t, Options{Dir: dir})
	s2.Close()
}

func TestReadWaits(t *testing.T) {
	s, _ := open(t, Options{Dir: t.TempDir()})
	defer s.Close()
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Append(entries(0, 1))
	}()
	es, _, err := s.Read(10, 5*time.Second, Position{})
	if err != nil || len(es) != 1 {
		t.Errorf("Read = %d, %v; want the entry appended while it waited", len(es), err)
	}
	start := time.Now()
	es, _, _ = s.Read(10, 30*time.Millisecond, Position{Segment: 0, Offset: 1 << 40})
	if len(es) != 0 || time.Since(start) < 25*time.Millisecond {
		t.Errorf("an empty Read returned %d entries after %v", len(es), time.Since(start))
	}
}

// FuzzFrame: any bytes either read as whole frames that encode back to the
// same bytes, or stop the reader without a panic.
func FuzzFrame(f *testing.F) {
	for _, e := range entries(0, 3) {
		f.Add(appendFrame(nil, &e))
	}
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		var off int64
		for {
			var e Entry
			var arena []byte
			n, err := readFrame(r, &e, &arena)
			if err != nil {
				return
			}
			if again := appendFrame(nil, &e); !bytes.Equal(again, data[off:off+n]) {
				t.Fatalf("frame at %d does not encode back to itself", off)
			}
			off += n
		}
	})
}

// What was acknowledged does not count against the limit: a spool that
// keeps up never refuses, even when the limit is below a segment's size.
func TestLimitCountsWaitingOnly(t *testing.T) {
	one := int64(len(appendFrame(nil, &entries(0, 1)[0])))
	s, _ := open(t, Options{Dir: t.TempDir(), SegmentBytes: 100 * one, MaxBytes: 6 * one, DropNewest: true})
	defer s.Close()
	pos := Position{}
	for i := 0; i < 200; i += 3 {
		if dropped, refused, err := s.Append(entries(i, 3)); dropped != 0 || refused || err != nil {
			t.Fatalf("append %d: dropped %d refused %v %v", i, dropped, refused, err)
		}
		es, next, _ := s.Read(10, 0, pos)
		s.Ack(next, len(es), es[len(es)-1])
		pos = next
	}
}

// A batch that could never fit is refused without emptying the spool.
func TestTooBigBatch(t *testing.T) {
	one := int64(len(appendFrame(nil, &entries(0, 1)[0])))
	s, _ := open(t, Options{Dir: t.TempDir(), SegmentBytes: 2 * one, MaxBytes: 5 * one})
	defer s.Close()
	s.Append(entries(0, 4))
	dropped, refused, err := s.Append(entries(4, 8))
	if dropped != 8 || !refused || err != nil || s.Len() != 4 {
		t.Errorf("dropped %d refused %v err %v, %d waiting: want the batch refused and the 4 kept", dropped, refused, err, s.Len())
	}
}

// Entries the sink is being sent are not counted lost when their segment
// is dropped; the count of waiting entries stays right after the Ack.
func TestDropOldestSparesInFlight(t *testing.T) {
	one := int64(len(appendFrame(nil, &entries(0, 1)[0])))
	// One segment per Append: [0 1 2] [3 4 5] [6 7 8].
	s, _ := open(t, Options{Dir: t.TempDir(), SegmentBytes: 1, MaxBytes: 7 * one})
	defer s.Close()
	s.Append(entries(0, 3))
	es, next, _ := s.Read(3, 0, Position{}) // in flight
	s.Append(entries(3, 3))
	dropped, refused, _ := s.Append(entries(6, 3)) // no room: the first segment goes
	if refused || dropped != 0 {
		t.Errorf("dropped %d refused %v: the in-flight entries are not lost", dropped, refused)
	}
	s.Ack(next, len(es), es[len(es)-1])
	if s.Len() != 6 {
		t.Errorf("%d waiting after the Ack, want 6", s.Len())
	}
	if got := readAll(t, s); fmt.Sprint(got) != fmt.Sprint(seqRange(3, 6)) {
		t.Errorf("read %v", got)
	}
}

// A cursor beyond its segment's end (a power cut took the tail) is
// clamped: later entries are read, none are skipped.
func TestCursorBeyondEnd(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, Options{Dir: dir})
	s.Append(entries(0, 5))
	readAll(t, s)
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	os.Truncate(segs[len(segs)-1], 100)
	s2, _ := open(t, Options{Dir: dir})
	defer s2.Close()
	s2.Append(entries(5, 5))
	if got := readAll(t, s2); fmt.Sprint(got) != fmt.Sprint(seqRange(5, 5)) {
		t.Errorf("read %v, want the 5 new entries", got)
	}
	if s2.Len() != 0 {
		t.Errorf("%d waiting", s2.Len())
	}
}

// The cursor is read back in each form it can have on disk: as written
// now (numbers zero-padded), as older versions wrote it, and an older line
// followed by the NULs of a file lengthened just before a crash.
func TestCursorForms(t *testing.T) {
	for _, form := range []string{"current", "unpadded", "nul-tail"} {
		t.Run(form, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := open(t, Options{Dir: dir, SegmentBytes: 1000})
			s.Append(entries(0, 10))
			es, next, err := s.Read(4, 0, Position{})
			if err != nil || len(es) != 4 {
				t.Fatalf("read %d entries: %v", len(es), err)
			}
			if err := s.Ack(next, len(es), es[3]); err != nil {
				t.Fatal(err)
			}
			s.Close()
			path := filepath.Join(dir, "cursor")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) != cursorLineLen {
				t.Errorf("cursor file of %d bytes, want %d", len(data), cursorLineLen)
			}
			f := strings.Fields(string(data))
			seg, _ := strconv.ParseUint(f[0], 10, 64)
			off, _ := strconv.ParseInt(f[1], 10, 64)
			switch form {
			case "unpadded":
				data = fmt.Appendf(nil, "%d %d %s\n", seg, off, f[2])
			case "nul-tail":
				data = append(fmt.Appendf(nil, "%d %d %s\n", seg, off, f[2]), make([]byte, 20)...)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			s2, _ := open(t, Options{Dir: dir, SegmentBytes: 1000})
			defer s2.Close()
			if got := readAll(t, s2); fmt.Sprint(got) != fmt.Sprint(seqRange(4, 6)) {
				t.Errorf("read %v after reopening, want the 6 entries not acknowledged", got)
			}
		})
	}
}

// The chain's place (the last entry's Seq and hash) survives a restart,
// from the entries waiting or, once all are acknowledged, from the cursor;
// and an entry's Mark is kept.
func TestChainStateAndMark(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, Options{Dir: dir, SegmentBytes: 2000})
	es := entries(0, 10)
	es[3].Mark = true
	s.Append(es)
	s.lock.Close()
	s2, _ := open(t, Options{Dir: dir, SegmentBytes: 2000})
	if s2.LastSeq() != 9 || s2.LastHash()[0] != 9 {
		t.Errorf("waiting entries: the chain goes on from %d/%x, want 9", s2.LastSeq(), s2.LastHash())
	}
	got, next, err := s2.Read(10, 0, Position{})
	if err != nil || len(got) != 10 {
		t.Fatalf("read %d entries: %v", len(got), err)
	}
	for i, e := range got {
		if e.Mark != (i == 3) {
			t.Errorf("entry %d: mark %v", i, e.Mark)
		}
	}
	if err := s2.Ack(next, len(got), got[9]); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s3, _ := open(t, Options{Dir: dir, SegmentBytes: 2000})
	defer s3.Close()
	if s3.LastSeq() != 9 || s3.LastHash()[0] != 9 {
		t.Errorf("all acknowledged: the chain goes on from %d/%x, want 9", s3.LastSeq(), s3.LastHash())
	}
}

// A frame of a version before chain sequences keeps its Seq (the event's
// sequence) from being taken for the chain's.
func TestLegacyFrame(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, Options{Dir: dir, SegmentBytes: 1 << 20})
	s.Append(entries(0, 3))
	s.lock.Close()
	// Make the last frame an older version's (its CRC made again).
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	seg := segs[0]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for i := 0; i < 2; i++ {
		off += frameHeader + int(binary.LittleEndian.Uint32(data[off:]))
	}
	body := data[off+frameHeader:]
	body[0] = entryLegacy
	binary.LittleEndian.PutUint32(data[off+4:], crc32.Checksum(body, crcTable))
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s2, rec := open(t, Options{Dir: dir, SegmentBytes: 1 << 20})
	defer s2.Close()
	if rec.Entries != 3 || s2.LastSeq() != 0 || s2.LastHash()[0] != 2 {
		t.Errorf("%d entries, the chain goes on from %d/%x; want 3, 0 and the hash", rec.Entries, s2.LastSeq(), s2.LastHash())
	}
}
