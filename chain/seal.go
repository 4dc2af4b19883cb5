package chain

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"syscall"
	"time"
)

// Sealing is a forward-secure MAC over each sink's chain, after the
// hash-chain-of-keys scheme of Bellare and Yee ("Forward-Security in
// Private-Key Cryptography", CT-RSA 2003) as Schneier and Kelsey use it
// for audit logs ("Secure Audit Logs to Support Computer Forensics", ACM
// TISSEC 1999): the key of epoch e+1 is a one-way hash of the key of
// epoch e, and the agent erases each key once its epoch is sealed. The
// first key (epoch 0) is the verification key, kept off the host: from it
// a verifier derives every later key, while someone who takes the host
// finds only the current key, which cannot MAC any earlier epoch.
//
// One epoch seals every sink once (a round): the key of the epoch gives
// each sink a token, HMAC(key, sink name); the key then evolves and is
// overwritten on disk, and only then do the sinks MAC their seal records
// with their tokens. So each sink's seals carry consecutive epochs, and a
// seal removed from a sink's stream leaves a gap no later key can fill.

// SealKey is the agent's evolving sealing key, kept in a file of one line
// that each round overwrites in place.
type SealKey struct {
	f     *os.File
	path  string
	epoch uint64
	key   [32]byte
	id    string
	// sync makes the overwritten key durable; a test replaces it to see
	// the order of writes.
	sync func(*os.File) error
}

// keyFileMagic starts a sealing key file; the line is
// "fsaudit-seal-key-v1 EPOCH KEYID KEY\n", EPOCH zero-padded so that every
// version of the line has the same length.
const keyFileMagic = "fsaudit-seal-key-v1"

// verificationPrefix starts a verification key: "fsvk1-" then the key of
// epoch 0 in hex.
const verificationPrefix = "fsvk1-"

// keyLineLen is the length of a key file's line.
const keyLineLen = len(keyFileMagic) + 1 + 20 + 1 + 16 + 1 + 64 + 1

// CreateSealKey writes a new sealing key at epoch 0 to path (mode 0600;
// the file must not exist) and returns the verification key.
func CreateSealKey(path string) (string, error) {
	var k0 [32]byte
	if _, err := rand.Read(k0[:]); err != nil {
		return "", fmt.Errorf("seal key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", fmt.Errorf("seal key: %w", err)
	}
	line := keyLine(0, keyID(k0), k0)
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("seal key %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return verificationPrefix + hex.EncodeToString(k0[:]), nil
}

// keyLine is the key file's content for a key at epoch.
func keyLine(epoch uint64, id string, key [32]byte) []byte {
	return fmt.Appendf(nil, "%s %020d %s %s\n", keyFileMagic, epoch, id, hex.EncodeToString(key[:]))
}

// keyID names a key (by its epoch-0 key) without revealing it: seals carry
// it, so a verifier can tell a seal of another key from a forged one.
func keyID(k0 [32]byte) string {
	h := sha256.Sum256(append([]byte("fsaudit seal key id\x00"), k0[:]...))
	return hex.EncodeToString(h[:8])
}

// OpenSealKey opens the sealing key file for the rounds to come: f, the
// file already opened (read and write, without following a link, and
// checked by the caller: owner and mode), and its path for messages.
func OpenSealKey(f *os.File, path string) (*SealKey, error) {
	buf := make([]byte, keyLineLen+1)
	n, err := f.ReadAt(buf, 0)
	if err != nil && n == 0 {
		return nil, fmt.Errorf("seal key %s: %w", path, err)
	}
	epoch, id, key, err := parseKeyLine(buf[:n])
	clear(buf)
	if err != nil {
		return nil, fmt.Errorf("seal key %s: %w", path, err)
	}
	return &SealKey{f: f, path: path, epoch: epoch, id: id, key: key, sync: (*os.File).Sync}, nil
}

// parseKeyLine reads a key file's line; the key is decoded from the bytes
// given (which the caller clears), never copied into a string.
func parseKeyLine(b []byte) (epoch uint64, id string, key [32]byte, err error) {
	if len(b) != keyLineLen || b[len(b)-1] != '\n' {
		return 0, "", key, errors.New("not a sealing key made by fsaudit keygen (wrong length)")
	}
	f := bytes.Split(b[:len(b)-1], []byte(" "))
	if len(f) != 4 || string(f[0]) != keyFileMagic || len(f[1]) != 20 || len(f[2]) != 16 || len(f[3]) != 64 {
		return 0, "", key, errors.New("not a sealing key made by fsaudit keygen")
	}
	if epoch, err = strconv.ParseUint(string(f[1]), 10, 64); err != nil {
		return 0, "", key, errors.New("not a sealing key made by fsaudit keygen (epoch)")
	}
	if _, err := hex.Decode(key[:], f[3]); err != nil {
		return 0, "", key, errors.New("not a sealing key made by fsaudit keygen (key)")
	}
	if _, err := hex.DecodeString(string(f[2])); err != nil {
		return 0, "", key, errors.New("not a sealing key made by fsaudit keygen (key id)")
	}
	return epoch, string(f[2]), key, nil
}

// Lock takes the key file for this process alone (an exclusive flock):
// a second agent on the same key would write back a key of an epoch
// already sealed. The lock goes with the file at Close.
func (k *SealKey) Lock() error {
	if err := syscall.Flock(int(k.f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("seal key %s is in use by another fsaudit process", k.path)
		}
		return fmt.Errorf("seal key %s: locking: %w", k.path, err)
	}
	return nil
}

// Epoch is the epoch the next round seals.
func (k *SealKey) Epoch() uint64 { return k.epoch }

// ID names the key; every seal carries it.
func (k *SealKey) ID() string { return k.id }

// Close closes the key file.
func (k *SealKey) Close() error {
	clear(k.key[:])
	return k.f.Close()
}

// Round seals one epoch for the named sinks: it derives each sink's token
// from the current key, then evolves the key, overwrites the file with the
// next one and syncs it, and only then returns the tokens and the epoch
// they belong to. When the new key cannot be made durable the round fails
// and no token is returned: no seal is made with a key that could still be
// read from the disk afterwards.
func (k *SealKey) Round(sinks []string) (uint64, [][32]byte, error) {
	tokens := make([][32]byte, len(sinks))
	for i, s := range sinks {
		tokens[i] = sinkToken(k.key, s)
	}
	next := evolve(k.key)
	line := keyLine(k.epoch+1, k.id, next)
	defer clear(line)
	if _, err := k.f.WriteAt(line, 0); err != nil {
		clear(next[:])
		return 0, nil, fmt.Errorf("seal key %s: overwriting the key of epoch %d: %w", k.path, k.epoch, err)
	}
	if err := k.sync(k.f); err != nil {
		clear(next[:])
		return 0, nil, fmt.Errorf("seal key %s: syncing the key of epoch %d: %w", k.path, k.epoch+1, err)
	}
	epoch := k.epoch
	clear(k.key[:])
	k.key, k.epoch = next, k.epoch+1
	return epoch, tokens, nil
}

// evolve is the one-way step from an epoch's key to the next one's.
func evolve(key [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("fsaudit seal key evolve\x00"))
	h.Write(key[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// sinkToken is the key one sink MACs its seal of an epoch with.
func sinkToken(key [32]byte, sink string) [32]byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte("fsaudit seal token\x00"))
	m.Write([]byte(sink))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// Seal is what a seal record says, and what its MAC covers.
type Seal struct {
	Reason     string // start, interval, stop, rotate
	Sink       string
	Instance   string    // the agent run that made it
	Seq        uint64    // the chain sequence it covers: the record before it
	Hash       Hash      // that record's chain hash
	Time       time.Time // the seal record's @timestamp
	Epoch      uint64
	KeyID      string
	NextBefore time.Time // the next seal comes before this, unless the agent stops
	mac        string    // the MAC in hex, as a record read back carries it
	anchored   bool      // a copy in an anchor sink's stream
	host       string    // the record's host.name
}

// The reasons for a seal record.
const (
	SealStart    = "start"    // the first record of an agent run in the chain
	SealInterval = "interval" // made every seal_interval
	SealStop     = "stop"     // the last record of an agent run
	SealRotate   = "rotate"   // the first record of a file the sink started
)

// MAC is the seal's MAC under a sink's token of its epoch.
func (s *Seal) MAC(token [32]byte) Hash {
	m := hmac.New(sha256.New, token[:])
	var b bytes.Buffer
	b.WriteString("fsaudit seal v1\x00")
	for _, f := range []string{s.Sink, s.Reason, s.Instance, s.KeyID} {
		b.WriteString(f)
		b.WriteByte(0)
	}
	var n [8]byte
	for _, v := range []uint64{s.Epoch, s.Seq, uint64(s.Time.UnixNano()), uint64(s.NextBefore.UnixNano())} {
		binary.BigEndian.PutUint64(n[:], v)
		b.Write(n[:])
	}
	b.Write(s.Hash[:])
	m.Write(b.Bytes())
	var out Hash
	m.Sum(out[:0])
	return out
}

// VerificationKey derives the keys of every epoch of one sealing key.
type VerificationKey struct {
	k0    [32]byte
	ID    string
	epoch uint64   // the epoch of key
	key   [32]byte // a key on the way, to derive later ones from
}

// ParseVerificationKey reads a key as keygen printed it.
func ParseVerificationKey(s string) (*VerificationKey, error) {
	s = strings.TrimSpace(s)
	h, ok := strings.CutPrefix(s, verificationPrefix)
	if !ok || len(h) != 64 {
		return nil, fmt.Errorf("not a verification key (want %s and 64 hex digits, as fsaudit keygen printed it)", verificationPrefix)
	}
	v := &VerificationKey{}
	if _, err := hex.Decode(v.k0[:], []byte(h)); err != nil {
		return nil, fmt.Errorf("not a verification key: %w", err)
	}
	v.ID, v.key = keyID(v.k0), v.k0
	return v, nil
}

// Token is a sink's token of an epoch. Epochs asked in growing order cost
// one hash each; going back starts again from epoch 0.
func (v *VerificationKey) Token(epoch uint64, sink string) [32]byte {
	if epoch < v.epoch {
		v.epoch, v.key = 0, v.k0
	}
	for v.epoch < epoch {
		v.key = evolve(v.key)
		v.epoch++
	}
	return sinkToken(v.key, sink)
}
