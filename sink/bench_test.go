package sink

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/record"
	"github.com/rs/zerolog"
)

// benchRecord is a typical record: a container write with a path of a
// few components and a short command line.
func benchRecord() *record.Record {
	return &record.Record{
		Time: time.Now(), Action: "write", ID: "2ec94061-93c6-d5ed-0000-00000000000b", Sequence: 123456,
		File:         record.File{Path: "/var/lib/app/data/orders-2026-11.log", Name: "orders-2026-11.log", Directory: "/var/lib/app/data", Inode: 9993277, DevMajor: 254, Mode: 0o100640},
		Process:      record.Process{PID: 12937, TID: 12940, PPID: 1, Name: "java", Executable: "/usr/lib/jvm/bin/java", Args: []string{"java", "-jar", "/app/orders.jar"}},
		User:         record.User{ID: 1000, Name: "app", EffectiveID: 1000, EffectiveName: "app", GroupID: 1000, GroupName: "app"},
		Container:    record.Container{ID: strings.Repeat("ab", 32), Runtime: "containerd", Name: "orders", ImageName: "registry.example/shop/orders:2.4"},
		Orchestrator: record.Orchestrator{Namespace: "shop", ResourceName: "orders-7d9f", ResourceID: "11111111-2222-3333-4444-555555555555"},
		Host:         record.Host{Name: "node-17", BootID: "56b24aa4-ce7a-4b2a-b8c7-0922c3d5072c"},
		FSAudit:      record.FSAudit{Hook: "fentry", Bytes: 512, Writes: 1, Offset: 1 << 20},
	}
}

func BenchmarkFormat(b *testing.B) {
	r := benchRecord()
	for _, name := range record.Formats {
		f, _ := record.NewFormat(name, record.Product{Name: "fsaudit", Version: "1.0.0"})
		b.Run(name, func(b *testing.B) {
			buf := f.Append(nil, r)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = f.Append(buf[:0], r)
			}
		})
	}
}

// benchSink encodes and writes records in batches of 512 through s, as the
// router does, and reports records per second and bytes per second.
func benchSink(b *testing.B, s Sink) {
	r := benchRecord()
	const batchSize = 512
	var buf []byte
	batch := make([]Message, 0, batchSize)
	ctx := context.Background()
	var bytes int64
	flush := func() {
		if err := s.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch, buf = batch[:0], buf[:0]
	}
	b.ReportAllocs()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		r.Sequence = uint64(i)
		var m Message
		buf, m = s.Encode(buf, r)
		bytes += int64(len(m.Value))
		batch = append(batch, m)
		if len(batch) == batchSize {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/secs, "records/s")
	b.ReportMetric(float64(bytes)/secs/(1<<20), "MiB/s")
}

func formats(b *testing.B) []record.Format {
	var out []record.Format
	for _, name := range record.Formats {
		f, err := record.NewFormat(name, record.Product{Name: "fsaudit", Version: "1.0.0"})
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func BenchmarkFileSink(b *testing.B) {
	for _, f := range formats(b) {
		b.Run(f.Name(), func(b *testing.B) {
			s, err := OpenFile(FileOptions{Name: "bench", Path: filepath.Join(b.TempDir(), "audit.jsonl"), MaxBytes: 1 << 30, Fsync: time.Second, Format: f})
			if err != nil {
				b.Fatal(err)
			}
			benchSink(b, s)
		})
	}
}

// BenchmarkSyslogSink sends to the receivers named by
// FSAUDIT_BENCH_SYSLOG_UDP and FSAUDIT_BENCH_SYSLOG_TCP (HOST:PORT; bench/sinks
// starts rsyslogd for them); without them it is skipped.
func BenchmarkSyslogSink(b *testing.B) {
	for _, network := range []string{"udp", "tcp"} {
		addr := os.Getenv("FSAUDIT_BENCH_SYSLOG_" + strings.ToUpper(network))
		for _, f := range formats(b) {
			b.Run(network+"/"+f.Name(), func(b *testing.B) {
				if addr == "" {
					b.Skipf("FSAUDIT_BENCH_SYSLOG_%s is not set (bench/sinks sets it)", strings.ToUpper(network))
				}
				if _, _, err := net.SplitHostPort(addr); err != nil {
					b.Fatal(err)
				}
				benchSink(b, NewSyslog(SyslogOptions{Name: "bench", Network: network, Address: addr, Protocol: "rfc5424", Facility: 16, Severity: 5, MaxMessageBytes: 65536, Format: f}))
			})
		}
	}
}

// BenchmarkKafkaSink produces to the broker FSAUDIT_BENCH_KAFKA (HOST:PORT,
// plaintext) with acks=all, creating topics as it goes; without it it is
// skipped.
func BenchmarkKafkaSink(b *testing.B) {
	addr := os.Getenv("FSAUDIT_BENCH_KAFKA")
	for _, compression := range []string{"none", "lz4", "zstd"} {
		for _, f := range formats(b) {
			b.Run(compression+"/"+f.Name(), func(b *testing.B) {
				if addr == "" {
					b.Skip("FSAUDIT_BENCH_KAFKA is not set (bench/sinks sets it)")
				}
				s, err := NewKafka(KafkaOptions{
					Name: "bench", Brokers: []string{addr}, Topic: "bench-" + compression + "-" + f.Name() + "-" + time.Now().Format("150405.000000"),
					Key: "host", Acks: "all", Compression: compression, CreateTopic: true, Partitions: 6, Replication: 1,
					HostName: "node-17", Format: f,
				})
				if err != nil {
					b.Fatal(err)
				}
				benchSink(b, s)
			})
		}
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
			fs, err := OpenFile(FileOptions{Name: "bench", Path: filepath.Join(dir, "audit.jsonl"), Fsync: time.Second, Format: record.JSON{}, Marked: tc.chained})
			if err != nil {
				b.Fatal(err)
			}
			rt := NewRouter(zerolog.Nop())
			o := RouteOptions{QueueLen: b.N + 1024}
			if tc.chained {
				o.Chain = chain.New(tc.key, chain.State{})
				s := Sealing{Instance: "bench", Interval: tc.interval}
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
			r := benchRecord()
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
