package null

import (
	"context"
	"testing"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/fsaudit/fsaudit/sink/sinktest"
)

// The sink encodes each record as a line of its format, acknowledges the
// batch, and counts what it was given.
func TestNullSink(t *testing.T) {
	s, err := New().Open(&config.Sink{Name: "n"}, sink.Env{Format: record.JSON{}})
	if err != nil {
		t.Fatal(err)
	}
	var buf []byte
	var batch []sink.Message
	var want uint64
	for range 3 {
		var m sink.Message
		buf, m = s.Encode(buf, sinktest.Record())
		if len(m.Value) == 0 || m.Value[len(m.Value)-1] != '\n' {
			t.Fatalf("encoded %q, want a line", m.Value)
		}
		want += uint64(len(m.Value))
		batch = append(batch, m)
	}
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if got := s.(*Sink).Bytes(); got != want {
		t.Errorf("counted %d bytes, want %d", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkNullSink is the cost of encoding alone, the floor under every
// sink's figure.
func BenchmarkNullSink(b *testing.B) {
	for _, f := range sinktest.Formats(b) {
		b.Run(f.Name(), func(b *testing.B) {
			s, _ := New().Open(&config.Sink{Name: "bench"}, sink.Env{Format: f})
			sinktest.Bench(b, s)
		})
	}
}
