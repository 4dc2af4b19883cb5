// Package chain owns the hash chain over a sink's records: each record's
// hash covers the previous record's hash, its sequence in the chain and
// its own canonical encoding (its json format without the chain), with
// SHA-256 or, given a key, HMAC-SHA-256; the forward-secure seals over
// it (seal.go); and the check of a chained stream (verify.go), which names
// the first record that was edited, removed, inserted or reordered.
package chain

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strconv"
)

// Hash is one link of the chain.
type Hash [32]byte

// String is the hash in lower-case hex, as records carry it.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// State is where a chain stands: the last record's sequence in it (0: no
// record yet, a new chain) and its hash.
type State struct {
	Seq  uint64
	Hash Hash
}

// Chainer computes the hashes of a stream of records.
type Chainer struct {
	mac hash.Hash // HMAC-SHA-256, or plain SHA-256; reset for each record
	at  State
}

// New starts a chain (at, the zero State) or continues one; key, when not
// empty, makes it an HMAC chain that only holders of the key can extend or
// check.
func New(key []byte, at State) *Chainer {
	return &Chainer{at: at, mac: newMAC(key)}
}

// State is where the chain stands: the next record follows it.
func (c *Chainer) State() State { return c.at }

// Reset makes the next record follow at: records linked since were never
// written (a full spool refused them), so the chain goes on without them.
func (c *Chainer) Reset(at State) { c.at = at }

// Next links a record, given its canonical encoding, and returns the state
// it follows and its own sequence and hash.
func (c *Chainer) Next(canonical []byte) (prev, own State) {
	prev = c.at
	own = State{Seq: prev.Seq + 1}
	own.Hash = sum(c.mac, prev.Hash, own.Seq, canonical)
	c.at = own
	return prev, own
}

// newMAC is the hash of a chain: HMAC-SHA-256 with a key, else SHA-256.
func newMAC(key []byte) hash.Hash {
	if len(key) > 0 {
		return hmac.New(sha256.New, key)
	}
	return sha256.New()
}

// sum is a record's hash: over the previous hash, the record's sequence in
// its chain (big-endian; 0 for records of versions before sequences, whose
// hash did not cover one) and its canonical encoding.
func sum(mac hash.Hash, prev Hash, seq uint64, canonical []byte) Hash {
	var h Hash
	mac.Reset()
	mac.Write(prev[:])
	if seq != 0 {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], seq)
		mac.Write(b[:])
	}
	mac.Write(canonical)
	mac.Sum(h[:0])
	return h
}

// stripReplay takes off the end of rest the replay member that fsaudit
// replay adds to the records it sends again (record.AppendReplay): it is
// no part of the record as it was chained. The member is
// ,"replay":{"topic":"T","partition":N,"offset":N} with a topic of Kafka's
// characters; anything else is left as it is.
func stripReplay(rest []byte) []byte {
	const key = `,"replay":{"topic":"`
	i := bytes.LastIndex(rest, []byte(key))
	if i < 0 || rest[len(rest)-1] != '}' {
		return rest
	}
	m := rest[i+len(key) : len(rest)-1]
	topic, m, ok := bytes.Cut(m, []byte(`","partition":`))
	if !ok || len(topic) == 0 || bytes.ContainsFunc(topic, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) {
		return rest
	}
	part, off, ok := bytes.Cut(m, []byte(`,"offset":`))
	if !ok || !digits(part) || !digits(off) {
		return rest
	}
	return rest[:i]
}

func digits(b []byte) bool {
	if len(b) == 0 || len(b) > 20 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Split takes a json-format line apart: the canonical encoding (the line
// without its chain member), the record's sequence in its chain (0 in
// lines of versions before sequences), and the chain's two hashes. ok is
// false when the line carries no chain where the format puts it (at the
// end of the fsaudit object, which ends the record). Values inside the
// record are JSON strings, whose quotes are escaped, so no value can end
// in what Split takes for the chain.
func Split(line []byte) (canonical []byte, seq uint64, prev, h Hash, ok bool) {
	canonical, seq, prev, h, _, ok = split(line)
	return canonical, seq, prev, h, ok
}

// split is Split, and tells whether the line carries a replay member.
func split(line []byte) (canonical []byte, seq uint64, prev, h Hash, replayed, ok bool) {
	// ,"chain":{"seq":N,"prev":"<64 hex>","hash":"<64 hex>"}}}  ("seq":N, absent in older lines)
	const head, seqKey, prevKey, mid, tail = `,"chain":{`, `"seq":`, `"prev":"`, `","hash":"`, `"}}}`
	line = bytes.TrimRight(line, "\r\n")
	n := len(prevKey) + 64 + len(mid) + 64 + len(tail)
	if len(line) < n+len(head) {
		return nil, 0, prev, h, false, false
	}
	suffix := line[len(line)-n:]
	if !bytes.HasPrefix(suffix, []byte(prevKey)) || !bytes.HasSuffix(suffix, []byte(tail)) ||
		!bytes.Equal(suffix[len(prevKey)+64:len(prevKey)+64+len(mid)], []byte(mid)) {
		return nil, 0, prev, h, false, false
	}
	if _, err := hex.Decode(prev[:], suffix[len(prevKey):len(prevKey)+64]); err != nil {
		return nil, 0, prev, h, false, false
	}
	if _, err := hex.Decode(h[:], suffix[len(prevKey)+64+len(mid):len(prevKey)+128+len(mid)]); err != nil {
		return nil, 0, prev, h, false, false
	}
	rest := line[:len(line)-n]
	if bytes.HasSuffix(rest, []byte(",")) {
		// "seq":N, before "prev"
		rest = rest[:len(rest)-1]
		i := len(rest)
		for i > 0 && rest[i-1] >= '0' && rest[i-1] <= '9' {
			i--
		}
		digits := rest[i:]
		if len(digits) == 0 || len(digits) > 20 || digits[0] == '0' || !bytes.HasSuffix(rest[:i], []byte(seqKey)) {
			return nil, 0, prev, h, false, false
		}
		v, err := strconv.ParseUint(string(digits), 10, 64)
		if err != nil {
			return nil, 0, prev, h, false, false
		}
		seq, rest = v, rest[:i-len(seqKey)]
	}
	if !bytes.HasSuffix(rest, []byte(head)) {
		return nil, 0, prev, h, false, false
	}
	rest = rest[:len(rest)-len(head)]
	stripped := stripReplay(rest)
	replayed, rest = len(stripped) != len(rest), stripped
	canonical = make([]byte, 0, len(rest)+2)
	canonical = append(canonical, rest...)
	canonical = append(canonical, "}}"...)
	return canonical, seq, prev, h, replayed, true
}
