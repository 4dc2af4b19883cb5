// Package correlate owns matching the kernel events that make one record
// together: a change a VFS hook saw before it happened (a pending event)
// with its thread's result, and the writes the kernel merged in a window
// with the template event that named their file and writer; and giving up
// on those that wait too long.
package correlate

import (
	"time"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/record"
)

// PendingFor bounds how long a pending record waits for its result.
const PendingFor = time.Minute

// TemplateGrace is how long past its window a template is kept: the
// kernel's sweep reports a window at most a fraction of a second after it
// ends, and reports the writes that raced with it at the next sweep.
const TemplateGrace = 10 * time.Second

// Pending is the record of a change seen before it happened, waiting for
// its thread's result event.
type Pending struct {
	Record record.Record
	Keep   bool   // the path filter takes it
	cookie uint64 // the pending event's kernel time, which its result carries back
	at     time.Time
}

// Template is a coalescing window's record, as its first merged write
// named file and writer, waiting for the merged writes.
type Template struct {
	Record record.Record
	Keep   bool // the path filter takes it
	at     time.Time
}

// Correlator keeps what waits for its other half. It is not safe for
// concurrent use: the pipeline's reader owns it.
type Correlator struct {
	window    time.Duration
	pending   map[uint32]*Pending
	templates map[bpf.WindowKey]*Template
	now       func() time.Time
	// when each map was last swept
	pendingSwept, templatesSwept time.Time
}

// New returns a correlator for the kernel's coalescing window (0: none).
func New(window time.Duration) *Correlator {
	c := &Correlator{window: window, pending: map[uint32]*Pending{}, templates: map[bpf.WindowKey]*Template{}, now: time.Now}
	c.pendingSwept, c.templatesSwept = c.now(), c.now()
	return c
}

// Pend keeps the record of a pending event (bpf.FlagPending) until its
// thread's result. It returns how many pending records it gave up on: the
// thread's previous one (whose call failed before its result was taken)
// and, about once a minute, those older than PendingFor.
func (c *Correlator) Pend(ev *bpf.Event, r record.Record, keep bool) (failed int) {
	now := c.now()
	if c.pending[ev.TID] != nil {
		failed++
	}
	c.pending[ev.TID] = &Pending{Record: r, Keep: keep, cookie: ev.KernelTime, at: now}
	if now.Sub(c.pendingSwept) > PendingFor {
		c.pendingSwept = now
		for tid, p := range c.pending {
			if now.Sub(p.at) > PendingFor {
				delete(c.pending, tid)
				failed++
			}
		}
	}
	return failed
}

// Result takes the pending record a result event (bpf.OpResult) settles:
// nil when its thread has none. failed: the thread's pending record was
// another call's (whose own result was lost), and is given up.
func (c *Correlator) Result(ev *bpf.Event) (p *Pending, failed bool) {
	p = c.pending[ev.TID]
	if p == nil {
		return nil, false
	}
	delete(c.pending, ev.TID)
	if p.cookie != ev.Cookie() {
		return nil, true
	}
	return p, false
}

// Template is the template of the window of a template event
// (bpf.FlagTemplate), made when new, for the caller to fill.
func (c *Correlator) Template(ev *bpf.Event) *Template {
	key := ev.Window()
	t := c.templates[key]
	if t == nil {
		t = &Template{}
		c.templates[key] = t
	}
	t.at = c.now()
	c.sweepTemplates()
	return t
}

// Merged is the template of the window of merged writes
// (bpf.FlagCoalesced), or nil when the kernel's template event never came.
func (c *Correlator) Merged(ev *bpf.Event) *Template {
	t := c.templates[ev.Window()]
	if t != nil {
		t.at = c.now()
	}
	c.sweepTemplates()
	return t
}

// sweepTemplates forgets, about once a second, the templates no write
// used for a window and its grace.
func (c *Correlator) sweepTemplates() {
	now := c.now()
	if now.Sub(c.templatesSwept) <= time.Second {
		return
	}
	c.templatesSwept = now
	for k, t := range c.templates {
		if now.Sub(t.at) > c.window+TemplateGrace {
			delete(c.templates, k)
		}
	}
}

// Waiting counts the pending records and templates kept.
func (c *Correlator) Waiting() (pending, templates int) { return len(c.pending), len(c.templates) }
