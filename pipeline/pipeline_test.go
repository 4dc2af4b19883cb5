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
	"github.com/fsaudit/fsaudit/filter"
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
	filter := filter.Prefixes{Include: []string{"/home", "/proc"}, Exclude: []string{"/proc"}}
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

// TestPendingChanges: a change seen before it happened is reported only when
// its thread's result says it succeeded, with the inode the result gives; a
// failed one, one its thread left for another, and one filtered out are not.
func TestPendingChanges(t *testing.T) {
	enr, err := enrich.New(enrich.Options{HostName: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	pending := func(path string, tid uint32, op bpf.Op) bpf.Event {
		e := ev(path, tid)
		e.Op, e.Flags, e.Hook, e.Mode, e.KernelTime = op, bpf.FlagPending, bpf.ModeFentry, 0, uint64(tid)*1000
		return e
	}
	result := func(tid uint32, ret int64, ino uint64, size uint64, sub uint32) bpf.Event {
		return bpf.Event{PID: tid, TID: tid, Op: bpf.OpResult, Length: uint64(ret), Inode: ino, Mode: 0o100600, Offset: size, Sub: sub,
			LoginUID: bpf.UnsetLoginUID, Bytes: uint64(tid) * 1000}
	}
	src := &fakeSource{events: []bpf.Event{
		pending("/home/created", 1, bpf.OpCreate),
		pending("/home/refused", 2, bpf.OpDelete),
		ev("/home/written", 3), // another thread's write comes in between
		result(1, 3, 77, 0, bpf.ResultOpen),
		result(2, -13, 0, 0, 0),
		pending("/home/abandoned", 4, bpf.OpRename),
		pending("/home/truncated", 4, bpf.OpTruncate), // the rename never completed
		result(4, 0, 78, 10, 0),
		pending("/var/outside", 5, bpf.OpChmod),
		result(5, 0, 79, 0, 0),
		result(6, 0, 80, 0, 0), // a result without a pending event
		pending("/home/stale", 7, bpf.OpDelete),
		func() bpf.Event { r := result(7, 0, 0, 0, 0); r.Bytes = 1; return r }(), // another call's result
	}}
	p, recs := runToRecords(t, src, enr, Options{LostInterval: time.Hour})
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s %s ino=%d mode=%o size=%v/%d via=%s hook=%s", r.Action, r.File.Path, r.File.Inode, r.File.Mode, r.File.HasSize, r.File.Size, r.FSAudit.Via, r.FSAudit.Hook))
	}
	want := []string{
		"write /home/written ino=0 mode=100644 size=false/0 via= hook=tracepoint",
		"create /home/created ino=77 mode=100600 size=false/0 via=open hook=fentry",
		"truncate /home/truncated ino=78 mode=100600 size=true/10 via= hook=fentry",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f := p.Stats.Failed.Load(); f != 3 {
		t.Errorf("failed %d, want 3 (the refused delete, the abandoned rename, the stale delete)", f)
	}
	if f := p.Stats.Filtered.Load(); f != 1 {
		t.Errorf("filtered %d, want 1", f)
	}
}

// Writes merged in the kernel take the file and writer their window's
// template names, and the path filter's answer for it; without a template
// they are reported lost.
func TestCoalescedWrites(t *testing.T) {
	enr, err := enrich.New(enrich.Options{HostName: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	head := func(path string, pid uint32, execID uint32) bpf.Event {
		e := ev(path, pid)
		e.Inode, e.Dev, e.ExecID, e.UID, e.EUID = uint64(pid)*10, 8<<20|1, execID, 1000, 1000
		return e
	}
	tmpl := func(path string, pid uint32, execID uint32) bpf.Event {
		e := head(path, pid, execID)
		e.Flags, e.Bytes, e.KernelTime = bpf.FlagTemplate, 0, 5
		return e
	}
	merged := func(pid uint32, execID uint32, writes uint64) bpf.Event {
		return bpf.Event{PID: pid, UID: 1000, EUID: 1000, ExecID: execID, Inode: uint64(pid) * 10, Dev: 8<<20 | 1,
			Op: bpf.OpWrite, Hook: bpf.ModeTracepoint, Flags: bpf.FlagCoalesced | bpf.FlagAppend,
			KernelTime: 100, EndTime: 900, Writes: writes, Bytes: writes * 3, Offset: 3, Mode: 0o100644}
	}
	src := &fakeSource{events: []bpf.Event{
		head("/home/a", 1, 1), tmpl("/home/a", 1, 1),
		head("/var/b", 2, 1), tmpl("/var/b", 2, 1), // filtered out: so are its merged writes
		merged(1, 1, 41),
		merged(2, 1, 7),
		merged(1, 2, 5),       // another exec of pid 1: no template
		tmpl("/home/c", 1, 1), // the same key names another path now
		merged(1, 1, 2),
	}}
	p, recs := runToRecords(t, src, enr, Options{LostInterval: time.Hour, CoalesceWindow: time.Second})
	var got []string
	for _, r := range recs {
		span := "-"
		if !r.End.IsZero() {
			span = r.End.Sub(r.Time).String()
		}
		got = append(got, fmt.Sprintf("%s %s pid=%d writes=%d bytes=%d offset=%d lost=%d span=%s",
			r.Action, r.File.Path, r.Process.PID, r.FSAudit.Writes, r.FSAudit.Bytes, r.FSAudit.Offset, r.FSAudit.Lost, span))
	}
	want := []string{
		"write /home/a pid=1 writes=1 bytes=3 offset=0 lost=0 span=-",
		"write /home/a pid=1 writes=41 bytes=123 offset=3 lost=0 span=800ns",
		"lost  pid=0 writes=0 bytes=0 offset=0 lost=5 span=-",
		"write /home/c pid=1 writes=2 bytes=6 offset=3 lost=0 span=800ns",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := &p.Stats
	if st.Coalesced.Load() != 43 || st.Unnamed.Load() != 5 || st.Filtered.Load() != 2 {
		t.Errorf("coalesced %d unnamed %d filtered %d, want 43, 5, 2", st.Coalesced.Load(), st.Unnamed.Load(), st.Filtered.Load())
	}
}

// runToRecords runs a pipeline of src, with the path filter "/home", into a
// memory sink, and returns it and the records the sink got.
func runToRecords(t *testing.T, src Source, enr *enrich.Enricher, opts Options) (*Pipeline, []record.Record) {
	t.Helper()
	mem := &memSink{name: "mem"}
	router := sink.NewRouter(zerolog.Nop())
	router.Add(mem, sink.RouteOptions{BatchSize: 100, BatchTimeout: time.Hour})
	p, err := New(src, enr, filter.Prefixes{Include: []string{"/home"}}, router, zerolog.Nop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out []record.Record
	for _, line := range mem.got {
		var r record.Record
		if err := record.ParseJSON(bytes.TrimSpace(line), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return p, out
}
