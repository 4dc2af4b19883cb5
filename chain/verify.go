package chain

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/fsaudit/fsaudit/record"
)

// ErrBroken wraps every verification failure.
var ErrBroken = errors.New("chain broken")

// maxEpoch bounds the epoch a verifier derives a key for: 2^26 seals are
// two years at one a second; a seal claiming more is refused rather than
// hashed towards.
var maxEpoch uint64 = 1 << 26

// Verifier checks a chained stream line by line: each record's hash, its
// link to the record before it, its sequence, where the chain starts, and,
// given a verification key, every seal. A line that repeats one already
// verified, byte for byte, is a record sent again after a crash (delivery
// is at least once): it is named, not an error.
type Verifier struct {
	mac hash.Hash
	vk  *VerificationKey

	at      State // the last record verified
	started bool
	seen    map[Hash]struct{}
	order   []Hash // the seen hashes, oldest first, to bound the map

	afterStop string // where the last stop seal was, while no start followed it
	sealSink  string
	lastSeal  *sealAt // the last seal with a MAC
	haveEpoch bool

	Lines      int      // records verified (duplicates not counted)
	Duplicates []string // where records were sent again (the first ten)
	Resent     int      // how many were
	Chains     int      // chains that start within the input
	FirstSeq   uint64   // the first record's sequence in its chain
	Head       string   // what the first record is
	Notes      []string // legitimate boundaries met: restarts, files not given
	Seals      int      // seals with a MAC checked against the verification key
	Unsealed   int      // records after the last seal with a MAC
	// Replayed counts records that carry fsaudit.replay: sent again by
	// fsaudit replay. The mark is no part of the chain; in the agent's own
	// output there is none.
	Replayed int
	// AnyStart takes the first line as the stream's start wherever it is
	// in its chain (a window of a Kafka topic), not as the head of files.
	AnyStart bool
	// Whole: the input is the sink's whole history since the sealing key
	// was made, so its first seal must be of epoch 0.
	Whole bool
	// MaxAge, with a verification key: the last seal may be at most this
	// old (a host whose agent runs seals all the time).
	MaxAge time.Duration
	// AnchorSink names the sink whose anchored copies CheckAnchors takes;
	// "": the one the files' seals name.
	AnchorSink string
	// Replayed accepts records marked fsaudit.replay (the output of
	// fsaudit replay); in a sink's own output such a mark is refused.
	AllowReplayed bool
	// DuplicateWindow is how many recent records are remembered to tell a
	// record sent again; 0: 2^20.
	DuplicateWindow int

	sealHost string // the host the files' first seal names

	sequenced bool // a line with a chain sequence was seen

	seals map[sealKey]*Seal   // every seal of the input, for its anchored copies
	runs  map[string]*runSpan // the covered sequences each agent run sealed
	first time.Time           // the earliest seal's time
	last  time.Time           // the latest seal's time
}

// sealKey names one seal of a sink's chain.
type sealKey struct {
	host, instance, reason string
	seq                    uint64
}

// runSpan is what the input holds of one agent run's seals.
type runSpan struct{ first, last uint64 }

// noteSeal keeps a seal of the input, to check its anchored copy against.
func (v *Verifier) noteSeal(s *Seal) {
	if v.seals == nil {
		v.seals, v.runs = map[sealKey]*Seal{}, map[string]*runSpan{}
	}
	if len(v.seals) >= duplicateWindow {
		return
	}
	v.seals[sealKey{s.host, s.Instance, s.Reason, s.Seq}] = s
	if r := v.runs[s.Instance]; r == nil {
		v.runs[s.Instance] = &runSpan{first: s.Seq, last: s.Seq}
	} else {
		r.first, r.last = min(r.first, s.Seq), max(r.last, s.Seq)
	}
	if s.Time.After(v.last) {
		v.last = s.Time
	}
	if v.first.IsZero() || s.Time.Before(v.first) {
		v.first = s.Time
	}
}

// ParseAnchored reads a line of an anchor sink's stream (or of any copy of
// seal records, one per line, chained or not) and returns the seal it
// holds; nil when the line is no seal record.
func ParseAnchored(line []byte) (*Seal, error) {
	// A syslog receiver's line has its header before the record.
	if i := bytes.Index(line, []byte(`{"@timestamp":"`)); i > 0 {
		line = line[i:]
	}
	canonical, _, _, _, ok := Split(line)
	if !ok {
		canonical = bytes.TrimRight(line, "\r\n")
	}
	return parseSeal(canonical)
}

// CheckAnchors compares the input's seals with copies kept elsewhere (the
// anchor sink's), after the last line: a copy of a seal of this sink's
// chain must match the input's seal in every field, and a copy the input
// lacks must lie before the input's start (files not given), not within
// or after it (records removed or the tail cut). It returns how many
// copies belonged to this chain.
func (v *Verifier) CheckAnchors(anchors []*Seal) (int, error) {
	sink, host := v.sealSink, v.sealHost
	if v.AnchorSink != "" {
		sink = v.AnchorSink
	}
	if sink == "" {
		return 0, fmt.Errorf("%w: the files hold no seal that names their sink: nothing to check the copies against (give --sink)", ErrBroken)
	}
	used := 0
	var newest *Seal
	for _, a := range anchors {
		if a.Sink != sink || host != "" && a.host != host {
			continue
		}
		used++
		if newest == nil || a.Time.After(newest.Time) {
			newest = a
		}
		what := fmt.Sprintf("the anchored %s seal of run %q after record %d", a.Reason, a.Instance, a.Seq)
		s, ok := v.seals[sealKey{a.host, a.Instance, a.Reason, a.Seq}]
		if ok {
			if s.Hash != a.Hash || s.mac != a.mac || s.Epoch != a.Epoch || s.KeyID != a.KeyID || !s.Time.Equal(a.Time) {
				return used, fmt.Errorf("%w: %s differs from the files' seal: the records before it were rewritten", ErrBroken, what)
			}
			continue
		}
		switch r := v.runs[a.Instance]; {
		case r != nil && a.Seq > r.last:
			return used, fmt.Errorf("%w: %s is missing from the files: their end was cut", ErrBroken, what)
		case r != nil && a.Seq >= r.first:
			return used, fmt.Errorf("%w: %s is missing from the files: records were removed", ErrBroken, what)
		case r == nil && a.Time.After(v.last):
			return used, fmt.Errorf("%w: %s is missing from the files, which end before it: their end was cut", ErrBroken, what)
		case r == nil && a.Time.After(v.first):
			return used, fmt.Errorf("%w: %s is missing from the files: the records of that run were removed", ErrBroken, what)
		}
	}
	if used == 0 {
		return 0, fmt.Errorf("%w: no copy is of sink %q on host %q: nothing to check the files against", ErrBroken, sink, host)
	}
	// Whatever the files claim of their runs and times, the last seal the
	// anchor got must be in them: else they were cut or made anew.
	if _, ok := v.seals[sealKey{newest.host, newest.Instance, newest.Reason, newest.Seq}]; !ok {
		return used, fmt.Errorf("%w: the newest anchored seal (%s of run %q after record %d, made %s) is not in the files: their end was cut, or they were made anew (or the copies were taken after the files)",
			ErrBroken, newest.Reason, newest.Instance, newest.Seq, newest.Time.UTC().Format(time.RFC3339))
	}
	return used, nil
}

type sealAt struct {
	where      string
	seq        uint64
	epoch      uint64
	reason     string
	time       time.Time
	nextBefore time.Time
}

// duplicateWindow is how many recent hashes are remembered to recognise
// records sent again.
const duplicateWindow = 1 << 20

// NewVerifier checks a stream whose chain has key (nil: plain SHA-256);
// vk, when not nil, checks the seals too.
func NewVerifier(key []byte, vk *VerificationKey) *Verifier {
	return &Verifier{seen: map[Hash]struct{}{}, mac: newMAC(key), vk: vk}
}

// Sink is the sink the input's seals name ("" before any seal).
func (v *Verifier) Sink() string { return v.sealSink }

// Last is where the chain stands after the last line verified.
func (v *Verifier) Last() State { return v.at }

func broken(where, format string, a ...any) error {
	return fmt.Errorf("%s: %w: %s", where, ErrBroken, fmt.Sprintf(format, a...))
}

// Line checks the next line, found at where (file:line), and says,
// wrapping ErrBroken, what is wrong.
func (v *Verifier) Line(where string, line []byte) error {
	canonical, seq, prev, h, replayed, ok := split(line)
	if !ok {
		return broken(where, "no chain at the end of the record (not fsaudit json output with a chain)")
	}
	if sum(v.mac, prev, seq, canonical) != h {
		return broken(where, "edited: the record does not match its hash (or the chain key is wrong)")
	}
	seal, err := parseSeal(canonical)
	if err != nil {
		return broken(where, "%v", err)
	}
	if seal != nil && seal.anchored {
		if v.sealSink != "" && seal.Sink == v.sealSink {
			return broken(where, "an anchored copy of this chain's own seal in its chain: made to hide a seal")
		}
		seal = nil // another sink's seal, copied here: a record of this chain like any
	}
	if replayed && !v.AllowReplayed {
		return broken(where, "a record marked fsaudit.replay in a sink's own output: added after the fact (give --replayed to verify what fsaudit replay wrote)")
	}
	if seq == 0 && (seal != nil || v.sequenced) {
		// Seals and sequences came together: a seal, or a record after
		// sequenced ones, without a sequence is a line made over in the
		// older form to escape the checks of sequences and seals.
		return broken(where, "a record without a chain sequence among records with one (or a seal without one): made over")
	}
	v.sequenced = v.sequenced || seq != 0
	newChain := seal != nil && seal.Reason == SealStart && seq == 1 && prev == Hash{}
	switch {
	case !v.started:
		v.started, v.FirstSeq = true, seq
		switch {
		case seq == 0:
			v.Head = "records without chain sequences (written by an older fsaudit): where the chain starts is not known"
		case newChain:
			v.Head = "the start of a chain (agent run " + strconv.Quote(seal.Instance) + "); runs before it, if any, are not in the input"
			v.Chains++
		case v.AnyStart:
			v.Head = fmt.Sprintf("the stream starts at record %d of its chain", seq)
		case seal != nil && (seal.Reason == SealRotate || seal.Reason == SealStart):
			v.Head = fmt.Sprintf("a file's start: the chain starts at sequence %d; earlier files not given", seq)
			v.Notes = append(v.Notes, fmt.Sprintf("starts at sequence %d; earlier files not given", seq))
		default:
			return broken(where, "the head is missing: the first record is number %d of its chain and neither the chain's start nor a file's start (the records before it were cut)", seq)
		}
	case prev != v.at.Hash || (seq != 0 && seq != v.at.Seq+1):
		if _, again := v.seen[h]; again {
			v.Resent++
			if len(v.Duplicates) < 10 {
				v.Duplicates = append(v.Duplicates, fmt.Sprintf("%s: record %d sent again (the same as before)", where, seq))
			}
			return nil
		}
		switch {
		case newChain:
			v.Chains++
			v.Notes = append(v.Notes, fmt.Sprintf("%s: a new chain starts (agent run %q, which had no spool to go on from)", where, seal.Instance))
		case seq == 0 || v.at.Seq == 0 && seq != 1:
			return broken(where, "does not follow the line before: a record was removed, inserted or moved here")
		case seq > v.at.Seq+1:
			if seq == v.at.Seq+2 {
				return broken(where, "record %d of the chain is missing: removed before this line", v.at.Seq+1)
			}
			return broken(where, "records %d to %d of the chain are missing: removed before this line", v.at.Seq+1, seq-1)
		case seq <= v.at.Seq:
			return broken(where, "record %d comes after record %d: records were moved or inserted here", seq, v.at.Seq)
		default:
			return broken(where, "does not follow the line before: record %d was replaced, or this one inserted", v.at.Seq)
		}
	}
	if v.afterStop != "" && !(seal != nil && seal.Reason == SealStart) {
		return broken(where, "a record after the agent's stop seal (%s) and before any new start: added after the agent stopped", v.afterStop)
	}
	v.afterStop = ""
	if seal != nil {
		if err := v.checkSeal(where, seq, prev, seal, newChain); err != nil {
			return err
		}
	} else {
		v.Unsealed++
	}
	if replayed {
		v.Replayed++
	}
	v.at = State{Seq: seq, Hash: h}
	v.Lines++
	v.seen[h] = struct{}{}
	v.order = append(v.order, h)
	window := v.DuplicateWindow
	if window <= 0 {
		window = duplicateWindow
	}
	if len(v.order) > window {
		delete(v.seen, v.order[0])
		v.order = v.order[1:]
	}
	return nil
}

// checkSeal checks a seal record, the record seq of its chain, whose prev
// is the record it covers.
func (v *Verifier) checkSeal(where string, seq uint64, prev Hash, s *Seal, newChain bool) error {
	if s.Seq != seq-1 || s.Hash != prev {
		return broken(where, "the seal names record %d (%s), not the record before it", s.Seq, s.Hash)
	}
	if v.sealSink != "" && s.Sink != v.sealSink && !newChain {
		return broken(where, "a seal of sink %q in the chain of sink %q", s.Sink, v.sealSink)
	}
	v.sealSink = s.Sink
	if v.sealHost == "" {
		v.sealHost = s.host
	}
	v.noteSeal(s)
	if s.Reason == SealStop {
		v.afterStop = where
	}
	if s.KeyID == "" || v.vk == nil {
		// A marker of the chain's structure, or a seal no key was given
		// to check: it covers nothing.
		v.Unsealed++
		return nil
	}
	if s.KeyID != v.vk.ID {
		return broken(where, "sealed with another key (key id %s; the verification key's is %s)", s.KeyID, v.vk.ID)
	}
	if v.haveEpoch && s.Epoch != v.lastSeal.epoch+1 {
		if s.Epoch <= v.lastSeal.epoch {
			return broken(where, "seal epoch %d after epoch %d: seals were moved or made again", s.Epoch, v.lastSeal.epoch)
		}
		why := "what they sealed was removed"
		if s.Reason == SealStart {
			why = "records were removed, or the agent died between making them and writing them"
		}
		if s.Epoch == v.lastSeal.epoch+2 {
			return broken(where, "the seal of epoch %d is missing after the seal at %s: %s", v.lastSeal.epoch+1, v.lastSeal.where, why)
		}
		return broken(where, "the seals of epochs %d to %d are missing after the seal at %s: %s", v.lastSeal.epoch+1, s.Epoch-1, v.lastSeal.where, why)
	}
	if s.Epoch > maxEpoch {
		return broken(where, "seal epoch %d is past any this key can have reached", s.Epoch)
	}
	mac := s.MAC(v.vk.Token(s.Epoch, s.Sink))
	if hex.EncodeToString(mac[:]) != s.mac {
		return broken(where, "the seal of epoch %d does not verify: a record before it was changed, removed or inserted, or the seal was forged", s.Epoch)
	}
	if !v.haveEpoch && s.Epoch > 0 && v.Whole {
		return broken(where, "the first seal is of epoch %d, not 0: the input is not the whole history since the key was made (records before it removed, or files not given)", s.Epoch)
	}
	if !v.haveEpoch && s.Epoch > 0 {
		v.Notes = append(v.Notes, fmt.Sprintf("the first seal given is of epoch %d (made %s): the seals of earlier epochs are in files not given", s.Epoch, s.Time.UTC().Format(time.RFC3339)))
	}
	v.haveEpoch = true
	v.lastSeal = &sealAt{where: where, seq: seq, epoch: s.Epoch, reason: s.Reason, time: s.Time, nextBefore: s.NextBefore}
	v.Seals++
	v.Unsealed = 0
	return nil
}

// End checks what only the whole input tells, at time now: that it held
// records and, with a verification key, that nothing sealed was cut from
// its end. It returns, when all is well, a line on how the input ends.
func (v *Verifier) End(now time.Time) (string, error) {
	if v.Lines == 0 {
		return "", fmt.Errorf("%w: no records: the input is empty", ErrBroken)
	}
	if v.vk == nil {
		return "", nil
	}
	if v.lastSeal == nil {
		return "", fmt.Errorf("%w: nothing is sealed: no seal with a MAC in the input (is [chain] seal_key_file set?)", ErrBroken)
	}
	ls := v.lastSeal
	if v.MaxAge > 0 && now.Sub(ls.time) > v.MaxAge {
		return "", fmt.Errorf("%w: the last seal (%s, epoch %d) was made %s, more than %s ago: later records were cut, or the agent stopped", ErrBroken,
			ls.where, ls.epoch, ls.time.UTC().Format(time.RFC3339), v.MaxAge)
	}
	if ls.reason == SealStop && v.Unsealed == 0 {
		return fmt.Sprintf("sealed to the end: the agent stopped at %s (seal epoch %d)", ls.time.UTC().Format(time.RFC3339), ls.epoch), nil
	}
	if ls.reason == SealStop || !now.Before(ls.nextBefore) {
		return "", fmt.Errorf("%w: the seal due before %s is missing: the records after record %d (sealed at %s) were cut, or the agent stopped without sealing (its next start seals them)",
			ErrBroken, ls.nextBefore.UTC().Format(time.RFC3339), ls.seq, ls.where)
	}
	return fmt.Sprintf("%d records after the last seal (%s, epoch %d) are not sealed yet: the next seal is due before %s",
		v.Unsealed, ls.where, ls.epoch, ls.nextBefore.UTC().Format(time.RFC3339)), nil
}

// sealEvent is how a seal record's event begins. Only @timestamp and
// ecs.version, neither of them a writer's, come before it, so no other
// record has it in its first bytes.
var sealEvent = []byte(`,"event":{"action":"seal",`)

// parseSeal reads a seal record's seal; nil when the record is no seal.
func parseSeal(canonical []byte) (*Seal, error) {
	head := canonical[:min(len(canonical), 128)]
	if !bytes.HasPrefix(head, []byte(`{"@timestamp":"`)) || !bytes.Contains(head, sealEvent) {
		return nil, nil
	}
	var r record.Record
	if err := record.ParseJSON(canonical, &r); err != nil {
		return nil, fmt.Errorf("a seal record that does not read: %v", err)
	}
	js := r.FSAudit.Seal
	switch js.Reason {
	case SealStart, SealInterval, SealStop, SealRotate:
	default:
		return nil, fmt.Errorf("a seal record of an unknown reason %q", js.Reason)
	}
	s := &Seal{Reason: js.Reason, Sink: js.Sink, Instance: js.Instance, Seq: js.Sequence, Time: r.Time,
		Epoch: js.Epoch, KeyID: js.KeyID, NextBefore: js.NextBefore, mac: js.MAC, anchored: js.Anchored, host: r.Host.Name}
	if js.Hash != "" {
		b, err := hex.DecodeString(js.Hash)
		if err != nil || len(b) != len(s.Hash) {
			return nil, errors.New("a seal record whose hash is not 64 hex digits")
		}
		copy(s.Hash[:], b)
	}
	return s, nil
}
