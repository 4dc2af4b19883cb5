// Package chain owns the hash chain over a sink's records: each record's
// hash covers the previous record's hash and its own canonical encoding
// (its json format without the chain), with SHA-256 or, given a key,
// HMAC-SHA-256; and the check of a chained stream, which names the first
// record that was edited, removed, inserted or reordered.
package chain

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
)

// Hash is one link of the chain.
type Hash [32]byte

// String is the hash in lower-case hex, as records carry it.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Chainer computes the hashes of a stream of records.
type Chainer struct {
	mac  hash.Hash // HMAC-SHA-256, or plain SHA-256; reset for each record
	prev Hash
}

// New starts (or continues, from prev) a chain; key, when not empty, makes
// it an HMAC chain that only holders of the key can extend or check.
func New(key []byte, prev Hash) *Chainer {
	return &Chainer{prev: prev, mac: newMAC(key)}
}

// Prev is the hash the next record will follow.
func (c *Chainer) Prev() Hash { return c.prev }

// Reset makes the next record follow prev: records linked since were never
// written (a full spool refused them), so the chain goes on without them.
func (c *Chainer) Reset(prev Hash) { c.prev = prev }

// Next links a record, given its canonical encoding, and returns the hash
// it follows and its own.
func (c *Chainer) Next(canonical []byte) (prev, h Hash) {
	prev = c.prev
	h = sum(c.mac, prev, canonical)
	c.prev = h
	return prev, h
}

// newMAC is the hash of a chain: HMAC-SHA-256 with a key, else SHA-256.
func newMAC(key []byte) hash.Hash {
	if len(key) > 0 {
		return hmac.New(sha256.New, key)
	}
	return sha256.New()
}

func sum(mac hash.Hash, prev Hash, canonical []byte) Hash {
	var h Hash
	mac.Reset()
	mac.Write(prev[:])
	mac.Write(canonical)
	mac.Sum(h[:0])
	return h
}

// Split takes a json-format line apart: the canonical encoding (the line
// without its chain member) and the chain's two hashes. ok is false when
// the line carries no chain where the format puts it (at the end of the
// fsaudit object, which ends the record).
func Split(line []byte) (canonical []byte, prev, h Hash, ok bool) {
	// ,"chain":{"prev":"<64 hex>","hash":"<64 hex>"}}}
	const head, mid, tail = `,"chain":{"prev":"`, `","hash":"`, `"}}}`
	n := len(head) + 64 + len(mid) + 64 + len(tail)
	line = bytes.TrimRight(line, "\r\n")
	if len(line) < n {
		return nil, prev, h, false
	}
	suffix := line[len(line)-n:]
	if !bytes.HasPrefix(suffix, []byte(head)) || !bytes.HasSuffix(suffix, []byte(tail)) ||
		!bytes.Equal(suffix[len(head)+64:len(head)+64+len(mid)], []byte(mid)) {
		return nil, prev, h, false
	}
	if _, err := hex.Decode(prev[:], suffix[len(head):len(head)+64]); err != nil {
		return nil, prev, h, false
	}
	if _, err := hex.Decode(h[:], suffix[len(head)+64+len(mid):len(head)+128+len(mid)]); err != nil {
		return nil, prev, h, false
	}
	canonical = make([]byte, 0, len(line)-n+2)
	canonical = append(canonical, line[:len(line)-n]...)
	canonical = append(canonical, "}}"...)
	return canonical, prev, h, true
}

// ErrBroken wraps every verification failure.
var ErrBroken = errors.New("chain broken")

// Verifier checks a chained stream line by line. A line that repeats one
// already verified, byte for byte, is a record sent again after a crash
// (delivery is at least once): it is counted, not an error.
type Verifier struct {
	mac        hash.Hash
	prev       Hash
	start      bool // no line seen yet
	seen       map[Hash]struct{}
	order      []Hash // the seen hashes, oldest first, to bound the map
	Lines      int    // lines verified
	Duplicates int    // lines that repeated an earlier one
}

// duplicateWindow is how many recent hashes are remembered to recognise
// records sent again.
const duplicateWindow = 1 << 20

// NewVerifier checks a stream; the first line's prev is taken as given
// (the stream may start anywhere in the chain).
func NewVerifier(key []byte) *Verifier {
	return &Verifier{start: true, seen: map[Hash]struct{}{}, mac: newMAC(key)}
}

// Last is the hash of the last line verified: where the chain goes on.
func (v *Verifier) Last() Hash { return v.prev }

// Line checks the next line and says, wrapping ErrBroken, what is wrong.
func (v *Verifier) Line(line []byte) error {
	canonical, prev, h, ok := Split(line)
	if !ok {
		return fmt.Errorf("%w: no chain at the end of the record (not fsaudit json output with a chain)", ErrBroken)
	}
	if sum(v.mac, prev, canonical) != h {
		return fmt.Errorf("%w: edited: the record does not match its hash (or the key is wrong)", ErrBroken)
	}
	if !v.start && prev != v.prev {
		if _, again := v.seen[h]; again {
			v.Duplicates++
			return nil
		}
		return fmt.Errorf("%w: does not follow the line before: a record was removed, inserted or moved here", ErrBroken)
	}
	v.prev, v.start = h, false
	v.Lines++
	v.seen[h] = struct{}{}
	v.order = append(v.order, h)
	if len(v.order) > duplicateWindow {
		delete(v.seen, v.order[0])
		v.order = v.order[1:]
	}
	return nil
}
