package replay

// Reading one partition's range into the replay's channel.

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"
)

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
