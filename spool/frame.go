package spool

// Frames: one entry on disk, length and CRC-32C first, read back into
// blocks of memory shared by a batch.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"time"
)

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
