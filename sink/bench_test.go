package sink_test

import (
	"testing"

	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink/sinktest"
)

func BenchmarkFormat(b *testing.B) {
	r := sinktest.Record()
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
