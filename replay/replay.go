// Package replay owns reading fsaudit records back from a Kafka topic and
// delivering them again through sinks: selecting offsets by time window or
// by hand, following a topic with committed group offsets, telling poison
// messages apart, and accounting for every record read.
package replay

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
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
