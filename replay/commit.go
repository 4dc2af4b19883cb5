package replay

// Committing a --follow replay's progress to its consumer group.

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

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
