package chain

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/record"
)

// writer makes chained json lines as a sink's route does: records, and
// seals with or without a sealing key.
type writer struct {
	c     *Chainer
	key   *SealKey
	sink  string
	run   string
	clock time.Time
	lines []string
}

func newWriter(t *testing.T, chainKey []byte, sealKey *SealKey) *writer {
	return &writer{c: New(chainKey, State{}), key: sealKey, sink: "local", run: "run-1", clock: time.Unix(1700000000, 0)}
}

func (w *writer) add(r *record.Record) {
	r.FSAudit.Chain = record.Chain{}
	canonical := record.AppendJSON(nil, r)
	prev, own := w.c.Next(canonical)
	r.FSAudit.Chain = record.Chain{Seq: own.Seq, Prev: prev.Hash.String(), Hash: own.Hash.String()}
	w.lines = append(w.lines, string(record.AppendJSON(nil, r)))
}

func (w *writer) tick() time.Time {
	w.clock = w.clock.Add(time.Second)
	return w.clock
}

func (w *writer) record(i int) {
	w.add(&record.Record{
		Time: w.tick(), Action: "write", ID: fmt.Sprint("id-", i), Sequence: uint64(i),
		File:    record.File{Path: "/f", Name: "f", Directory: "/", Mode: 0o100644},
		Host:    record.Host{Name: "h"},
		FSAudit: record.FSAudit{Hook: "tracepoint", Bytes: uint64(i)},
	})
}

func (w *writer) seal(t *testing.T, reason string) {
	at := w.c.State()
	r := &record.Record{Time: w.tick(), Action: record.ActionSeal, ID: "seal", Host: record.Host{Name: "h"}}
	sl := &record.Seal{Reason: reason, Sink: w.sink, Instance: w.run, Sequence: at.Seq, Hash: at.Hash.String()}
	if w.key != nil {
		epoch, tokens, err := w.key.Round([]string{w.sink})
		if err != nil {
			t.Fatal(err)
		}
		cs := Seal{Reason: reason, Sink: w.sink, Instance: w.run, Seq: at.Seq, Hash: at.Hash, Time: r.Time, Epoch: epoch, KeyID: w.key.ID()}
		if reason != SealStop {
			cs.NextBefore = r.Time.Add(time.Minute)
		}
		mac := cs.MAC(tokens[0])
		sl.Epoch, sl.KeyID, sl.NextBefore, sl.MAC = epoch, w.key.ID(), cs.NextBefore, hex.EncodeToString(mac[:])
	}
	r.FSAudit.Seal = sl
	w.add(r)
}

// run writes one agent run: a start seal, n records with an interval seal
// every sealEvery, and a stop seal.
func (w *writer) runOf(t *testing.T, n, sealEvery int) {
	w.seal(t, SealStart)
	for i := 1; i <= n; i++ {
		w.record(i)
		if sealEvery > 0 && i%sealEvery == 0 {
			w.seal(t, SealInterval)
		}
	}
	w.seal(t, SealStop)
}

func newSealKey(t testing.TB) (*SealKey, *VerificationKey, string) {
	path := filepath.Join(t.TempDir(), "seal.key")
	vks, err := CreateSealKey(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	k, err := OpenSealKey(f, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	vk, err := ParseVerificationKey(vks)
	if err != nil {
		t.Fatal(err)
	}
	return k, vk, path
}

// check verifies lines and returns the error of the first line that fails
// (or of the end), and the verifier.
func check(key []byte, vk *VerificationKey, now time.Time, ls []string) (*Verifier, error) {
	v := NewVerifier(key, vk)
	for i, l := range ls {
		if err := v.Line(fmt.Sprint("line ", i+1), []byte(l)); err != nil {
			return v, err
		}
	}
	_, err := v.End(now)
	return v, err
}

func TestVerifyChain(t *testing.T) {
	for _, key := range [][]byte{nil, []byte("secret")} {
		w := newWriter(t, key, nil)
		w.runOf(t, 8, 0)
		good := w.lines // start, 8 records, stop
		later := time.Unix(1800000000, 0)
		del := func(ls []string, from, to int) []string {
			return append(append([]string(nil), ls[:from]...), ls[to:]...)
		}
		swapped := append([]string(nil), good...)
		swapped[3], swapped[4] = swapped[4], swapped[3]
		edited := append([]string(nil), good...)
		edited[3] = strings.Replace(edited[3], `"bytes":3`, `"bytes":4`, 1)
		// A second run without a spool: a new chain in the same file.
		w2 := newWriter(t, key, nil)
		w2.run = "run-2"
		w2.runOf(t, 3, 0)
		restarted := append(append([]string(nil), good...), w2.lines...)
		// Records added after the stop seal by someone holding the key.
		w.record(99)
		afterStop := w.lines
		for _, tc := range []struct {
			name string
			ls   []string
			want string // "" : verifies
		}{
			{"untouched", good, ""},
			{"edited", edited, "line 4: chain broken: edited"},
			{"one removed", del(good, 4, 5), "line 5: chain broken: record 5 of the chain is missing"},
			{"three removed", del(good, 3, 6), "line 4: chain broken: records 4 to 6 of the chain are missing"},
			{"swapped", swapped, "line 4: chain broken: record 4 of the chain is missing"},
			{"head cut", good[2:], "line 1: chain broken: the head is missing: the first record is number 3"},
			{"empty", nil, "chain broken: no records: the input is empty"},
			{"sent again", append(append([]string(nil), good[:6]...), good[4:]...), ""},
			{"restart without a spool", restarted, ""},
			{"records after the stop", afterStop, "line 11: chain broken: a record after the agent's stop seal (line 10)"},
		} {
			v, err := check(key, nil, later, tc.ls)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("key %q, %s: %v", key, tc.name, err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("key %q, %s: got %v, want %q", key, tc.name, err, tc.want)
			case tc.want != "" && !errors.Is(err, ErrBroken):
				t.Errorf("key %q, %s: %v does not wrap ErrBroken", key, tc.name, err)
			}
			if tc.name == "sent again" && (v.Resent != 2 || len(v.Duplicates) != 2 || !strings.HasPrefix(v.Duplicates[0], "line 7: record 5 sent again")) {
				t.Errorf("key %q: resends not named: %d %q", key, v.Resent, v.Duplicates)
			}
			if tc.name == "restart without a spool" && (v.Chains != 2 || len(v.Notes) != 1 || !strings.Contains(v.Notes[0], "line 11: a new chain starts (agent run \"run-2\"")) {
				t.Errorf("key %q: restart not named: %d chains, notes %q", key, v.Chains, v.Notes)
			}
		}
	}
}

// The chain's key matters, and a line of another chain does not verify.
func TestVerifyWrongKey(t *testing.T) {
	w := newWriter(t, []byte("secret"), nil)
	w.runOf(t, 2, 0)
	if _, err := check([]byte("other"), nil, time.Now(), w.lines); err == nil || !strings.Contains(err.Error(), "edited") {
		t.Errorf("the wrong key verifies: %v", err)
	}
}

func TestSealKeyEvolves(t *testing.T) {
	k, vk, path := newSealKey(t)
	if k.ID() != vk.ID {
		t.Fatalf("key id %s, verification key's %s", k.ID(), vk.ID)
	}
	var synced [][]byte
	k.sync = func(f *os.File) error {
		b, _ := os.ReadFile(path)
		synced = append(synced, b)
		return f.Sync()
	}
	var keys []string // every key seen on disk
	for e := uint64(0); e < 5; e++ {
		before, _ := os.ReadFile(path)
		_, _, old, err := parseKeyLine(before)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, hex.EncodeToString(old[:]))
		epoch, tokens, err := k.Round([]string{"a", "b"})
		if err != nil {
			t.Fatal(err)
		}
		if epoch != e || k.Epoch() != e+1 {
			t.Fatalf("round %d sealed epoch %d, key now at %d", e, epoch, k.Epoch())
		}
		// The tokens are the ones the verification key derives.
		if tokens[0] != vk.Token(e, "a") || tokens[1] != vk.Token(e, "b") || tokens[0] == tokens[1] {
			t.Fatalf("epoch %d: tokens do not match the verification key's", e)
		}
		after, _ := os.ReadFile(path)
		// The key was durable before the round returned: what was synced
		// is what is on disk now, the next epoch's key.
		if len(synced) != int(e)+1 || !bytes.Equal(synced[e], after) {
			t.Fatalf("epoch %d: the new key was not synced before the tokens were given", e)
		}
		ne, _, nk, err := parseKeyLine(after)
		if err != nil || ne != e+1 {
			t.Fatalf("after round %d the file says epoch %d (%v)", e, ne, err)
		}
		// No key of an earlier epoch is left in the file.
		for _, old := range keys {
			if bytes.Contains(after, []byte(old)) {
				t.Fatalf("after round %d the file still holds the key of an earlier epoch", e)
			}
		}
		if nk != evolve(old) {
			t.Fatalf("epoch %d: the next key is not the one-way step of the last", e)
		}
	}
	// A key that cannot be made durable gives no tokens, and the epoch
	// stays to be sealed again.
	k.sync = func(*os.File) error { return errors.New("disk gone") }
	if _, tokens, err := k.Round([]string{"a"}); err == nil || tokens != nil || k.Epoch() != 5 {
		t.Errorf("a failed sync gave tokens %v, err %v, epoch %d", tokens, err, k.Epoch())
	}
	// Going back from a later epoch derives again from epoch 0.
	one := vk.Token(1, "a")
	vk.Token(7, "a")
	if again := vk.Token(1, "a"); again != one || vk.Token(0, "a") == one {
		t.Error("tokens are not a function of epoch and sink")
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k")
	if _, err := CreateSealKey(path); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	if _, err := CreateSealKey(path); err == nil {
		t.Error("keygen overwrote an existing key")
	}
	link := filepath.Join(dir, "link")
	os.Symlink(filepath.Join(dir, "target"), link)
	if _, err := CreateSealKey(link); err == nil {
		t.Error("keygen followed a symbolic link")
	}
	if _, err := os.Stat(filepath.Join(dir, "target")); err == nil {
		t.Error("keygen created the link's target")
	}
	for _, bad := range []string{"", "fsvk1-", "fsvk1-zz", "fsvk2-" + strings.Repeat("a", 64)} {
		if _, err := ParseVerificationKey(bad); err == nil {
			t.Errorf("verification key %q accepted", bad)
		}
	}
	os.WriteFile(filepath.Join(dir, "junk"), []byte("not a key\n"), 0o600)
	f, _ := os.Open(filepath.Join(dir, "junk"))
	defer f.Close()
	if _, err := OpenSealKey(f, "junk"); err == nil {
		t.Error("a file that is no key opened as one")
	}
}

func TestVerifySeals(t *testing.T) {
	k, vk, _ := newSealKey(t)
	w := newWriter(t, nil, k)
	w.runOf(t, 12, 4) // start, 12 records and an interval seal every 4, stop
	good := w.lines
	stopAt := w.clock
	if _, err := check(nil, vk, stopAt.Add(time.Hour), good); err != nil {
		t.Fatalf("untouched: %v", err)
	}
	v, _ := check(nil, vk, stopAt.Add(time.Hour), good)
	if v.Seals != 5 || v.Unsealed != 0 {
		t.Errorf("%d seals checked, %d unsealed; want 5 and 0", v.Seals, v.Unsealed)
	}

	// Someone who takes the host after the stop holds the key of the next
	// epoch: rewriting a record and making the chain (keyless) whole again
	// fails at the first seal after it, whose MAC needs an erased key.
	rewritten := rechain(t, good, 1, func(l string) string { return strings.Replace(l, `"bytes":1`, `"bytes":7`, 1) })
	if _, err := check(nil, vk, stopAt, rewritten); err == nil || !strings.Contains(err.Error(), "line 6: chain broken: the seal of epoch 1 does not verify") {
		t.Errorf("a rewrite under the current key: %v", err)
	}
	// Cutting the tail from a seal on and sealing again with the current
	// key leaves a gap in the epochs.
	w2 := newWriter(t, nil, k)
	w2.c = New(nil, mustState(t, good[8]))
	w2.seal(t, SealStop)
	resealed := append(append([]string(nil), good[:9]...), w2.lines...)
	if _, err := check(nil, vk, stopAt, resealed); err == nil || !strings.Contains(err.Error(), "line 10: chain broken: the seals of epochs 2 to 4 are missing after the seal at line 6") {
		t.Errorf("a tail cut and sealed again: %v", err)
	}
	// Starting a new chain from zeros after the cut does not help either.
	w3 := newWriter(t, nil, k)
	w3.runOf(t, 2, 0)
	fresh := append(append([]string(nil), good[:9]...), w3.lines...)
	if _, err := check(nil, vk, stopAt, fresh); err == nil || !strings.Contains(err.Error(), "are missing") {
		t.Errorf("a new chain after a cut: %v", err)
	}
	// The tail cut, the last seal (stop) with it: the seal due after the
	// interval seal left is missing once its time has passed...
	cut := good[:len(good)-3]
	if _, err := check(nil, vk, stopAt.Add(time.Hour), cut); err == nil || !strings.Contains(err.Error(), "the seal due before") {
		t.Errorf("a cut tail: %v", err)
	}
	// ...and before then, what follows the last seal is unsealed.
	cut2 := good[:len(good)-1]
	v, err := check(nil, vk, stopAt, cut2)
	if err != nil || v.Unsealed != 0 {
		t.Errorf("before the next seal is due: %v, %d unsealed", err, v.Unsealed)
	}
	cut3 := good[:len(good)-2] // ends with a record after the third interval seal
	v, err = check(nil, vk, stopAt, cut3)
	end, _ := v.End(stopAt)
	if err != nil || v.Unsealed != 4 || !strings.Contains(end, "4 records after the last seal (line 11, epoch 2)") {
		t.Errorf("an unsealed tail: %v, %d unsealed, %q", err, v.Unsealed, end)
	}
	// Another key's verification key does not verify these seals.
	_, other, _ := newSealKey(t)
	if _, err := check(nil, other, stopAt, good); err == nil || !strings.Contains(err.Error(), "sealed with another key") {
		t.Errorf("another key: %v", err)
	}
	// Without seals, a verification key finds nothing sealed.
	plain := newWriter(t, nil, nil)
	plain.runOf(t, 3, 0)
	if _, err := check(nil, vk, stopAt, plain.lines); err == nil || !strings.Contains(err.Error(), "nothing is sealed") {
		t.Errorf("no seals: %v", err)
	}
}

// forgedRun is a run someone wrote in place of the real ones, later, with
// a plain chain: its seals match no copy.
func forgedRun(t *testing.T, at time.Time) []string {
	f := newWriter(t, nil, nil)
	f.run, f.clock = "forged", at
	f.runOf(t, 3, 0)
	return f.lines
}

// rechain edits line i with edit and recomputes the plain chain from there
// on, as someone without the chain key can: every hash and prev matches.
func rechain(t *testing.T, ls []string, i int, edit func(string) string) []string {
	out := append([]string(nil), ls...)
	out[i] = edit(out[i])
	var prev State
	for j := range out {
		canonical, seq, oldPrev, _, ok := Split([]byte(out[j]))
		if !ok {
			t.Fatalf("line %d has no chain", j)
		}
		if j >= i {
			// A seal names the record it covers: that changes too.
			canonical = bytes.Replace(canonical, []byte(`"hash":"`+oldPrev.String()), []byte(`"hash":"`+prev.Hash.String()), 1)
			c := New(nil, prev)
			_, own := c.Next(canonical)
			out[j] = string(record.AppendChained(nil, canonical, record.Chain{Seq: seq, Prev: prev.Hash.String(), Hash: own.Hash.String()}))
		}
		_, _, _, h, _ := Split([]byte(out[j]))
		prev = State{Seq: seq, Hash: h}
	}
	return out
}

func mustState(t *testing.T, line string) State {
	_, seq, _, h, ok := Split([]byte(line))
	if !ok {
		t.Fatal("no chain")
	}
	return State{Seq: seq, Hash: h}
}

// Lines of versions before sequences still verify by their links.
func TestVerifyOlderLines(t *testing.T) {
	var ls []string
	var prev Hash
	for i := 0; i < 3; i++ {
		r := &record.Record{Time: time.Unix(int64(i), 0), Action: "write", ID: "id", File: record.File{Path: "/f"}, Host: record.Host{Name: "h"}}
		canonical := record.AppendJSON(nil, r)
		h := sum(newMAC(nil), prev, 0, canonical)
		ls = append(ls, string(record.AppendChained(nil, canonical, record.Chain{Prev: prev.String(), Hash: h.String()})))
		prev = h
	}
	if _, err := check(nil, nil, time.Now(), ls); err != nil {
		t.Errorf("older lines: %v", err)
	}
	if _, err := check(nil, nil, time.Now(), []string{ls[0], ls[2]}); err == nil {
		t.Error("a removed older line verifies")
	}
}

func FuzzSplit(f *testing.F) {
	w := &writer{c: New(nil, State{}), sink: "s", clock: time.Unix(0, 0)}
	w.record(1)
	f.Add([]byte(w.lines[0]))
	f.Add([]byte(`{"a":1,"fsaudit":{"chain":{"seq":01,"prev":"` + strings.Repeat("0", 64) + `","hash":"` + strings.Repeat("0", 64) + `"}}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		canonical, _, _, _, ok := Split(line)
		if ok && !bytes.HasSuffix(canonical, []byte("}}")) {
			t.Errorf("canonical %q", canonical)
		}
	})
}

// FuzzVerify chains whatever lines it is given, so that they pass the
// hash checks, and checks that the verifier neither panics nor hangs on
// them, seals and all.
func FuzzVerify(f *testing.F) {
	old := maxEpoch
	maxEpoch = 1 << 12
	defer func() { maxEpoch = old }()
	vk, _ := ParseVerificationKey("fsvk1-" + strings.Repeat("ab", 32))
	w := &writer{c: New(nil, State{}), sink: "s", clock: time.Unix(0, 0)}
	w.seal(nil, SealStart)
	w.record(1)
	w.seal(nil, SealStop)
	for _, l := range w.lines {
		canonical, _, _, _, _ := Split([]byte(l))
		f.Add(canonical, uint8(1), false)
	}
	f.Add([]byte(`{"@timestamp":"2024-01-01T00:00:00Z","event":{"action":"seal","x":1},"fsaudit":{"seal":{"reason":"interval","key_id":"`+vk.ID+`","epoch":4000,"mac":"00"}}}`), uint8(2), true)
	f.Fuzz(func(t *testing.T, canonical []byte, step uint8, sealed bool) {
		v := NewVerifier(nil, nil)
		if sealed {
			v = NewVerifier(nil, vk)
		}
		c := New(nil, State{})
		for i := 0; i < 3; i++ {
			at := c.State()
			_, own := c.Next(canonical)
			seq := own.Seq * uint64(step%3)
			line := record.AppendChained(nil, canonical, record.Chain{Seq: seq, Prev: at.Hash.String(), Hash: sum(newMAC(nil), at.Hash, seq, canonical).String()})
			v.Line(fmt.Sprint(i), line)
			v.Line(fmt.Sprint(i), canonical)
		}
		v.End(time.Unix(0, 0))
	})
}

// Copies of the seals kept elsewhere find a cut tail, a rewrite and a run
// removed between two others, even in a plain chain anyone can recompute;
// copies of seals before the files given (retention) are no error.
func TestCheckAnchors(t *testing.T) {
	w := newWriter(t, nil, nil)
	var runs [][]string
	for run := 0; run < 3; run++ {
		start := len(w.lines)
		w.run = fmt.Sprint("run-", run)
		w.c = New(nil, State{}) // no spool: each run a new chain
		w.runOf(t, 6, 2)
		runs = append(runs, w.lines[start:])
	}
	var anchors []*Seal
	for _, l := range w.lines {
		s, err := ParseAnchored([]byte("<133>1 host fsaudit - seal - " + l))
		if err != nil {
			t.Fatal(err)
		}
		if s != nil {
			anchors = append(anchors, s)
		}
	}
	if len(anchors) != 3*5 {
		t.Fatalf("%d seals read back, want 15", len(anchors))
	}
	all := w.lines
	anchored := func(ls []string) (int, error) {
		v, err := check(nil, nil, time.Now(), ls)
		if err != nil {
			return 0, fmt.Errorf("verify without the anchors: %w", err)
		}
		return v.CheckAnchors(anchors)
	}
	if n, err := anchored(all); err != nil || n != 15 {
		t.Fatalf("untouched: %d anchors, %v", n, err)
	}
	// Retention: the first run's file is gone.
	if _, err := anchored(all[len(runs[0]):]); err != nil {
		t.Errorf("the first run not given: %v", err)
	}
	for _, tc := range []struct {
		name string
		ls   []string
		want string
	}{
		{"tail cut", all[:len(all)-4], "is missing from the files: their end was cut"},
		{"last run cut", all[:len(all)-len(runs[2])], "is missing from the files, which end before it: their end was cut"},
		{"middle run removed", append(append([]string(nil), runs[0]...), runs[2]...), "the records of that run were removed"},
		{"rewritten", rechain(t, runs[2], 2, func(l string) string { return strings.Replace(l, `"bytes":2`, `"bytes":9`, 1) }), "differs from the files' seal"},
		{"made anew", forgedRun(t, w.clock.Add(time.Hour)), "the newest anchored seal (stop of run \"run-2\" after record 10"},
	} {
		if _, err := anchored(tc.ls); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Made over in the older form (no sequences), recomputed: a seal without a
// sequence, or any record after sequenced ones, is refused; the whole
// history must start at epoch 0 when asked; an old last seal fails
// MaxAge.
func TestVerifyMadeOver(t *testing.T) {
	k, vk, _ := newSealKey(t)
	w := newWriter(t, nil, k)
	w.runOf(t, 6, 3)
	stopAt := w.clock
	// Strip every sequence and recompute the hashes the older way.
	var old []string
	var prev Hash
	for _, l := range w.lines {
		canonical, _, _, _, _ := Split([]byte(l))
		h := sum(newMAC(nil), prev, 0, canonical)
		old = append(old, string(record.AppendChained(nil, canonical, record.Chain{Prev: prev.String(), Hash: h.String()})))
		prev = h
	}
	if _, err := check(nil, vk, stopAt, old); err == nil || !strings.Contains(err.Error(), "line 1: chain broken: a record without a chain sequence") {
		t.Errorf("sealed lines made over without sequences: %v", err)
	}
	mixed := append(append([]string(nil), w.lines[:3]...), old[3:]...)
	if _, err := check(nil, nil, stopAt, mixed); err == nil || !strings.Contains(err.Error(), "line 4: chain broken: a record without a chain sequence") {
		t.Errorf("sequenced lines, then older ones: %v", err)
	}
	// The whole history starts at epoch 0; a later run alone does not.
	w2 := newWriter(t, nil, k)
	w2.runOf(t, 2, 0)
	v := NewVerifier(nil, vk)
	v.Whole = true
	for i, l := range w.lines {
		if err := v.Line(fmt.Sprint("line ", i+1), []byte(l)); err != nil {
			t.Fatalf("the whole history: %v", err)
		}
	}
	v = NewVerifier(nil, vk)
	v.Whole = true
	if err := v.Line("line 1", []byte(w2.lines[0])); err == nil || !strings.Contains(err.Error(), "the first seal is of epoch 4, not 0") {
		t.Errorf("a later run as the whole history: %v", err)
	}
	// MaxAge: the stop seal is older than asked.
	v = NewVerifier(nil, vk)
	v.MaxAge = time.Minute
	for i, l := range w.lines {
		v.Line(fmt.Sprint("line ", i+1), []byte(l))
	}
	if _, err := v.End(stopAt.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "more than 1m0s ago") {
		t.Errorf("an old last seal with MaxAge: %v", err)
	}
	if _, err := v.End(stopAt.Add(time.Second)); err != nil {
		t.Errorf("a fresh last seal with MaxAge: %v", err)
	}
}

// BenchmarkSealRound is one epoch: tokens for two sinks, the next key
// written over the old one and synced.
func BenchmarkSealRound(b *testing.B) {
	k, _, _ := newSealKey(b)
	for b.Loop() {
		if _, _, err := k.Round([]string{"local", "siem"}); err != nil {
			b.Fatal(err)
		}
	}
}

// Copies of another sink (or none at all) check nothing and fail; a
// replay mark in a sink's own output, or an anchored copy of the chain's
// own seal, is refused.
func TestAnchorsAndMarksRefused(t *testing.T) {
	w := newWriter(t, nil, nil)
	w.runOf(t, 3, 0)
	v, err := check(nil, nil, time.Now(), w.lines)
	if err != nil {
		t.Fatal(err)
	}
	other := &Seal{Sink: "elsewhere", Reason: SealStop, Instance: "x", Seq: 4}
	if _, err := v.CheckAnchors([]*Seal{other}); err == nil || !strings.Contains(err.Error(), "no copy is of sink \"local\"") {
		t.Errorf("copies of another sink: %v", err)
	}
	marked := append([]string(nil), w.lines...)
	marked[2] = strings.Replace(marked[2], `,"chain":{`, `,"replay":{"topic":"t","partition":0,"offset":1},"chain":{`, 1)
	if _, err := check(nil, nil, time.Now(), marked); err == nil || !strings.Contains(err.Error(), "line 3: chain broken: a record marked fsaudit.replay") {
		t.Errorf("a replay mark in a sink's own output: %v", err)
	}
	v = NewVerifier(nil, nil)
	v.AllowReplayed = true
	for i, l := range marked {
		if err := v.Line(fmt.Sprint("line ", i+1), []byte(l)); err != nil {
			t.Errorf("replay output: %v", err)
		}
	}
	// A seal of this very chain dressed as an anchored copy of it.
	h := newWriter(t, nil, nil)
	h.seal(t, SealStart)
	h.record(1)
	h.add(&record.Record{Time: h.tick(), Action: record.ActionSeal, ID: "s", Host: record.Host{Name: "h"},
		FSAudit: record.FSAudit{Seal: &record.Seal{Reason: SealInterval, Sink: "local", Instance: "run-1", Sequence: 2, Hash: strings.Repeat("0", 64), Anchored: true}}})
	if _, err := check(nil, nil, time.Now(), h.lines); err == nil || !strings.Contains(err.Error(), "line 3: chain broken: an anchored copy of this chain's own seal") {
		t.Errorf("an anchored copy of the chain's own seal: %v", err)
	}
}
