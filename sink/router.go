package sink

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/filter"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/spool"
	"github.com/rs/zerolog"
)

// Filter selects the records one sink takes. The zero Filter takes all.
// Lost and seal records pass every filter: each sink must see its gaps,
// and its chain's seals are its own.
type Filter struct {
	Paths      *filter.Prefixes // nil: every path
	Actions    []string         // empty: every action
	Containers string           // "" or "any"; "only": container writes; "none": host writes
}

// Keep tells whether the sink takes r.
func (f *Filter) Keep(r *record.Record) bool {
	if record.Marker(r.Action) {
		return true
	}
	if len(f.Actions) > 0 && !slices.Contains(f.Actions, r.Action) {
		return false
	}
	switch f.Containers {
	case "only":
		if r.Container.ID == "" {
			return false
		}
	case "none":
		if r.Container.ID != "" {
			return false
		}
	}
	return f.Paths == nil || f.Paths.KeepRecord(r)
}

// RouteOptions configure how records reach one sink.
type RouteOptions struct {
	Filter       Filter
	QueueLen     int           // records waiting for the sink; default 65536
	BatchSize    int           // records per write; default DefaultBatchSize
	BatchTimeout time.Duration // longest a record waits for its batch; default DefaultBatchTimeout
	RetryFor     time.Duration // how long a failing batch is tried again; default 30s (without a spool)
	// Spool, when set, takes every record first; the sink is fed from it
	// and a failing sink is tried until it takes them.
	Spool *spool.Spool
	// Chain, when set, links the sink's records in a hash chain.
	Chain *chain.Chainer
	// Lost makes the lost record that follows records a full spool dropped.
	Lost func(n uint64) *record.Record
	// SealAnchor names another sink, itself without an anchor, that gets
	// a copy of each of this sink's seal records.
	SealAnchor string
}

// Sealing configures the seal records of every chained sink (see package
// chain): a start seal before a sink's first record, a stop seal after its
// last, and, with a sealing key, one every Interval.
type Sealing struct {
	Key      *chain.SealKey // nil: seals without MACs, which mark where runs start and stop
	Interval time.Duration  // with Key: the longest between two seals
	Instance string         // names this run of the agent in its start seals
	// Record makes a numbered record (time, id, sequence, host) to make a
	// seal of; nil: one with the time alone.
	Record func() *record.Record
}

// RouteStats count what one sink was given and what became of it.
type RouteStats struct {
	Filtered atomic.Uint64 // records the sink's filter left out
	Dropped  atomic.Uint64 // records that found the sink's queue full
	Sent     atomic.Uint64 // records the sink acknowledged
	Failed   atomic.Uint64 // records given up after RetryFor
	Retries  atomic.Uint64 // batch writes that failed and were tried again
	// Latency is, per record the sink acknowledged, the time from the
	// event (its @timestamp) to the acknowledgement.
	Latency Histogram
}

type route struct {
	sink        Sink
	opts        RouteOptions
	q           chan *record.Record
	seals       sealQueue
	sealing     *Sealing      // nil: no seal records
	anchor      *route        // gets a copy of each seal record; nil: none
	isAnchor    bool          // another route copies its seals here
	ran         chan struct{} // closed once run returned
	stopping    bool          // the queue ended: what is left goes into the spool even when full
	forceAppend bool          // the entries at hand go into the spool even when full (a seal)
	stats       RouteStats
	pendingLost uint64         // records a full spool dropped, not yet told by a lost record
	lostRec     *record.Record // the lost record that will tell them, numbered once
	// lastDropLog limits the drop warnings to one per second (unix ns).
	lastDropLog atomic.Int64
}

// Router gives each sink its own bounded queue, filter, batching and
// retries, so that a slow or failing sink never holds up the others.
type Router struct {
	routes  []*route
	log     zerolog.Logger
	wg      sync.WaitGroup
	closed  bool
	sealing *Sealing
	started bool            // Start ran: the routes make the seals they are given
	ctx     context.Context // Start's: once it ends, the routes make no more seals
	sealWG  sync.WaitGroup
	endSeal chan struct{} // closed at Close: no more interval seals
}

// NewRouter returns a router without sinks.
func NewRouter(log zerolog.Logger) *Router { return &Router{log: log} }

// Add gives the router a sink; call it before Start.
func (rt *Router) Add(s Sink, o RouteOptions) {
	if o.QueueLen <= 0 {
		o.QueueLen = 1 << 16
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = DefaultBatchTimeout
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 30 * time.Second
	}
	r := &route{sink: s, opts: o, q: make(chan *record.Record, o.QueueLen)}
	r.seals.init()
	rt.routes = append(rt.routes, r)
}

// SetSealing makes every chained sink's stream carry seal records; call
// it before Start.
func (rt *Router) SetSealing(s Sealing) { rt.sealing = &s }

// Start runs one goroutine per sink. Cancelling ctx abandons what is
// queued and stops retries.
func (rt *Router) Start(ctx context.Context) {
	rt.started, rt.ctx = true, ctx
	byName := map[string]*route{}
	for _, r := range rt.routes {
		byName[r.sink.Name()] = r
	}
	for _, r := range rt.routes {
		if a := byName[r.opts.SealAnchor]; a != nil && a != r && a.opts.SealAnchor == "" {
			r.anchor, a.isAnchor = a, true
		}
	}
	if rt.sealing != nil {
		for _, r := range rt.routes {
			r.sealing = rt.sealing
		}
		rt.round(chain.SealStart)
		if rt.sealing.Key != nil && rt.sealing.Interval > 0 {
			rt.endSeal = make(chan struct{})
			rt.sealWG.Add(1)
			go rt.sealEvery(ctx)
		}
	}
	for _, r := range rt.routes {
		log := rt.log.With().Str("sink", r.sink.Name()).Logger()
		stopping := make(chan struct{}) // closed once run has put everything in the spool
		r.ran = stopping
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			r.run(ctx, log)
			close(stopping)
		}()
		if r.opts.Spool != nil {
			rt.wg.Add(1)
			go func() {
				defer rt.wg.Done()
				r.drain(ctx, log, stopping)
			}()
		}
	}
}

// Publish queues r for every sink. It never blocks: a sink whose queue is
// full loses r, and the loss is counted and logged. r must not change after.
func (rt *Router) Publish(r *record.Record) {
	for _, rc := range rt.routes {
		select {
		case rc.q <- r:
		default:
			rc.stats.Dropped.Add(1)
			now := time.Now().UnixNano()
			if last := rc.lastDropLog.Load(); now-last >= int64(time.Second) && rc.lastDropLog.CompareAndSwap(last, now) {
				rt.log.Error().Str("sink", rc.sink.Name()).Uint64("dropped_total", rc.stats.Dropped.Load()).
					Int("queue", cap(rc.q)).Msg("sink queue full: records dropped for this sink")
			}
		}
	}
}

// Close ends the queues, waits until each sink has written what it held
// (or ctx was cancelled), and closes the sinks.
func (rt *Router) Close() {
	if rt.closed {
		return
	}
	rt.closed = true
	if rt.endSeal != nil {
		close(rt.endSeal)
		rt.sealWG.Wait()
	}
	if rt.sealing != nil && rt.started && rt.ctx.Err() == nil {
		// The stop seals follow whatever is still queued: run makes them
		// once its queue is empty and closed.
		rt.round(chain.SealStop)
	}
	// The anchors' queues close last: the stop seals of the sinks they
	// anchor are copied into them.
	for _, r := range rt.routes {
		if !r.isAnchor {
			close(r.q)
		}
	}
	for _, r := range rt.routes {
		if !r.isAnchor && r.ran != nil && r.anchor != nil {
			<-r.ran
		}
	}
	for _, r := range rt.routes {
		if r.isAnchor {
			close(r.q)
		}
	}
	rt.wg.Wait()
	if rt.sealing != nil && rt.sealing.Key != nil {
		rt.sealing.Key.Close()
	}
	for _, r := range rt.routes {
		if err := r.sink.Close(); err != nil {
			rt.log.Error().Err(err).Str("sink", r.sink.Name()).Msg("closing sink")
		}
		if r.opts.Spool != nil {
			if n := r.opts.Spool.Len(); n > 0 {
				rt.log.Warn().Str("sink", r.sink.Name()).Int("records", n).Msg("records left in the spool for the next start")
			}
			r.opts.Spool.Close()
		}
	}
}

// RouteInfo describes one sink's route, for logs and metrics.
type RouteInfo struct {
	Sink  Sink
	Depth int // records waiting in its queue
	Stats *RouteStats
	Spool *spool.Spool // nil without one
}

// Routes lists the sinks in config order.
func (rt *Router) Routes() []RouteInfo {
	out := make([]RouteInfo, len(rt.routes))
	for i, r := range rt.routes {
		out[i] = RouteInfo{Sink: r.sink, Depth: len(r.q), Stats: &r.stats, Spool: r.opts.Spool}
	}
	return out
}

// Sinks lists the sinks in config order.
func (rt *Router) Sinks() []Sink {
	out := make([]Sink, len(rt.routes))
	for i, r := range rt.routes {
		out[i] = r.sink
	}
	return out
}

func (r *route) run(ctx context.Context, log zerolog.Logger) {
	var buf []byte
	je, _ := r.sink.(JSONEncoder) // nil: the sink encodes every record itself
	mr, _ := r.sink.(MarkRequester)
	if r.opts.Chain == nil {
		mr = nil // marks are seal records of the chain
	}
	var links *linker // the sink's chain; nil without one
	if r.opts.Chain != nil {
		links = &linker{c: r.opts.Chain}
	}
	var batch []Message
	var entries []spool.Entry
	var chainStart chain.State // where the chain stood before the entries
	var times []time.Time      // each record's event time, for the latency
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// A lost record waits for room in a full spool; it is tried each second.
	lostTick := time.NewTicker(time.Second)
	defer lostTick.Stop()
	flush := func() {
		timer.Stop()
		switch {
		case len(entries) > 0:
			r.spoolAppend(log, entries, chainStart)
		case len(batch) > 0 && r.deliver(ctx, log, batch):
			now := time.Now()
			for _, t := range times {
				r.stats.Latency.Observe(now.Sub(t))
			}
		}
		batch, entries, buf, times = batch[:0], entries[:0], buf[:0], times[:0]
	}
	// add links rec (when the sink has a chain), encodes it and batches it.
	// A seal goes into the spool on its own and even when the spool is
	// full: its epoch is spent, and a seal missing would read as records
	// removed.
	add := func(rec *record.Record) {
		if rec.Action == record.ActionSeal && r.opts.Spool != nil {
			flush()
			r.forceAppend = true
			defer func() { flush(); r.forceAppend = false }()
		}
		var own chain.State
		if links != nil && len(entries) == 0 {
			chainStart = r.opts.Chain.State()
		}
		if links != nil {
			rec, own = links.link(rec) // the chain is the sink's own: a copy is linked
		}
		var m Message
		encoded := false
		if je != nil && links != nil {
			buf, m, encoded = je.EncodeJSON(buf, rec, links.json())
		}
		if !encoded {
			buf, m = r.sink.Encode(buf, rec)
		}
		m.Mark = rec.Action == record.ActionSeal && rec.FSAudit.Seal != nil && rec.FSAudit.Seal.Reason == chain.SealRotate
		if r.opts.Spool != nil {
			seq := rec.Sequence
			if links != nil {
				seq = own.Seq // the spool keeps where the chain stands
			}
			entries = append(entries, spool.Entry{Seq: seq, Time: rec.Time, Hash: own.Hash, Key: m.Key, Value: m.Value, Mark: m.Mark})
		} else {
			batch = append(batch, m)
			times = append(times, rec.Time)
		}
		if len(batch)+len(entries) == 1 {
			timer.Reset(r.opts.BatchTimeout)
		}
		if len(batch)+len(entries) >= r.opts.BatchSize {
			flush()
		}
	}
	// seal makes the seal records due, in the order their rounds came;
	// last: the stop seal too. A file sink's request for a mark to start
	// its next file with comes first.
	seal := func(last bool) {
		if mr != nil && mr.TakeMarkRequest() {
			add(r.sealRecord(sealToken{reason: chain.SealRotate}))
		}
		for _, t := range r.seals.take(last) {
			if r.opts.Chain != nil {
				rec := r.sealRecord(t)
				add(rec)
				if r.anchor != nil {
					cp, sl := *rec, *rec.FSAudit.Seal
					sl.Anchored = true
					cp.FSAudit = record.FSAudit{Seal: &sl}
					r.anchor.offer(log, &cp)
				}
			}
		}
	}
	seal(false) // the start seal comes first
	for {
		select {
		case rec, ok := <-r.q:
			if !ok {
				seal(false)
				flush()
				if r.pendingLost > 0 && r.opts.Lost != nil {
					r.spoolLost(log, true)
				}
				// The stop seal comes last, into the spool even when it
				// is full: the agent cannot wait for room.
				r.stopping = true
				seal(true)
				flush()
				return
			}
			if !r.opts.Filter.Keep(rec) {
				r.stats.Filtered.Add(1)
				continue
			}
			if mr != nil && mr.TakeMarkRequest() {
				add(r.sealRecord(sealToken{reason: chain.SealRotate}))
			}
			add(rec)
		case <-r.seals.ready:
			seal(false)
		case <-timer.C:
			flush()
		case <-lostTick.C:
			if r.pendingLost > 0 && r.opts.Lost != nil {
				r.spoolLost(log, false)
			}
			seal(false) // a mark a file sink asked for while no record came
		case <-ctx.Done():
			if n := len(batch) + len(entries) + len(r.q); n > 0 {
				r.stats.Failed.Add(uint64(n))
				log.Error().Int("records", n).Msg("stopped before the sink took these records")
			}
			return
		}
	}
}

// spoolAppend writes encoded records to the sink's spool. A full spool
// drops records by its policy, and a spool that cannot be written (its
// disk is full) refuses them: either way they are counted and logged, and
// a lost record with their number follows in the sink's stream as soon as
// the spool takes records again.
func (r *route) spoolAppend(log zerolog.Logger, entries []spool.Entry, chainStart chain.State) {
	var dropped int
	var refused bool
	var err error
	if r.stopping || r.forceAppend {
		err = r.opts.Spool.AppendOver(entries)
	} else {
		dropped, refused, err = r.opts.Spool.Append(entries)
	}
	if err != nil {
		dropped, refused = len(entries), true
		log.Error().Err(err).Int("records", len(entries)).Msg("spool write failed: records lost for this sink")
	}
	if refused && r.opts.Chain != nil {
		// The refused records were never written: the chain goes on as if
		// they had never been linked, so the sink's stream stays whole and
		// the lost record says what is missing. (drop_oldest removes
		// records from the middle of the stream instead: the chain shows
		// that gap, and the lost record explains it.)
		r.opts.Chain.Reset(chainStart)
	}
	r.countDropped(log, dropped)
	if !refused && r.pendingLost > 0 && r.opts.Lost != nil {
		r.spoolLost(log, false)
	}
}

// countDropped counts records a full spool lost (logging at most once a
// second) for the next lost record.
func (r *route) countDropped(log zerolog.Logger, n int) {
	if n <= 0 {
		return
	}
	r.stats.Dropped.Add(uint64(n))
	r.pendingLost += uint64(n)
	now := time.Now().UnixNano()
	if now-r.lastDropLog.Load() >= int64(time.Second) {
		r.lastDropLog.Store(now)
		log.Error().Int("dropped", n).Uint64("dropped_total", r.stats.Dropped.Load()).Int64("spool_bytes", r.opts.Spool.Bytes()).
			Msg("spool full: records dropped for this sink")
	}
}

// spoolLost puts a lost record for the records dropped so far into the
// spool, after what it just took. The record is numbered once and kept
// until it is written. force writes it even into a full spool (the agent
// is stopping: it cannot wait for room).
func (r *route) spoolLost(log zerolog.Logger, force bool) {
	if r.lostRec == nil {
		r.lostRec = r.opts.Lost(0)
	}
	rec := *r.lostRec
	rec.FSAudit.Lost = r.pendingLost
	var own, before chain.State
	seq := rec.Sequence
	if r.opts.Chain != nil {
		before = r.opts.Chain.State()
		var prev chain.State
		prev, own = r.opts.Chain.Next(record.AppendJSON(nil, &rec))
		rec.FSAudit.Chain = record.Chain{Seq: own.Seq, Prev: prev.Hash.String(), Hash: own.Hash.String()}
		seq = own.Seq
	}
	_, m := r.sink.Encode(nil, &rec)
	entry := []spool.Entry{{Seq: seq, Time: rec.Time, Hash: own.Hash, Key: m.Key, Value: m.Value}}
	var dropped int
	var refused bool
	var err error
	if force {
		err = r.opts.Spool.AppendOver(entry)
	} else {
		dropped, refused, err = r.opts.Spool.Append(entry)
	}
	if err == nil && !refused {
		r.pendingLost, r.lostRec = 0, nil
		r.countDropped(log, dropped) // writing it made room by dropping older records
		return
	}
	if r.opts.Chain != nil {
		r.opts.Chain.Reset(before)
	}
	if force {
		log.Error().Err(err).Uint64("lost", r.pendingLost).Msg("spool: the lost record could not be written at the stop: this loss is only in this log")
	}
}

// drain delivers what the spool holds, in order, and acknowledges it. It
// tries a failing sink again and again: records wait in the spool, not in
// memory. It returns when the appender has finished and the spool is
// empty, or when ctx ends (the spool keeps the rest for the next start).
func (r *route) drain(ctx context.Context, log zerolog.Logger, stopping <-chan struct{}) {
	sp := r.opts.Spool
	var pos spool.Position
	batch := make([]Message, 0, r.opts.BatchSize)
	for ctx.Err() == nil {
		es, next, err := sp.Read(r.opts.BatchSize, 200*time.Millisecond, pos)
		if errors.Is(err, spool.ErrClosed) {
			return
		}
		if err != nil {
			// A frame that does not read (a damaged disk) or a file that does
			// not open: say so and try again; the records stay where they are.
			log.Error().Err(err).Msg("reading the spool: trying again in a second")
			if isClosed(stopping) {
				return
			}
			time.Sleep(time.Second)
			continue
		}
		pos = next
		if len(es) == 0 {
			if isClosed(stopping) && sp.Len() == 0 {
				return
			}
			continue
		}
		batch = batch[:0]
		for _, e := range es {
			batch = append(batch, Message{Key: e.Key, Value: e.Value, Time: e.Time, Mark: e.Mark})
		}
		// While the agent runs, a failing sink is tried until it takes the
		// batch; once it stops, for stopRetry more: the records are safe on
		// disk for the next start.
		var giveUpAt time.Time
		until := func() time.Time {
			if !isClosed(stopping) {
				return time.Now().Add(time.Hour) // no end while the agent runs
			}
			if giveUpAt.IsZero() {
				giveUpAt = time.Now().Add(stopRetry)
			}
			return giveUpAt
		}
		attempts, err := retryWrite(ctx, r.sink, batch, log, until, stopping, true)
		r.stats.Retries.Add(uint64(attempts - 1))
		if err != nil {
			return
		}
		if err := sp.Ack(next, len(es), es[len(es)-1]); err != nil {
			log.Error().Err(err).Msg("spool: recording the acknowledgement (these records may be sent again)")
		}
		r.stats.Sent.Add(uint64(len(es)))
		now := time.Now()
		for _, e := range es {
			r.stats.Latency.Observe(now.Sub(e.Time))
		}
	}
}

// stopRetry is how long a failing sink is still tried once the agent stops;
// what it does not take then waits in its spool for the next start.
const stopRetry = 5 * time.Second

// deliver writes one batch through Deliver, counts the outcome and tells
// whether the sink took it.
func (r *route) deliver(ctx context.Context, log zerolog.Logger, batch []Message) bool {
	n := uint64(len(batch))
	attempts, err := Deliver(ctx, r.sink, batch, r.opts.RetryFor, log)
	r.stats.Retries.Add(uint64(attempts - 1))
	if err != nil {
		r.stats.Failed.Add(n)
		return false
	}
	r.stats.Sent.Add(n)
	return true
}

// Deliver writes one batch to s, trying again with growing pauses (0.1 s
// doubling to 5 s) while s fails, for retryFor at most or until ctx ends. It
// logs the first failure, a recovery, and giving up, and returns how many
// writes it made and the last error.
func Deliver(ctx context.Context, s Sink, batch []Message, retryFor time.Duration, log zerolog.Logger) (int, error) {
	deadline := time.Now().Add(retryFor)
	return retryWrite(ctx, s, batch, log, func() time.Time { return deadline }, nil, false)
}

// retryWrite writes batch to s until it succeeds, with pauses from 0.1 s
// doubling to 5 s. until, asked after each failure, says how long it may go
// on; a pause ends early when wake closes, so until is asked again at once.
// spooled says, for the log, that the batch waits in a spool meanwhile.
func retryWrite(ctx context.Context, s Sink, batch []Message, log zerolog.Logger, until func() time.Time, wake <-chan struct{}, spooled bool) (int, error) {
	waiting, lost := "", "sink failed: records not delivered"
	if spooled {
		waiting, lost = "; records wait in the spool", "sink failed: records stay in the spool for the next start"
	}
	n := len(batch)
	pause := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.Write(ctx, batch)
		if err == nil {
			if attempt > 1 {
				log.Info().Int("attempts", attempt).Int("records", n).Msg("sink took the batch after failures")
			}
			return attempt, nil
		}
		deadline := until()
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			log.Error().Err(err).Int("attempts", attempt).Int("records", n).Msg(lost)
			return attempt, err
		}
		if attempt == 1 {
			log.Warn().Err(err).Int("records", n).Msg("sink write failed: trying again" + waiting)
		}
		t := time.NewTimer(min(pause, time.Until(deadline)))
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-wake:
			wake = nil // closed for good: ask until again, then pause in full
		}
		t.Stop()
		pause = min(pause*2, 5*time.Second)
	}
}

// isClosed tells whether ch was closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
