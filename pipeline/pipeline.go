// Package pipeline owns the goroutines between the ring buffer and the
// sinks: reading and enriching events, filtering paths, numbering records,
// encoding them for each sink and delivering them in batches, and the
// order in which all of that stops.
package pipeline

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/correlate"
	"github.com/fsaudit/fsaudit/enrich"
	"github.com/fsaudit/fsaudit/filter"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/rs/zerolog"
)

// Source yields kernel events; *bpf.Capture is one.
type Source interface {
	// Read blocks for the next event; bpf.ErrStopped ends the stream.
	Read(*bpf.Event) error
	// Lost counts the events the kernel could not deliver so far.
	Lost() (uint64, error)
}

// Options tune the pipeline.
type Options struct {
	QueueLen     int           // records between reader and writer; default 8192
	LostInterval time.Duration // how often the kernel's lost counter is read; default 1s
	// CoalesceWindow is the kernel's coalescing window (0: none): how long
	// a template waits for the merged writes it names.
	CoalesceWindow time.Duration
}

// Stats counts what went through.
type Stats struct {
	Events     atomic.Uint64 // read from the kernel
	Filtered   atomic.Uint64 // dropped by the path filter
	Records    atomic.Uint64 // numbered and handed to the sinks (lost records included)
	Lost       atomic.Uint64 // events the kernel could not deliver
	BadSamples atomic.Uint64 // ring buffer samples that did not decode
	// Failed counts changes seen before they happened (VFS hooks) that
	// the kernel then refused or that never completed: no record.
	Failed atomic.Uint64
	// Coalesced counts the writes the kernel merged into records of
	// several writes (the first write of each window not included).
	Coalesced atomic.Uint64
	// Unnamed counts merged writes whose template never came (the ring
	// buffer was full): reported in lost records.
	Unnamed atomic.Uint64
}

// Pipeline moves events from a Source to the sinks of a Router.
type Pipeline struct {
	src    Source
	enr    *enrich.Enricher
	router *sink.Router
	log    zerolog.Logger
	opts   Options
	filter atomic.Pointer[filter.Prefixes]
	corr   *correlate.Correlator // the reader's
	idBase [8]byte
	seq    atomic.Uint64 // the last sequence number given

	Stats Stats
}

// New builds a pipeline. The filter can be replaced later with SetFilter.
func New(src Source, enr *enrich.Enricher, filter filter.Prefixes, router *sink.Router, log zerolog.Logger, opts Options) (*Pipeline, error) {
	if opts.QueueLen <= 0 {
		opts.QueueLen = 8192
	}
	if opts.LostInterval <= 0 {
		opts.LostInterval = time.Second
	}
	p := &Pipeline{src: src, enr: enr, router: router, log: log, opts: opts, corr: correlate.New(opts.CoalesceWindow)}
	p.idBase = enr.RunID()
	p.SetFilter(filter)
	return p, nil
}

// SetFilter replaces the path filter; safe while running.
func (p *Pipeline) SetFilter(f filter.Prefixes) { p.filter.Store(&f) }

// Run moves events until the source ends (after its Stop) or a read fails,
// lets every sink deliver what it holds, closes the sinks and returns. It
// returns the source's error, if any. Cancelling ctx abandons what the sinks
// have not yet taken.
func (p *Pipeline) Run(ctx context.Context) error {
	p.router.Start(ctx)
	defer p.router.Close()
	ch := make(chan record.Record, p.opts.QueueLen)
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	// The reader exits when the source ends; it closes ch, which ends the writer.
	go func() {
		defer wg.Done()
		defer close(ch)
		readErr = p.read(ch)
	}()
	p.write(ch)
	wg.Wait()
	return readErr
}

func (p *Pipeline) read(ch chan<- record.Record) error {
	var ev bpf.Event
	var r record.Record
	for {
		if err := p.src.Read(&ev); err != nil {
			switch {
			case errors.Is(err, bpf.ErrStopped):
				return nil
			case errors.Is(err, bpf.ErrBadSample):
				// One sample the kernel side got wrong must not stop the audit.
				p.Stats.BadSamples.Add(1)
				p.log.Error().Err(err).Msg("skipped an event that does not decode")
				continue
			}
			return err
		}
		if p.enr.Observe(&ev) {
			continue
		}
		if ev.Flags&(bpf.FlagTemplate|bpf.FlagCoalesced) != 0 {
			p.coalesced(&ev, ch)
			continue
		}
		if ev.Op == bpf.OpResult {
			pr, failed := p.corr.Result(&ev)
			if failed {
				// The result of another call, whose pending event was
				// lost: this one never got its own.
				p.Stats.Failed.Add(1)
			}
			if pr != nil {
				p.settle(pr, &ev, ch)
			}
			continue
		}
		p.Stats.Events.Add(1)
		paths := p.enr.Fill(&ev, &r)
		f := p.filter.Load()
		keep := f.KeepAny(paths)
		if ev.Flags&bpf.FlagPending != 0 {
			// The thread's next result says whether it happened.
			p.Stats.Failed.Add(uint64(p.corr.Pend(&ev, r, keep)))
			continue
		}
		if !keep {
			p.Stats.Filtered.Add(1)
			continue
		}
		ch <- r
	}
}

// coalesced keeps a template, or makes the record of writes merged in the
// kernel from the template of their window. Without one (the ring buffer
// had no room for it), the writes are reported in a lost record.
func (p *Pipeline) coalesced(ev *bpf.Event, ch chan<- record.Record) {
	if ev.Flags&bpf.FlagTemplate != 0 {
		t := p.corr.Template(ev)
		paths := p.enr.Fill(ev, &t.Record)
		f := p.filter.Load()
		t.Keep = f.KeepAny(paths)
		return
	}
	p.Stats.Events.Add(1)
	t := p.corr.Merged(ev)
	switch {
	case t == nil:
		p.Stats.Unnamed.Add(ev.Writes)
		p.log.Warn().Uint32("pid", ev.PID).Uint64("inode", ev.Inode).Uint64("writes", ev.Writes).
			Msg("merged writes whose file was never named: the kernel's template event was lost")
		ch <- p.enr.Unnamed(ev)
	case !t.Keep:
		p.Stats.Filtered.Add(1)
	default:
		p.Stats.Coalesced.Add(ev.Writes)
		ch <- p.enr.FillMerged(ev, &t.Record)
	}
}

// settle reports a pending record whose change succeeded, with what the
// result event tells of the file after it.
func (p *Pipeline) settle(pr *correlate.Pending, ev *bpf.Event, ch chan<- record.Record) {
	if res := ev.Result(); res < 0 && res > -4096 {
		p.Stats.Failed.Add(1)
		return
	}
	if !pr.Keep {
		p.Stats.Filtered.Add(1)
		return
	}
	p.enr.FillResult(ev, &pr.Record)
	ch <- pr.Record
}

// write numbers records and hands them to the router.
func (p *Pipeline) write(ch <-chan record.Record) {
	lostTick := time.NewTicker(p.opts.LostInterval)
	defer lostTick.Stop()
	var lastLost uint64

	publish := func(r *record.Record) {
		p.number(r)
		p.router.Publish(r)
	}
	checkLost := func() {
		n, err := p.src.Lost()
		if err != nil {
			p.log.Error().Err(err).Msg("reading the lost-event counter")
			return
		}
		if n > lastLost {
			delta := n - lastLost
			lastLost = n
			p.Stats.Lost.Add(delta)
			p.log.Warn().Uint64("lost", delta).Msg("the kernel could not deliver events: ring buffer full")
			now := time.Now()
			publish(&record.Record{
				Time:    now,
				Created: now,
				Action:  record.ActionLost,
				Host:    p.enr.Host(),
				Agent:   p.enr.Agent(),
				FSAudit: record.FSAudit{Lost: delta},
			})
		}
	}

	for {
		select {
		case r, ok := <-ch:
			if !ok {
				checkLost()
				return
			}
			publish(&r)
		case <-lostTick.C:
			checkLost()
		}
	}
}

// number gives r the next sequence number and its event id.
func (p *Pipeline) number(r *record.Record) {
	seq := p.seq.Add(1)
	r.Sequence = seq
	r.ID = p.eventID(seq)
	p.Stats.Records.Add(1)
}

// LostRecord makes a numbered lost record for n records lost on the way
// to one sink (its spool was full); safe from any goroutine.
func (p *Pipeline) LostRecord(n uint64) *record.Record {
	r := p.Numbered(record.ActionLost)
	r.FSAudit.Lost = n
	return r
}

// Numbered makes a record of action, timed now and numbered like every
// record, for what the agent itself reports (lost and seal records); safe
// from any goroutine.
func (p *Pipeline) Numbered(action string) *record.Record {
	now := time.Now()
	r := &record.Record{Time: now, Created: now, Action: action, Host: p.enr.Host(), Agent: p.enr.Agent()}
	p.number(r)
	return r
}

// eventID renders a record id unique across hosts and restarts: the run's
// 64 random bits (agent.ephemeral_id), then the sequence, in UUID layout.
func (p *Pipeline) eventID(seq uint64) string {
	var raw [16]byte
	copy(raw[:8], p.idBase[:])
	for i := 0; i < 8; i++ {
		raw[15-i] = byte(seq >> (8 * i))
	}
	var out [36]byte
	hex.Encode(out[0:8], raw[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], raw[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], raw[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], raw[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], raw[10:16])
	return string(out[:])
}
