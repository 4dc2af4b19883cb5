package replay

// The plan: the partitions to read and each one's range of offsets, from
// times, explicit offsets or a group's committed ones.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
)

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
