// Package stdout owns the stdout sink: records, one per line, on the
// agent's standard output, for containers whose runtime keeps the log.
package stdout

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
)

// Sink writes records to standard output, for containers.
type Sink struct {
	name   string
	w      io.Writer
	format record.Format
	mu     sync.Mutex
	buf    []byte
}

var _ sink.Sink = (*Sink)(nil)

// NewSink returns a sink writing records in format f to w (os.Stdout
// when nil), one per line.
func NewSink(name string, w io.Writer, f record.Format) *Sink {
	if w == nil {
		w = os.Stdout
	}
	return &Sink{name: name, w: w, format: f}
}

// Encode implements sink.Sink: one record per line.
func (s *Sink) Encode(buf []byte, r *record.Record) ([]byte, sink.Message) {
	return sink.AppendLine(buf, r, s.format)
}

// Name is the sink's configured name.
func (s *Sink) Name() string { return s.name }

// Write writes the batch in one call.
func (s *Sink) Write(ctx context.Context, batch []sink.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = s.buf[:0]
	for _, m := range batch {
		s.buf = append(s.buf, m.Value...)
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("stdout sink %s: %w", s.name, err)
	}
	return nil
}

// Close does nothing: standard output stays open.
func (s *Sink) Close() error { return nil }

// Config holds a stdout sink's own [[sink]] keys: it has none.
type Config struct{}

// New returns a stdout sink's keys.
func New() sink.Type { return new(Config) }

// Defaults implements config.SinkSettings.
func (*Config) Defaults(*config.Sink, []string) {}

// Validate implements config.SinkSettings.
func (*Config) Validate(*config.Sink, []string, func(msg, key string) error) error { return nil }

// Open implements sink.Type.
func (*Config) Open(s *config.Sink, env sink.Env) (sink.Sink, error) {
	return NewSink(s.Name, nil, env.Format), nil
}

// Check implements sink.Type.
func (*Config) Check(_ context.Context, s *config.Sink, _ sink.Env, rep sink.Reporter) {
	rep.OK("stdout (%s)", s.Format)
}
