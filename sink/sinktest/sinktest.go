// Package sinktest holds what the sinks' tests and benchmarks share: a
// typical record, and a loop that drives a sink as its router does.
package sinktest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
)

// Record is a typical record: a container write with a path of a
// few components and a short command line.
func Record() *record.Record {
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

// Bench encodes and writes records in batches of 512 through s, as the
// router does, and reports records per second and bytes per second.
func Bench(b *testing.B, s sink.Sink) {
	r := Record()
	const batchSize = 512
	var buf []byte
	batch := make([]sink.Message, 0, batchSize)
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
		var m sink.Message
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

// Formats are the record formats, each built.
func Formats(b *testing.B) []record.Format {
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
