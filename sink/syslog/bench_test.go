package syslog

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/fsaudit/fsaudit/sink/sinktest"
)

// BenchmarkSyslogSink sends to the receivers named by
// FSAUDIT_BENCH_SYSLOG_UDP and FSAUDIT_BENCH_SYSLOG_TCP (HOST:PORT; bench/sinks
// starts rsyslogd for them); without them it is skipped.
func BenchmarkSyslogSink(b *testing.B) {
	for _, network := range []string{"udp", "tcp"} {
		addr := os.Getenv("FSAUDIT_BENCH_SYSLOG_" + strings.ToUpper(network))
		for _, f := range sinktest.Formats(b) {
			b.Run(network+"/"+f.Name(), func(b *testing.B) {
				if addr == "" {
					b.Skipf("FSAUDIT_BENCH_SYSLOG_%s is not set (bench/sinks sets it)", strings.ToUpper(network))
				}
				if _, _, err := net.SplitHostPort(addr); err != nil {
					b.Fatal(err)
				}
				sinktest.Bench(b, NewSink(Options{Name: "bench", Network: network, Address: addr, Protocol: "rfc5424", Facility: 16, Severity: 5, MaxMessageBytes: 65536, Format: f}))
			})
		}
	}
}
