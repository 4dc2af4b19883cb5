package sink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/filter"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/spool"
	"github.com/rs/zerolog"
)

// memSink keeps what it acknowledged. failFirst refuses that many writes;
// gate, when set, holds every write until it is closed.
type memSink struct {
	name      string
	failFirst int
	gate      chan struct{}

	mu     sync.Mutex
	writes int
	got    []string
	closed bool
}

func (m *memSink) Name() string { return m.name }
func (m *memSink) Encode(buf []byte, r *record.Record) ([]byte, Message) {
	start := len(buf)
	buf = fmt.Appendf(buf, "%d:%s", r.Sequence, r.File.Path)
	return buf, Message{Value: buf[start:]}
}
func (m *memSink) Write(ctx context.Context, batch []Message) error {
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if m.writes <= m.failFirst {
		return errors.New("refused")
	}
	for _, msg := range batch {
		m.got = append(m.got, string(msg.Value))
	}
	return nil
}
func (m *memSink) Close() error { m.mu.Lock(); m.closed = true; m.mu.Unlock(); return nil }

func (m *memSink) records() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.got...)
}

func rec(seq uint64, path, action, container string) *record.Record {
	return &record.Record{Sequence: seq, Action: action, File: record.File{Path: path}, Container: record.Container{ID: container}}
}

func TestRouterFilters(t *testing.T) {
	all, cont, host, deletes, etc := &memSink{name: "all"}, &memSink{name: "containers"}, &memSink{name: "host"}, &memSink{name: "deletes"}, &memSink{name: "etc"}
	rt := NewRouter(zerolog.Nop())
	rt.Add(all, RouteOptions{})
	rt.Add(cont, RouteOptions{Filter: Filter{Containers: "only"}})
	rt.Add(host, RouteOptions{Filter: Filter{Containers: "none"}})
	rt.Add(deletes, RouteOptions{Filter: Filter{Actions: []string{"delete"}}})
	rt.Add(etc, RouteOptions{Filter: Filter{Paths: &filter.Prefixes{Include: []string{"/etc"}, Exclude: []string{"/etc/cache"}}}})
	rt.Start(context.Background())
	rt.Publish(rec(1, "/etc/passwd", "write", ""))
	rt.Publish(rec(2, "/data/x", "write", "c1"))
	rt.Publish(rec(3, "/etc/cache/y", "delete", "c1"))
	rt.Publish(rec(4, "", record.ActionLost, ""))
	rt.Close()
	for _, tc := range []struct {
		s    *memSink
		want []string
	}{
		{all, []string{"1:/etc/passwd", "2:/data/x", "3:/etc/cache/y", "4:"}},
		{cont, []string{"2:/data/x", "3:/etc/cache/y", "4:"}},
		{host, []string{"1:/etc/passwd", "4:"}},
		{deletes, []string{"3:/etc/cache/y", "4:"}},
		{etc, []string{"1:/etc/passwd", "4:"}},
	} {
		if got := tc.s.records(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s got %v, want %v", tc.s.name, got, tc.want)
		}
		if !tc.s.closed {
			t.Errorf("%s not closed", tc.s.name)
		}
	}
	if f := rt.Routes()[1].Stats.Filtered.Load(); f != 1 {
		t.Errorf("containers sink filtered %d, want 1", f)
	}
}

// A sink that hangs must not hold up another: its own queue fills and
// drops, counted, while the other gets everything.
func TestRouterSlowSinkDoesNotStallOthers(t *testing.T) {
	fast, slow := &memSink{name: "fast"}, &memSink{name: "slow", gate: make(chan struct{})}
	rt := NewRouter(zerolog.Nop())
	const n = 1000
	rt.Add(fast, RouteOptions{QueueLen: n, BatchSize: 4, BatchTimeout: time.Millisecond})
	rt.Add(slow, RouteOptions{QueueLen: 8, BatchSize: 4, BatchTimeout: time.Millisecond})
	rt.Start(context.Background())
	for i := 1; i <= n; i++ {
		rt.Publish(rec(uint64(i), "/f", "write", ""))
	}
	// The fast sink gets everything while the slow one is still stuck.
	deadline := time.Now().Add(10 * time.Second)
	for len(fast.records()) < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := len(fast.records()); got != n {
		t.Errorf("fast sink got %d records while the slow one hung, want %d", got, n)
	}
	close(slow.gate)
	rt.Close()
	if got := len(fast.records()); got != n {
		t.Errorf("fast sink got %d records, want %d", got, n)
	}
	st := rt.Routes()[1].Stats
	if dropped, got := st.Dropped.Load(), uint64(len(slow.records())); dropped == 0 || dropped+got != n {
		t.Errorf("slow sink: %d dropped + %d delivered, want some dropped and %d in all", dropped, got, n)
	}
	if d := rt.Routes()[0].Stats.Dropped.Load(); d != 0 {
		t.Errorf("fast sink dropped %d", d)
	}
}

func TestRouterRetries(t *testing.T) {
	flaky, dead := &memSink{name: "flaky", failFirst: 2}, &memSink{name: "dead", failFirst: 1 << 30}
	rt := NewRouter(zerolog.Nop())
	rt.Add(flaky, RouteOptions{RetryFor: time.Minute})
	rt.Add(dead, RouteOptions{RetryFor: 250 * time.Millisecond})
	rt.Start(context.Background())
	for i := 1; i <= 3; i++ {
		rt.Publish(rec(uint64(i), "/f", "write", ""))
	}
	rt.Close()
	fs, ds := rt.Routes()[0].Stats, rt.Routes()[1].Stats
	if got := flaky.records(); len(got) != 3 || fs.Sent.Load() != 3 || fs.Retries.Load() != 2 || fs.Failed.Load() != 0 {
		t.Errorf("flaky sink: got %v, sent %d, retries %d, failed %d; want all 3 after 2 retries", got, fs.Sent.Load(), fs.Retries.Load(), fs.Failed.Load())
	}
	if ds.Failed.Load() != 3 || ds.Sent.Load() != 0 || ds.Retries.Load() == 0 {
		t.Errorf("dead sink: failed %d sent %d retries %d; want 3 failed after retries", ds.Failed.Load(), ds.Sent.Load(), ds.Retries.Load())
	}
}

func TestRouterCancel(t *testing.T) {
	stuck := &memSink{name: "stuck", gate: make(chan struct{})}
	rt := NewRouter(zerolog.Nop())
	rt.Add(stuck, RouteOptions{BatchSize: 1})
	ctx, cancel := context.WithCancel(context.Background())
	rt.Start(ctx)
	for i := 1; i <= 5; i++ {
		rt.Publish(rec(uint64(i), "/f", "write", ""))
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	done := make(chan struct{})
	go func() { rt.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the context was cancelled")
	}
	if f := rt.Routes()[0].Stats.Failed.Load(); f != 5 {
		t.Errorf("failed %d, want the 5 records the sink never took", f)
	}
}

// A spooled route: records reach the sink through the spool, with chain
// values that verify; when the sink is stuck and the spool fills, the
// dropped records are followed by a lost record in the sink's stream.
func TestRouterSpoolAndChain(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := spool.Open(spool.Options{Dir: dir, SegmentBytes: 2000, MaxBytes: 6000, DropNewest: true})
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	s := &jsonSink{memSink: memSink{name: "j", gate: gate}}
	rt := NewRouter(zerolog.Nop())
	var lostSeq uint64 = 1000
	rt.SetSealing(Sealing{Instance: "run-1", Record: sealRec}) // start and stop seals without MACs
	rt.Add(s, RouteOptions{BatchSize: 5, BatchTimeout: time.Millisecond, Spool: sp, Chain: chain.New(nil, chain.State{}),
		Lost: func(n uint64) *record.Record {
			lostSeq++
			return &record.Record{Action: record.ActionLost, ID: "lost", Sequence: lostSeq, Host: record.Host{Name: "h"}, FSAudit: record.FSAudit{Lost: n}}
		}})
	rt.Start(context.Background())
	for i := 1; i <= 60; i++ {
		r := rec(uint64(i), "/f", "write", "")
		r.Host.Name, r.File.Name, r.File.Mode, r.ID = "h", "f", 0o100644, fmt.Sprint("id-", i)
		rt.Publish(r)
		time.Sleep(time.Millisecond) // let the appender keep up: the spool, not the queue, fills
	}
	time.Sleep(100 * time.Millisecond)
	close(gate)
	rt.Close()
	got := s.records()
	v := chain.NewVerifier(nil, nil)
	var delivered, lost, seals uint64
	for i, line := range got {
		if err := v.Line(fmt.Sprint("line ", i), []byte(line)); err != nil {
			t.Fatalf("line %d does not verify: %v\n%s", i, err, line)
		}
		var r record.Record
		if err := record.ParseJSON([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		switch r.Action {
		case record.ActionLost:
			lost += r.FSAudit.Lost
		case record.ActionSeal:
			seals++
		default:
			delivered++
		}
	}
	if _, err := v.End(time.Now()); err != nil {
		t.Error(err)
	}
	st := rt.Routes()[0].Stats
	// The start and stop seals go through the spool like records: a full
	// spool may drop them too, and the lost record counts them.
	if lost == 0 || delivered+seals+lost != 62 || st.Dropped.Load() != lost {
		t.Errorf("delivered %d and %d seals, lost records count %d, dropped %d: want every one of 60 and 2 seals accounted for", delivered, seals, lost, st.Dropped.Load())
	}
}

// jsonSink is a memSink that encodes records in the json format.
type jsonSink struct{ memSink }

func (j *jsonSink) Encode(buf []byte, r *record.Record) ([]byte, Message) {
	start := len(buf)
	buf = record.AppendJSON(buf, r)
	return buf, Message{Value: buf[start:]}
}

// sealRec is a numbered record for a seal, as the pipeline makes them.
func sealRec() *record.Record {
	return &record.Record{Time: time.Now(), ID: "seal", Host: record.Host{Name: "h"}}
}
