package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/enrich"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/rs/zerolog"
)

// fakeSource replays events, then reports lost events, then ends.
type fakeSource struct {
	events []bpf.Event
	badAt  int // Read number that returns a bad sample instead (0: none)
	lost   uint64
	i      int
	reads  int
	mu     sync.Mutex
}

func (s *fakeSource) Read(e *bpf.Event) error {
	s.reads++
	if s.reads == s.badAt {
		return fmt.Errorf("%w: test", bpf.ErrBadSample)
	}
	if s.i >= len(s.events) {
		return bpf.ErrStopped
	}
	*e = s.events[s.i]
	s.i++
	return nil
}

func (s *fakeSource) Lost() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost, nil
}

// memSink keeps what it accepted; failing makes it refuse everything.
type memSink struct {
	name    string
	failing bool
	mu      sync.Mutex
	got     [][]byte
	batches int
}

func (m *memSink) Name() string { return m.name }
func (m *memSink) Encode(buf []byte, r *record.Record) ([]byte, sink.Message) {
	start := len(buf)
	buf = record.AppendJSON(buf, r)
	return buf, sink.Message{Value: buf[start:]}
}
func (m *memSink) Write(_ context.Context, b []sink.Message) error {
	if m.failing {
		return errors.New("refused")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches++
	for _, r := range b {
		m.got = append(m.got, append([]byte(nil), r.Value...))
	}
	return nil
}
func (m *memSink) Close() error { return nil }

func comps(path string) []byte {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var b []byte
	for i := len(parts) - 1; i >= 0; i-- {
		b = append(b, parts[i]...)
		b = append(b, 0)
	}
	return b
}

func ev(path string, pid uint32) bpf.Event {
	return bpf.Event{
		PID: pid, TID: pid, Op: bpf.OpWrite, Hook: bpf.ModeTracepoint, Bytes: 3,
		Mode: 0o100644, LoginUID: bpf.UnsetLoginUID, Comm: []byte("app"), Components: comps(path),
	}
}

func TestPipeline(t *testing.T) {
	enr, err := enrich.New(enrich.Options{HostName: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{
		events: []bpf.Event{ev("/home/a", 1), ev("/proc/1/x", 2), ev("/home/b", 3), ev("/var/c", 4)},
		badAt:  2,
		lost:   5,
	}
	good := &memSink{name: "good"}
	bad := &memSink{name: "bad", failing: true}
	router := sink.NewRouter(zerolog.Nop())
	router.Add(good, sink.RouteOptions{BatchSize: 2, BatchTimeout: time.Hour})
	router.Add(bad, sink.RouteOptions{BatchSize: 2, BatchTimeout: time.Hour, RetryFor: time.Millisecond})
	filter := enrich.PathFilter{Include: []string{"/home", "/proc"}, Exclude: []string{"/proc"}}
	p, err := New(src, enr, filter, router, zerolog.Nop(), Options{LostInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	type rec struct {
		Event struct {
			Action   string
			ID       string
			Sequence uint64
		}
		File    struct{ Path string }
		Host    struct{ Name string }
		FSAudit struct{ Lost uint64 } `json:"fsaudit"`
	}
	var got []rec
	for _, line := range good.got {
		var r rec
		if err := json.Unmarshal(bytes.TrimSpace(line), &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		got = append(got, r)
	}
	wantPaths := []string{"/home/a", "/home/b", ""}
	if len(got) != len(wantPaths) {
		t.Fatalf("got %d records, want %d: %s", len(got), len(wantPaths), good.got)
	}
	ids := map[string]bool{}
	for i, r := range got {
		if r.Event.Sequence != uint64(i+1) {
			t.Errorf("record %d: sequence %d", i, r.Event.Sequence)
		}
		if r.File.Path != wantPaths[i] {
			t.Errorf("record %d: path %q, want %q", i, r.File.Path, wantPaths[i])
		}
		if r.Host.Name != "h1" {
			t.Errorf("host.name %q", r.Host.Name)
		}
		if len(r.Event.ID) != 36 || ids[r.Event.ID] {
			t.Errorf("event.id %q not a fresh UUID-shaped id", r.Event.ID)
		}
		ids[r.Event.ID] = true
	}
	if last := got[2]; last.Event.Action != "lost" || last.FSAudit.Lost != 5 {
		t.Errorf("last record = %+v, want a lost record of 5", last)
	}
	if good.batches != 2 {
		t.Errorf("good sink got %d batches, want 2 (a full one, then the rest at the end)", good.batches)
	}
	st := &p.Stats
	if st.Events.Load() != 4 || st.Filtered.Load() != 2 || st.Records.Load() != 3 || st.Lost.Load() != 5 {
		t.Errorf("stats: events %d filtered %d records %d lost %d", st.Events.Load(), st.Filtered.Load(), st.Records.Load(), st.Lost.Load())
	}
	if st.BadSamples.Load() != 1 {
		t.Errorf("bad samples %d, want 1 skipped", st.BadSamples.Load())
	}
	routes := router.Routes()
	if routes[0].Stats.Sent.Load() != 3 || routes[1].Stats.Failed.Load() != 3 {
		t.Errorf("good sink sent %d, bad sink failed %d; want 3 and 3", routes[0].Stats.Sent.Load(), routes[1].Stats.Failed.Load())
	}
}

func TestEventIDLayout(t *testing.T) {
	p := &Pipeline{idBase: [8]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4}}
	if got, want := p.eventID(0x0102030405060708), "deadbeef-0102-0304-0102-030405060708"; got != want {
		t.Errorf("eventID = %s, want %s", got, want)
	}
}
