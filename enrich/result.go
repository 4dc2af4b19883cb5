package enrich

import (
	"time"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/record"
)

// FillResult completes the record of a change seen before it happened
// (Fill made it) with what the call's result event tells of the file
// after it: its inode, device and mode while it has one, a truncated
// file's size, and whether a create was an open.
func (x *Enricher) FillResult(ev *bpf.Event, r *record.Record) {
	if ev.Inode != 0 {
		r.File.Inode, r.File.DevMajor, r.File.DevMinor, r.File.Mode = ev.Inode, ev.DevMajor(), ev.DevMinor(), ev.Mode
	}
	switch r.Action {
	case record.ActionTruncate:
		r.File.HasSize, r.File.Size = ev.Inode != 0, ev.Offset
	case record.ActionCreate:
		if ev.Sub == bpf.ResultOpen {
			r.FSAudit.Via = "open"
		}
	}
}

// FillMerged makes, from the record of a window's template (Fill made
// it), the record of the writes the kernel merged in that window: their
// times, count, bytes and first offset.
func (x *Enricher) FillMerged(ev *bpf.Event, template *record.Record) record.Record {
	r := *template
	r.Time, r.End, r.Created = x.Wall(ev.KernelTime), x.Wall(ev.EndTime), time.Now()
	r.FSAudit.Bytes, r.FSAudit.Writes, r.FSAudit.Offset = ev.Bytes, ev.Writes, ev.Offset
	return r
}

// Unnamed is the lost record of merged writes whose window's template
// never came (the ring buffer had no room for it): it counts them.
func (x *Enricher) Unnamed(ev *bpf.Event) record.Record {
	return record.Record{Time: x.Wall(ev.KernelTime), Created: time.Now(), Action: record.ActionLost, Host: x.host, Agent: x.agent,
		FSAudit: record.FSAudit{Lost: ev.Writes}}
}
