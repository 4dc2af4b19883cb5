package chain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/record"
)

// lines makes n chained json records, as a sink writes them.
func lines(key []byte, n int) []string {
	c := New(key, Hash{})
	var out []string
	for i := 0; i < n; i++ {
		r := &record.Record{
			Time: time.Unix(int64(i), 0), Action: "write", ID: "id", Sequence: uint64(i + 1),
			File:    record.File{Path: "/f", Name: "f", Directory: "/", Mode: 0o100644},
			Host:    record.Host{Name: "h"},
			FSAudit: record.FSAudit{Hook: "tracepoint", Bytes: uint64(i)},
		}
		if i == 2 {
			r.Action, r.FSAudit = record.ActionLost, record.FSAudit{Lost: 3}
		}
		prev, h := c.Next(record.AppendJSON(nil, r))
		r.FSAudit.Chain = record.Chain{Prev: prev.String(), Hash: h.String()}
		out = append(out, string(record.AppendJSON(nil, r)))
	}
	return out
}

func verify(key []byte, ls []string) (int, error) {
	v := NewVerifier(key)
	for i, l := range ls {
		if err := v.Line([]byte(l)); err != nil {
			return i, err
		}
	}
	return -1, nil
}

func TestVerify(t *testing.T) {
	key := []byte("secret")
	for _, k := range [][]byte{nil, key} {
		good := lines(k, 6)
		if at, err := verify(k, good); err != nil {
			t.Fatalf("key %q: untouched output fails at %d: %v", k, at, err)
		}
		if at, _ := verify(k, good[2:]); at != -1 {
			t.Errorf("a stream starting mid-chain fails at %d", at)
		}
		edited := append([]string(nil), good...)
		edited[3] = strings.Replace(edited[3], `"bytes":3`, `"bytes":4`, 1)
		removed := append(append([]string(nil), good[:3]...), good[4:]...)
		swapped := append([]string(nil), good...)
		swapped[3], swapped[4] = swapped[4], swapped[3]
		// A forged record, well chained to the line before it but not
		// followed by the next.
		forger := New(k, Hash{})
		for _, l := range good[:3] {
			canonical, _, _, _ := Split([]byte(l))
			forger.Next(canonical)
		}
		fr := &record.Record{Time: time.Unix(9, 0), Action: "write", ID: "forged", Sequence: 99,
			File: record.File{Path: "/etc/shadow", Name: "shadow", Directory: "/etc", Mode: 0o100640},
			Host: record.Host{Name: "h"}, FSAudit: record.FSAudit{Hook: "tracepoint"}}
		prev, h := forger.Next(record.AppendJSON(nil, fr))
		fr.FSAudit.Chain = record.Chain{Prev: prev.String(), Hash: h.String()}
		inserted := append(append(append([]string(nil), good[:3]...), string(record.AppendJSON(nil, fr))), good[3:]...)
		for _, tc := range []struct {
			name string
			ls   []string
			at   int
			why  string
		}{
			{"edited", edited, 3, "edited"},
			{"removed", removed, 3, "removed, inserted or moved"},
			{"swapped", swapped, 3, "removed, inserted or moved"},
			{"inserted", inserted, 4, "removed, inserted or moved"},
			{"no chain", []string{`{"a":1}`}, 0, "no chain"},
		} {
			at, err := verify(k, tc.ls)
			if at != tc.at || !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("key %q, %s: failed at %d with %v; want %d, %q", k, tc.name, at, err, tc.at, tc.why)
			}
		}
	}
	// Records sent again after a crash repeat a run of lines: counted, not errors.
	good := lines(nil, 6)
	resent := append(append(append([]string(nil), good[:4]...), good[2:4]...), good[4:]...)
	v := NewVerifier(nil)
	for i, l := range resent {
		if err := v.Line([]byte(l)); err != nil {
			t.Fatalf("re-sent records: line %d: %v", i, err)
		}
	}
	if v.Duplicates != 2 || v.Lines != 6 {
		t.Errorf("re-sent records: %d lines, %d duplicates; want 6 and 2", v.Lines, v.Duplicates)
	}
	// The wrong key fails at once.
	if at, err := verify([]byte("other"), lines(key, 3)); at != 0 || err == nil {
		t.Errorf("wrong key: at %d, %v", at, err)
	}
	if at, _ := verify(nil, lines(key, 3)); at != 0 {
		t.Errorf("an HMAC chain verified without its key")
	}
}

func FuzzSplit(f *testing.F) {
	f.Add(lines(nil, 1)[0])
	f.Add(`{"x":1}`)
	f.Fuzz(func(t *testing.T, line string) {
		NewVerifier(nil).Line([]byte(line)) // must not panic
	})
}
