package replay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink/file"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
)

// BenchmarkReplay replays b.N records from a 6-partition topic on the
// broker FSAUDIT_BENCH_KAFKA (plaintext HOST:PORT; bench/sinks sets it)
// into a file sink. The topic is filled first, untimed. Run it on one
// core with a fixed count: -cpu 1 -benchtime 1000000x.
func BenchmarkReplay(b *testing.B) {
	addr := os.Getenv("FSAUDIT_BENCH_KAFKA")
	if addr == "" {
		b.Skip("FSAUDIT_BENCH_KAFKA is not set (bench/sinks sets it)")
	}
	topic := fmt.Sprintf("bench-replay-%d", time.Now().UnixNano())
	w := &kafka.Writer{
		Addr: kafka.TCP(addr), Topic: topic, Balancer: kafka.Murmur2Balancer{}, Compression: kafka.Lz4,
		BatchSize: 5000, BatchBytes: 8 << 20, BatchTimeout: 10 * time.Millisecond, RequiredAcks: kafka.RequireAll,
	}
	client := &kafka.Client{Addr: kafka.TCP(addr), Transport: &kafka.Transport{}}
	if _, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 6, ReplicationFactor: 1}}}); err != nil {
		b.Fatal(err)
	}
	r := rec()
	msgs := make([]kafka.Message, 0, 20000)
	for i := 0; i < b.N; i++ {
		r.Sequence, r.ID = uint64(i+1), fmt.Sprintf("bench-%d", i)
		r.File.Path = fmt.Sprintf("/srv/app/%d.log", i%1000)
		msgs = append(msgs, kafka.Message{Key: []byte(r.File.Path), Value: record.AppendJSON(nil, r), Time: r.Time})
		if len(msgs) == cap(msgs) || i == b.N-1 {
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	w.Close()
	out, err := file.OpenSink(file.Options{Name: "out", Path: filepath.Join(b.TempDir(), "replayed.jsonl"), MaxBytes: 4 << 30, Fsync: time.Second, Format: record.JSON{}})
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	b.ResetTimer()
	start := time.Now()
	sum, err := Run(context.Background(), Options{
		Source: Source{Brokers: []string{addr}, Topic: topic}, Targets: []Target{{Sink: out}},
		Log: zerolog.Nop(),
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if sum.Delivered != uint64(b.N) {
		b.Fatalf("delivered %d of %d", sum.Delivered, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
}
