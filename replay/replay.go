// Package replay owns reading fsaudit records back from a Kafka topic and
// delivering them again through sinks: selecting offsets by time window or
// by hand, following a topic with committed group offsets, telling poison
// messages apart, and accounting for every record read.
package replay

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/filter"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Source names the topic to read and how to reach its brokers.
type Source struct {
	Brokers []string
	Topic   string
	TLS     *tls.Config
	SASL    sasl.Mechanism
}

// Filter selects records by their fields; empty lists select everything.
// A record passes when it matches one value of every non-empty list.
type Filter struct {
	Actions      []string
	PathPrefixes []string // whole components, any path of a record, as the agent's path filters
	Hosts        []string
	Containers   []string // container ids; a prefix of 12 or more characters matches
	Users        []string // user names or numeric ids (real or effective user)
}

// Keep tells whether r passes the filter.
func (f *Filter) Keep(r *record.Record) bool {
	if len(f.Actions) > 0 && !slices.Contains(f.Actions, r.Action) {
		return false
	}
	if len(f.Hosts) > 0 && !slices.Contains(f.Hosts, r.Host.Name) {
		return false
	}
	if len(f.PathPrefixes) > 0 && !(filter.Prefixes{Include: f.PathPrefixes}).KeepRecord(r) {
		return false
	}
	if len(f.Containers) > 0 && !slices.ContainsFunc(f.Containers, func(c string) bool {
		return r.Container.ID != "" && (c == r.Container.ID || len(c) >= 12 && strings.HasPrefix(r.Container.ID, c))
	}) {
		return false
	}
	if len(f.Users) > 0 {
		u := &r.User
		match := func(x string) bool {
			return x == u.Name || x == u.EffectiveName || x == strconv.FormatUint(uint64(u.ID), 10) || x == strconv.FormatUint(uint64(u.EffectiveID), 10)
		}
		if !slices.ContainsFunc(f.Users, match) {
			return false
		}
	}
	return true
}

// Target is one sink replayed records go to, with its own filter.
type Target struct {
	Sink     sink.Sink
	Filter   sink.Filter
	RetryFor time.Duration
}

// Options configure a replay.
type Options struct {
	Source
	// Since and Until bound the records by their @timestamp (Until
	// excluded); zero values leave that side open.
	Since, Until time.Time
	// Lateness is how long after Until a record may still have reached the
	// topic (a spool emptied after an outage); reading stops at the first
	// offset the brokers timestamp after Until plus Lateness.
	Lateness time.Duration
	// Offsets start partitions at explicit offsets instead of Since.
	Offsets map[int]int64
	// Follow keeps forwarding new records until ctx ends, committing the
	// next offset of each partition to Group after every delivered batch.
	Follow bool
	Group  string
	Filter Filter

	Targets   []Target
	BatchSize int // default sink.DefaultBatchSize
	// VerifyChain checks, while replaying, the hash chain of each host's
	// records in each partition (a Kafka sink keyed by host keeps them in
	// order there), with ChainKey when the chain has one; every break is
	// told in the summary.
	VerifyChain bool
	ChainKey    []byte
	Log         zerolog.Logger
	// Progress is called about twice a second, and once at the end.
	Progress func(Progress)
}

// Progress is where a replay stands.
type Progress struct {
	Read, Delivered uint64
	Done, Total     int64 // offsets behind and in the range (Total 0 when following)
	Elapsed         time.Duration
}

// Skip is one message that is not a record.
type Skip struct {
	Partition int
	Offset    int64
	Reason    string
}

// PartitionSummary accounts for one partition.
type PartitionSummary struct {
	Partition         int
	Start, End, Next  int64 // End is -1 when following; Next is where to resume
	Read, Delivered   uint64
	Filtered, Skipped uint64
	OutOfWindow       uint64
	dirty             bool // Next moved since the last commit
}

// Summary accounts for every message a replay read.
type Summary struct {
	Read        uint64            // messages read
	Filtered    uint64            // records the filter left out
	OutOfWindow uint64            // records outside [Since, Until)
	Delivered   uint64            // records every target that takes them acknowledged
	Skipped     map[string]uint64 // messages that are not records, by reason
	Skips       []Skip            // the first 1000 of them
	Partitions  []*PartitionSummary
	Interrupted bool // ctx ended before the range was read
	// With VerifyChain: records checked, and the breaks (the first 1000,
	// each at its partition and offset, and how many in all).
	ChainChecked uint64
	ChainBreaks  []string
	ChainBroken  uint64
}

// Resume says how to go on from where the replay stopped.
func (s *Summary) Resume() string {
	var parts []string
	for _, p := range s.Partitions {
		parts = append(parts, fmt.Sprintf("%d:%d", p.Partition, p.Next))
	}
	return "--offsets " + strings.Join(parts, ",")
}

// message is one message read, or the end of a partition's range.
type message struct {
	partition int
	msg       kafka.Message
	end       bool
	err       error
	gap       [2]int64 // offsets [from, to) the reader skipped, when to > 0
}

const maxSkips = 1000

// Run replays what o selects and returns the accounting. It returns an
// error when the topic cannot be read or a target refused records for its
// whole RetryFor; the summary then says how far it came.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = sink.DefaultBatchSize
	}
	transport := &kafka.Transport{ClientID: "fsaudit-replay", TLS: o.TLS, SASL: o.SASL, DialTimeout: 10 * time.Second}
	client := &kafka.Client{Addr: kafka.TCP(o.Brokers...), Transport: transport, Timeout: 15 * time.Second}
	sum := &Summary{Skipped: map[string]uint64{}}
	parts, err := plan(ctx, client, &o)
	if err != nil {
		return sum, err
	}
	sum.Partitions = parts
	byID := map[int]*PartitionSummary{}
	for _, p := range parts {
		byID[p.Partition] = p
	}

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	ch := make(chan message, 4*o.BatchSize)
	var wg sync.WaitGroup
	open := 0
	for _, p := range parts {
		if !o.Follow && p.Start >= p.End {
			continue
		}
		open++
		wg.Add(1)
		go func() {
			defer wg.Done()
			readPartition(readCtx, &o, transport, p.Partition, p.Start, p.End, ch)
		}()
	}
	defer func() { stopReading(); wg.Wait() }()

	start := time.Now()
	var total int64
	for _, p := range parts {
		if p.End > p.Start {
			total += p.End - p.Start
		}
	}
	report := func() {
		if o.Progress == nil {
			return
		}
		var done int64
		for _, p := range parts {
			done += p.Next - p.Start
		}
		if o.Follow {
			total = 0
		}
		o.Progress(Progress{Read: sum.Read, Delivered: sum.Delivered, Done: done, Total: total, Elapsed: time.Since(start)})
	}
	defer report()

	var batch []*record.Record
	var batchParts []int
	var batchOffsets []int64
	chains := chainChecks{key: o.ChainKey, by: map[chainStream]*chain.Verifier{}}
	// flush delivers the batch; nil entries stand for messages read but not
	// delivered, which move the resume point all the same. A stop (Ctrl-C)
	// does not cut a delivery or its commit short: they have a minute.
	flush := func(parent context.Context) error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), time.Minute)
		defer cancel()
		if err := deliver(ctx, &o, batch); err != nil {
			return err
		}
		for i, r := range batch {
			p := byID[batchParts[i]]
			if r != nil {
				p.Delivered++
				sum.Delivered++
			}
			p.Next = max(p.Next, batchOffsets[i]+1)
			p.dirty = true
		}
		batch, batchParts, batchOffsets = batch[:0], batchParts[:0], batchOffsets[:0]
		if o.Follow {
			return commit(ctx, client, &o, parts)
		}
		return nil
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	timer := time.NewTimer(time.Hour)
	for open > 0 || o.Follow {
		if ctx.Err() != nil {
			// Stopping: what was read is delivered and committed here.
			sum.Interrupted = true
			if len(batch) > 0 {
				if err := flush(ctx); err != nil {
					return sum, err
				}
			}
			if o.Follow {
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if err := commit(fctx, client, &o, parts); err != nil {
					return sum, err
				}
			}
			return sum, nil
		}
		select {
		case <-ctx.Done():
			continue // the stop is handled at the top of the loop
		case <-tick.C:
			report()
		case <-timer.C:
			if len(batch) > 0 {
				if err := flush(ctx); err != nil {
					return sum, err
				}
			}
		case m := <-ch:
			p := byID[m.partition]
			if m.err != nil {
				return sum, fmt.Errorf("reading %s partition %d: %w", o.Topic, m.partition, m.err)
			}
			if m.end {
				open--
				continue
			}
			if m.gap[1] > 0 {
				n := uint64(m.gap[1] - m.gap[0])
				reason := fmt.Sprintf("offsets %d to %d are no longer in the topic (retention)", m.gap[0], m.gap[1]-1)
				sum.Skipped[reason] += n
				p.Skipped += n
				if len(sum.Skips) < maxSkips {
					sum.Skips = append(sum.Skips, Skip{Partition: m.partition, Offset: m.gap[0], Reason: reason})
				}
				o.Log.Warn().Int("partition", m.partition).Int64("from", m.gap[0]).Int64("to", m.gap[1]).Msg("records gone from the topic while replaying")
				chains.restart(m.partition)
				continue
			}
			sum.Read++
			p.Read++
			var r record.Record
			reason := classify(&m.msg, &r)
			if reason == "" && o.VerifyChain {
				chains.check(sum, m.partition, m.msg.Offset, r.Host.Name, m.msg.Value)
			}
			if r.FSAudit.Replay == nil {
				// A record replayed before keeps where it was first read.
				r.FSAudit.Replay = &record.Replay{Topic: o.Topic, Partition: m.partition, Offset: m.msg.Offset}
			}
			switch {
			case reason != "":
				chains.restart(m.partition)
				sum.Skipped[reason]++
				p.Skipped++
				if len(sum.Skips) < maxSkips {
					sum.Skips = append(sum.Skips, Skip{Partition: m.partition, Offset: m.msg.Offset, Reason: reason})
				}
				o.Log.Warn().Int("partition", m.partition).Int64("offset", m.msg.Offset).Str("reason", reason).Msg("skipped a message that is not an fsaudit record")
			case !o.Since.IsZero() && r.Time.Before(o.Since) || !o.Until.IsZero() && !r.Time.Before(o.Until):
				sum.OutOfWindow++
				p.OutOfWindow++
			case !o.Filter.Keep(&r):
				sum.Filtered++
				p.Filtered++
			default:
				batch = append(batch, &r)
				batchParts = append(batchParts, m.partition)
				batchOffsets = append(batchOffsets, m.msg.Offset)
				if len(batch) == 1 {
					timer.Reset(50 * time.Millisecond)
				}
				if len(batch) >= o.BatchSize {
					if err := flush(ctx); err != nil {
						return sum, err
					}
				}
				continue
			}
			// Messages that are not delivered still move the resume point,
			// once everything before them was delivered.
			if len(batch) == 0 {
				p.Next = max(p.Next, m.msg.Offset+1)
				p.dirty = true
			} else {
				batch = append(batch, nil)
				batchParts = append(batchParts, m.partition)
				batchOffsets = append(batchOffsets, m.msg.Offset)
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(ctx); err != nil {
			return sum, err
		}
	}
	for _, p := range parts {
		p.Next = max(p.Next, p.End)
	}
	return sum, nil
}

// classify reads a message into r, or says why it is not a record.
func classify(m *kafka.Message, r *record.Record) string {
	for _, h := range m.Headers {
		switch h.Key {
		case "fsaudit.schema":
			if string(h.Value) != sink.SchemaVersion {
				return "schema version " + strconv.Quote(string(h.Value))
			}
		case "fsaudit.format":
			if string(h.Value) != "json" {
				return "format " + strconv.Quote(string(h.Value)) + " (only json records read back)"
			}
		}
	}
	if len(m.Value) == 0 {
		return "empty message"
	}
	if err := record.ParseJSON(m.Value, r); err != nil {
		// A record cut short starts as one and does not end its object.
		v := bytes.TrimRight(m.Value, " \r\n")
		if bytes.HasPrefix(v, []byte(`{"@timestamp":`)) && !bytes.HasSuffix(v, []byte("}")) {
			return "truncated record"
		}
		return "not an fsaudit record"
	}
	if !record.KnownAction(r.Action) {
		return "unknown event.action " + strconv.Quote(r.Action)
	}
	return ""
}

// chainStream is one chain a topic holds in order: a host's records in a
// partition.
type chainStream struct {
	partition int
	host      string
}

// chainChecks verifies the chains of a replay's records as they are read.
type chainChecks struct {
	key []byte
	by  map[chainStream]*chain.Verifier
}

// check verifies the next record of host in partition (at offset), and
// tells a break in sum; the stream then goes on from that record.
func (c *chainChecks) check(sum *Summary, partition int, offset int64, host string, value []byte) {
	k := chainStream{partition, host}
	v := c.by[k]
	if v == nil {
		v = c.verifier()
		c.by[k] = v
	}
	sum.ChainChecked++
	where := fmt.Sprintf("partition %d offset %d (host %s)", partition, offset, host)
	if err := v.Line(where, value); err != nil {
		sum.ChainBroken++
		if len(sum.ChainBreaks) < maxSkips {
			sum.ChainBreaks = append(sum.ChainBreaks, err.Error())
		}
		v = c.verifier()
		c.by[k] = v
		v.Line(where, value)
	}
}

// verifier starts a stream's check anywhere in its chain, remembering
// the last 65,536 records to tell a resend (a spool's backlog sent
// again), so that many hosts cost bounded memory each.
func (c *chainChecks) verifier() *chain.Verifier {
	v := chain.NewVerifier(c.key, nil)
	v.AnyStart, v.AllowReplayed, v.DuplicateWindow = true, true, 1<<16
	return v
}

// restart forgets where the streams of a partition stood: a message
// skipped there (not a record of this version) or offsets gone (retention)
// may have been a record of any of them, and what follows is no break.
func (c *chainChecks) restart(partition int) {
	for k := range c.by {
		if k.partition == partition {
			delete(c.by, k)
		}
	}
}

// deliver sends a batch to every target (each after its own filter) and
// returns once all acknowledged it. nil entries are place holders.
func deliver(ctx context.Context, o *Options, batch []*record.Record) error {
	var buf []byte
	var msgs []sink.Message
	for _, t := range o.Targets {
		buf, msgs = buf[:0], msgs[:0]
		for _, r := range batch {
			if r == nil || !t.Filter.Keep(r) {
				continue
			}
			var m sink.Message
			buf, m = t.Sink.Encode(buf, r)
			msgs = append(msgs, m)
		}
		if len(msgs) == 0 {
			continue
		}
		retry := t.RetryFor
		if retry <= 0 {
			retry = 30 * time.Second
		}
		if _, err := sink.Deliver(ctx, t.Sink, msgs, retry, o.Log.With().Str("sink", t.Sink.Name()).Logger()); err != nil {
			return fmt.Errorf("sink %s refused %d records: %w", t.Sink.Name(), len(msgs), err)
		}
	}
	return nil
}

// plan finds the partitions and each one's range of offsets.
func plan(ctx context.Context, client *kafka.Client, o *Options) ([]*PartitionSummary, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{o.Topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata from %v: %w", o.Brokers, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		var terr error = errors.New("not in the brokers' metadata")
		if len(md.Topics) == 1 {
			terr = md.Topics[0].Error
		}
		return nil, fmt.Errorf("topic %s: %w", o.Topic, terr)
	}
	var ids []int
	for _, p := range md.Topics[0].Partitions {
		ids = append(ids, p.ID)
	}
	sort.Ints(ids)
	for p := range o.Offsets {
		if !slices.Contains(ids, p) {
			return nil, fmt.Errorf("topic %s has no partition %d", o.Topic, p)
		}
	}
	first, err := listOffsets(ctx, client, o.Topic, ids, time.Time{}, kafka.FirstOffset)
	if err != nil {
		return nil, err
	}
	last, err := listOffsets(ctx, client, o.Topic, ids, time.Time{}, kafka.LastOffset)
	if err != nil {
		return nil, err
	}
	var since, until map[int]int64
	if !o.Since.IsZero() {
		if since, err = listOffsets(ctx, client, o.Topic, ids, o.Since, 0); err != nil {
			return nil, err
		}
	}
	if !o.Until.IsZero() {
		if until, err = listOffsets(ctx, client, o.Topic, ids, o.Until.Add(o.Lateness), 0); err != nil {
			return nil, err
		}
	}
	var committed map[int]int64
	if o.Follow {
		if committed, err = fetchCommitted(ctx, client, o.Group, o.Topic, ids); err != nil {
			return nil, err
		}
	}
	var out []*PartitionSummary
	for _, id := range ids {
		p := &PartitionSummary{Partition: id, Start: first[id], End: last[id]}
		switch {
		case hasKey(committed, id) && len(o.Offsets) == 0 && o.Since.IsZero():
			// Following on: explicit --offsets or --since win over it.
			p.Start = committed[id]
		case hasKey(o.Offsets, id):
			p.Start = o.Offsets[id]
		case since != nil:
			// -1: nothing at or after Since yet.
			if since[id] >= 0 {
				p.Start = since[id]
			} else {
				p.Start = last[id]
			}
		}
		if p.Start < first[id] {
			o.Log.Warn().Int("partition", id).Int64("asked", p.Start).Int64("first", first[id]).
				Msg("start offset no longer in the topic (retention): starting at the first one there")
			p.Start = first[id]
		}
		if p.Start > last[id] {
			o.Log.Warn().Int("partition", id).Int64("asked", p.Start).Int64("end", last[id]).
				Msg("start offset past the end of the partition: starting at its end")
			p.Start = last[id]
		}
		if until != nil && until[id] >= 0 && until[id] < p.End {
			p.End = until[id]
		}
		if o.Follow {
			p.End = -1
		}
		p.Next = p.Start
		out = append(out, p)
	}
	return out, nil
}

func hasKey(m map[int]int64, k int) bool {
	_, ok := m[k]
	return ok
}

// listOffsets asks for one offset of every partition: the first or the
// next to be written (kind kafka.FirstOffset or kafka.LastOffset), or, with
// kind 0, the first whose timestamp is at or after at (-1: none yet).
func listOffsets(ctx context.Context, client *kafka.Client, topic string, ids []int, at time.Time, kind int64) (map[int]int64, error) {
	var reqs []kafka.OffsetRequest
	for _, id := range ids {
		switch kind {
		case kafka.FirstOffset:
			reqs = append(reqs, kafka.FirstOffsetOf(id))
		case kafka.LastOffset:
			reqs = append(reqs, kafka.LastOffsetOf(id))
		default:
			reqs = append(reqs, kafka.TimeOffsetOf(id, at))
		}
	}
	var resp *kafka.ListOffsetsResponse
	err := retryTransient(ctx, func() error {
		var err error
		if resp, err = client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}}); err != nil {
			return err
		}
		for _, p := range resp.Topics[topic] {
			if p.Error != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, p.Error)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		switch kind {
		case kafka.FirstOffset:
			// kafka-go files an answer by the timestamp the broker sends
			// with it, which is -1 (its LastOffset) for the earliest offset
			// too: the answer is in LastOffset then.
			out[p.Partition] = p.FirstOffset
			if p.LastOffset >= 0 {
				out[p.Partition] = p.LastOffset
			}
		case kafka.LastOffset:
			out[p.Partition] = p.LastOffset
		default:
			out[p.Partition] = -1
			for off := range p.Offsets {
				out[p.Partition] = off
			}
		}
	}
	return out, nil
}

// transient tells errors that pass on their own: a leader being elected
// (a new topic, a broker restart), a group coordinator loading (a broker
// creates the offsets topic on the first use of any group). A topic that
// does not exist is not waited for.
func transient(err error) bool {
	var ke kafka.Error
	return errors.As(err, &ke) && ke.Temporary() && ke != kafka.UnknownTopicOrPartition
}

// retryTransient runs op until it succeeds, fails for good, or its errors
// stayed transient for 30 s.
func retryTransient(ctx context.Context, op func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := op()
		if err == nil || !transient(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// fetchCommitted reads the group's committed offsets; a partition without
// one is absent from the map.
func fetchCommitted(ctx context.Context, client *kafka.Client, group, topic string, ids []int) (map[int]int64, error) {
	var resp *kafka.OffsetFetchResponse
	err := retryTransient(ctx, func() error {
		var err error
		resp, err = client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
		if err == nil {
			err = resp.Error
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("committed offset of group %s partition %d: %w", group, p.Partition, p.Error)
		}
		if p.CommittedOffset >= 0 {
			out[p.Partition] = p.CommittedOffset
		}
	}
	return out, nil
}

// commit stores the next offset of every partition that moved, for the
// group, as a consumer outside any group generation does.
func commit(ctx context.Context, client *kafka.Client, o *Options, parts []*PartitionSummary) error {
	var cs []kafka.OffsetCommit
	for _, p := range parts {
		if p.dirty {
			cs = append(cs, kafka.OffsetCommit{Partition: p.Partition, Offset: p.Next})
		}
	}
	if len(cs) == 0 {
		return nil
	}
	err := retryTransient(ctx, func() error {
		resp, err := client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: o.Group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{o.Topic: cs}})
		if err != nil {
			return err
		}
		for _, p := range resp.Topics[o.Topic] {
			if p.Error != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, p.Error)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("committing offsets of group %s: %w", o.Group, err)
	}
	for _, p := range parts {
		p.dirty = false
	}
	return nil
}

// readPartition reads one partition from start up to end (excluded; -1:
// forever) into ch, then sends an end marker.
func readPartition(ctx context.Context, o *Options, tr *kafka.Transport, partition int, start, end int64, ch chan<- message) {
	send := func(m message) bool {
		select {
		case ch <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: o.Brokers, Topic: o.Topic, Partition: partition,
		Dialer:   &kafka.Dialer{ClientID: "fsaudit-replay", Timeout: 10 * time.Second, TLS: o.TLS, SASLMechanism: o.SASL, DualStack: true},
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 250 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		send(message{partition: partition, err: err})
		return
	}
	expect := start
	for end < 0 || r.Offset() < end {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		m, err := r.FetchMessage(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				continue // nothing new yet
			}
			send(message{partition: partition, err: err})
			return
		}
		if end >= 0 && m.Offset >= end {
			break
		}
		if m.Offset > expect {
			// Offsets the reader jumped over: deleted by retention (or
			// compaction) while the replay ran.
			if !send(message{partition: partition, gap: [2]int64{expect, m.Offset}}) {
				return
			}
		}
		expect = m.Offset + 1
		if !send(message{partition: partition, msg: m}) {
			return
		}
	}
	send(message{partition: partition, end: true})
}
