package file

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/fsaudit/fsaudit/sink/sinktest"
	"github.com/rs/zerolog"
)

func BenchmarkFileSink(b *testing.B) {
	for _, f := range sinktest.Formats(b) {
		b.Run(f.Name(), func(b *testing.B) {
			s, err := OpenSink(Options{Name: "bench", Path: filepath.Join(b.TempDir(), "audit.jsonl"), MaxBytes: 1 << 30, Fsync: time.Second, Format: f})
			if err != nil {
				b.Fatal(err)
			}
			sinktest.Bench(b, s)
		})
	}
}

// BenchmarkChainedRoute measures records per second through a route to a
// file sink (json), without a chain, with a plain and an HMAC chain, and
// sealed (a seal every 100 ms, far more often than anyone would: the cost
// of sealing is per seal, the per-record cost is the chain's).
func BenchmarkChainedRoute(b *testing.B) {
	for _, tc := range []struct {
		name     string
		chained  bool
		key      []byte
		interval time.Duration // 0: not sealed
	}{
		{"none", false, nil, 0},
		{"sha256", true, nil, 0},
		{"hmac", true, []byte("0123456789abcdef0123456789abcdef"), 0},
		{"sealed", true, nil, 100 * time.Millisecond},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			fs, err := OpenSink(Options{Name: "bench", Path: filepath.Join(dir, "audit.jsonl"), Fsync: time.Second, Format: record.JSON{}, Marked: tc.chained})
			if err != nil {
				b.Fatal(err)
			}
			rt := sink.NewRouter(zerolog.Nop())
			o := sink.RouteOptions{QueueLen: b.N + 1024}
			if tc.chained {
				o.Chain = chain.New(tc.key, chain.State{})
				s := sink.Sealing{Instance: "bench", Interval: tc.interval}
				if tc.interval > 0 {
					path := filepath.Join(dir, "seal.key")
					if _, err := chain.CreateSealKey(path); err != nil {
						b.Fatal(err)
					}
					f, err := os.OpenFile(path, os.O_RDWR, 0)
					if err != nil {
						b.Fatal(err)
					}
					if s.Key, err = chain.OpenSealKey(f, path); err != nil {
						b.Fatal(err)
					}
				}
				rt.SetSealing(s)
			}
			rt.Add(fs, o)
			r := sinktest.Record()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			rt.Start(context.Background())
			for i := 0; i < b.N; i++ {
				rt.Publish(r)
			}
			rt.Close()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
			if d := rt.Routes()[0].Stats.Dropped.Load(); d > 0 {
				b.Fatalf("%d records dropped", d)
			}
		})
	}
}
