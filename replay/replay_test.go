package replay

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/record"
	"github.com/segmentio/kafka-go"
)

func rec() *record.Record {
	return &record.Record{
		Time: time.Unix(100, 0), Action: "write", ID: "id", Sequence: 1,
		File:      record.File{Path: "/srv/app/data.log", Name: "data.log", Directory: "/srv/app", Mode: 0o100644},
		Process:   record.Process{PID: 1, Name: "app"},
		User:      record.User{ID: 1000, Name: "ann", EffectiveID: 0, EffectiveName: "root"},
		Container: record.Container{ID: strings.Repeat("ab", 32)},
		Host:      record.Host{Name: "node-1"},
	}
}

func TestFilter(t *testing.T) {
	r := rec()
	for _, tc := range []struct {
		name string
		f    Filter
		keep bool
	}{
		{"empty", Filter{}, true},
		{"action", Filter{Actions: []string{"delete", "write"}}, true},
		{"other action", Filter{Actions: []string{"delete"}}, false},
		{"path prefix", Filter{PathPrefixes: []string{"/srv"}}, true},
		{"path prefix on components", Filter{PathPrefixes: []string{"/sr"}}, false},
		{"host", Filter{Hosts: []string{"node-1"}}, true},
		{"other host", Filter{Hosts: []string{"node-2"}}, false},
		{"container id prefix", Filter{Containers: []string{"abababababab"}}, true},
		{"too short a prefix", Filter{Containers: []string{"abab"}}, false},
		{"user name", Filter{Users: []string{"ann"}}, true},
		{"effective user name", Filter{Users: []string{"root"}}, true},
		{"user id", Filter{Users: []string{"1000"}}, true},
		{"other user", Filter{Users: []string{"bob"}}, false},
		{"all lists must match", Filter{Hosts: []string{"node-1"}, Actions: []string{"delete"}}, false},
	} {
		if got := tc.f.Keep(r); got != tc.keep {
			t.Errorf("%s: Keep = %v, want %v", tc.name, got, tc.keep)
		}
	}
}

func TestClassify(t *testing.T) {
	good := record.AppendJSON(nil, rec())
	for _, tc := range []struct {
		name   string
		m      kafka.Message
		reason string
	}{
		{"record", kafka.Message{Value: good}, ""},
		{"record with headers", kafka.Message{Value: good, Headers: []kafka.Header{{Key: "fsaudit.schema", Value: []byte(record.SchemaVersion)}, {Key: "fsaudit.format", Value: []byte("json")}}}, ""},
		{"record of layout 1", kafka.Message{Value: good, Headers: []kafka.Header{{Key: "fsaudit.schema", Value: []byte("1")}}}, ""},
		{"record of a later layout", kafka.Message{Value: good, Headers: []kafka.Header{{Key: "fsaudit.schema", Value: []byte("3")}}}, `schema version "3"`},
		{"empty", kafka.Message{}, "empty message"},
		{"garbage", kafka.Message{Value: []byte("\x00\x01")}, "not an fsaudit record"},
		{"truncated", kafka.Message{Value: good[:len(good)-10]}, "truncated record"},
		{"truncated after a backslash", kafka.Message{Value: []byte(`{"@timestamp":"2026","file":{"path":"a\`)}, "truncated record"},
		{"other schema", kafka.Message{Value: good, Headers: []kafka.Header{{Key: "fsaudit.schema", Value: []byte("9")}}}, `schema version "9"`},
		{"other format", kafka.Message{Value: good, Headers: []kafka.Header{{Key: "fsaudit.format", Value: []byte("ocsf")}}}, `format "ocsf" (only json records read back)`},
		{"unknown action", kafka.Message{Value: bytes.Replace(good, []byte(`"action":"write"`), []byte(`"action":"wipe"`), 1)}, `unknown event.action "wipe"`},
		{"a field of the wrong type", kafka.Message{Value: bytes.Replace(good, []byte(`"sequence":1`), []byte(`"sequence":"1"`), 1)}, "not an fsaudit record"},
		{"a path of the wrong type", kafka.Message{Value: bytes.Replace(good, []byte(`"path":"/srv/app/data.log"`), []byte(`"path":["/srv"]`), 1)}, "not an fsaudit record"},
	} {
		var r record.Record
		if got := classify(&tc.m, &r); got != tc.reason {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.reason)
		}
	}
}

func TestResume(t *testing.T) {
	s := &Summary{Partitions: []*PartitionSummary{{Partition: 0, Next: 17}, {Partition: 1, Next: 4}}}
	if got := s.Resume(); got != "--offsets 0:17,1:4" {
		t.Errorf("Resume = %q", got)
	}
}

// chainChecks names a forged, a removed and a moved record of a host's
// chain in a partition (the moved one where it is missing and where it
// comes), at its offset, and goes on after each; another
// host's chain and another partition are streams of their own.
func TestChainChecks(t *testing.T) {
	c := chain.New(nil, chain.State{})
	var lines [][]byte
	for i := 0; i < 8; i++ {
		r := rec()
		r.Sequence = uint64(i + 1)
		r.FSAudit.Chain = record.Chain{}
		canonical := record.AppendJSON(nil, r)
		prev, own := c.Next(canonical)
		lines = append(lines, record.AppendChained(nil, canonical, record.Chain{Seq: own.Seq, Prev: prev.Hash.String(), Hash: own.Hash.String()}))
	}
	forged := bytes.Replace(lines[2], []byte(`"sequence":3`), []byte(`"sequence":4`), 1)
	stream := [][]byte{lines[1], forged, lines[3], lines[5], lines[4], lines[6]} // starts mid-chain
	sum := &Summary{}
	cc := chainChecks{by: map[chainStream]*chain.Verifier{}}
	for i, l := range stream {
		cc.check(sum, 0, int64(10+i), "node-1", l)
		cc.check(sum, 1, int64(i), "node-1", lines[i]) // whole in another partition
		cc.check(sum, 0, int64(100+i), "node-2", lines[i])
	}
	if sum.ChainBroken != 4 || sum.ChainChecked != 18 {
		t.Fatalf("%d breaks of %d checked, want 4 of 18: %q", sum.ChainBroken, sum.ChainChecked, sum.ChainBreaks)
	}
	for i, want := range []string{
		"partition 0 offset 11 (host node-1): chain broken: edited",
		"partition 0 offset 13 (host node-1): chain broken: record 5 of the chain is missing",
		"partition 0 offset 14 (host node-1): chain broken: record 5 comes after record 6",
		"partition 0 offset 15 (host node-1): chain broken: record 6 of the chain is missing",
	} {
		if !strings.HasPrefix(sum.ChainBreaks[i], want) {
			t.Errorf("break %d: %q, want %q", i, sum.ChainBreaks[i], want)
		}
	}
}
