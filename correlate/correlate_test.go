package correlate

import (
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/record"
)

// clock is a correlator's time, moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newAt(window time.Duration) (*Correlator, *clock) {
	ck := &clock{t: time.Unix(1e9, 0)}
	c := New(window)
	c.now = ck.now
	c.pendingSwept, c.templatesSwept = ck.t, ck.t
	return c, ck
}

func pending(tid uint32, kt uint64, path string) (*bpf.Event, record.Record) {
	return &bpf.Event{TID: tid, KernelTime: kt, Op: bpf.OpDelete, Flags: bpf.FlagPending},
		record.Record{Action: record.ActionDelete, File: record.File{Path: path}}
}

func result(tid uint32, cookie uint64) *bpf.Event {
	return &bpf.Event{TID: tid, Op: bpf.OpResult, Bytes: cookie}
}

// A result settles its own thread's pending record, once; another call's
// result gives the record up; a second pending record of a thread gives
// the first up; a record older than PendingFor is given up at a sweep.
func TestPendingResults(t *testing.T) {
	c, ck := newAt(0)
	ev, r := pending(1, 100, "/a")
	if n := c.Pend(ev, r, true); n != 0 {
		t.Errorf("first pending: %d given up", n)
	}
	if p, failed := c.Result(result(2, 100)); p != nil || failed {
		t.Errorf("another thread's result: %v, %v", p, failed)
	}
	p, failed := c.Result(result(1, 100))
	if p == nil || failed || p.Record.File.Path != "/a" || !p.Keep {
		t.Fatalf("own result: %+v, %v", p, failed)
	}
	if p, _ := c.Result(result(1, 100)); p != nil {
		t.Error("settled twice")
	}

	ev, r = pending(1, 200, "/b")
	c.Pend(ev, r, false)
	if p, failed := c.Result(result(1, 199)); p != nil || !failed {
		t.Errorf("another call's result: %v, failed %v; want the record given up", p, failed)
	}
	if n, _ := c.Waiting(); n != 0 {
		t.Errorf("%d pending after a mismatched result", n)
	}

	ev, r = pending(3, 300, "/c")
	c.Pend(ev, r, true)
	ev, r = pending(3, 301, "/d")
	if n := c.Pend(ev, r, true); n != 1 {
		t.Errorf("a thread's second pending event gave up %d, want its first", n)
	}
	ev, r = pending(4, 400, "/e")
	c.Pend(ev, r, true)
	ck.t = ck.t.Add(PendingFor + time.Second)
	ev, r = pending(5, 500, "/f")
	if n := c.Pend(ev, r, true); n != 2 {
		t.Errorf("the sweep gave up %d, want the two older than PendingFor", n)
	}
	if p, _ := c.Result(result(5, 500)); p == nil || p.Record.File.Path != "/f" {
		t.Errorf("the newest survives the sweep: %+v", p)
	}
}

// Merged writes find the template of their window, not another's; a
// template no write used for its window and grace is forgotten.
func TestTemplates(t *testing.T) {
	c, ck := newAt(time.Second)
	tmpl := &bpf.Event{PID: 1, Inode: 7, Flags: bpf.FlagTemplate}
	tp := c.Template(tmpl)
	tp.Record.File.Path, tp.Keep = "/log", true
	if again := c.Template(tmpl); again != tp {
		t.Error("a second template event of a window made a new template")
	}
	if got := c.Merged(&bpf.Event{PID: 1, Inode: 7, ExecID: 1, Flags: bpf.FlagCoalesced}); got != nil {
		t.Errorf("another exec's writes took the template: %+v", got)
	}
	if got := c.Merged(&bpf.Event{PID: 1, Inode: 7, Flags: bpf.FlagCoalesced}); got != tp {
		t.Errorf("the window's writes: %+v", got)
	}
	other := &bpf.Event{PID: 2, Inode: 8, Flags: bpf.FlagTemplate}
	c.Template(other)
	ck.t = ck.t.Add(time.Second + TemplateGrace + time.Second)
	c.Template(tmpl) // used again now: kept; the other is swept
	if _, n := c.Waiting(); n != 1 {
		t.Errorf("%d templates after the sweep, want 1", n)
	}
	if got := c.Merged(&bpf.Event{PID: 2, Inode: 8, Flags: bpf.FlagCoalesced}); got != nil {
		t.Error("a swept template still names writes")
	}
}
