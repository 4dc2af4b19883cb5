// Package null owns the null sink, which takes every record and keeps
// none: it measures what the agent itself costs (capture, enrichment,
// routing, the chain and the spool) without a destination's, and is never
// an audit trail.
package null

import (
	"context"
	"sync/atomic"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
)

// Config holds a null sink's own [[sink]] keys: it has none.
type Config struct{}

// New returns a null sink's keys.
func New() sink.Type { return new(Config) }

// Defaults implements config.SinkSettings.
func (*Config) Defaults(*config.Sink, []string) {}

// Validate implements config.SinkSettings.
func (*Config) Validate(*config.Sink, []string, func(msg, key string) error) error { return nil }

// Warnings implements sink.Warner: whatever reaches the sink is gone.
func (*Config) Warnings(*config.Sink) []string {
	return []string{"a null sink discards every record it is given: it measures the agent, it keeps nothing"}
}

// Open implements sink.Type.
func (*Config) Open(s *config.Sink, env sink.Env) (sink.Sink, error) {
	return &Sink{name: s.Name, format: env.Format}, nil
}

// Check implements sink.Type.
func (*Config) Check(_ context.Context, s *config.Sink, _ sink.Env, rep sink.Reporter) {
	rep.OK("null: encodes records in %s, keeps none", s.Format)
}

// Sink encodes each record in its format, as any sink would, and
// acknowledges every batch at once.
type Sink struct {
	name   string
	format record.Format
	bytes  atomic.Uint64
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.name }

// Encode implements sink.Sink.
func (s *Sink) Encode(buf []byte, r *record.Record) ([]byte, sink.Message) {
	return sink.AppendLine(buf, r, s.format)
}

// Write implements sink.Sink: the batch is counted and dropped.
func (s *Sink) Write(_ context.Context, batch []sink.Message) error {
	for _, m := range batch {
		s.bytes.Add(uint64(len(m.Value)))
	}
	return nil
}

// Bytes is how many encoded bytes the sink was given.
func (s *Sink) Bytes() uint64 { return s.bytes.Load() }

// Close implements sink.Sink.
func (s *Sink) Close() error { return nil }
