package kafka

import (
	"os"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/sink/sinktest"
)

// BenchmarkKafkaSink produces to the broker FSAUDIT_BENCH_KAFKA (HOST:PORT,
// plaintext) with acks=all, creating topics as it goes; without it it is
// skipped.
func BenchmarkKafkaSink(b *testing.B) {
	addr := os.Getenv("FSAUDIT_BENCH_KAFKA")
	for _, compression := range []string{"none", "lz4", "zstd"} {
		for _, f := range sinktest.Formats(b) {
			b.Run(compression+"/"+f.Name(), func(b *testing.B) {
				if addr == "" {
					b.Skip("FSAUDIT_BENCH_KAFKA is not set (bench/sinks sets it)")
				}
				s, err := NewSink(Options{
					Name: "bench", Brokers: []string{addr}, Topic: "bench-" + compression + "-" + f.Name() + "-" + time.Now().Format("150405.000000"),
					Key: "host", Acks: "all", Compression: compression, CreateTopic: true, Partitions: 6, Replication: 1,
					HostName: "node-17", Format: f,
				})
				if err != nil {
					b.Fatal(err)
				}
				sinktest.Bench(b, s)
			})
		}
	}
}
