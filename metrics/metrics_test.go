package metrics

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/pipeline"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/fsaudit/fsaudit/sink/stdout"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

type kernel struct {
	lifecycle, full uint64
	err             error
}

func (k kernel) LifecycleLost() (uint64, error) { return k.lifecycle, k.err }
func (k kernel) CoalesceFull() (uint64, error)  { return k.full, k.err }

// scrape reads the exposition text into "name{labels}" -> value.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetricsReadTheCounters(t *testing.T) {
	var st pipeline.Stats
	st.Events.Store(120)
	st.Filtered.Store(7)
	st.Coalesced.Store(900)
	st.Records.Store(113)
	st.Lost.Store(3)
	st.Unnamed.Store(2)
	st.BadSamples.Store(1)
	st.Failed.Store(4)

	var out bytes.Buffer
	rt := sink.NewRouter(zerolog.Nop())
	rt.Add(stdout.NewSink("out", &out, record.JSON{}), sink.RouteOptions{BatchTimeout: time.Millisecond,
		Filter: sink.Filter{Actions: []string{record.ActionWrite}}})
	rt.Start(context.Background())
	const n = 25
	for i := 0; i < n; i++ {
		r := &record.Record{Time: time.Now().Add(-2 * time.Second), Action: record.ActionWrite, Sequence: uint64(i + 1)}
		rt.Publish(r)
	}
	rt.Publish(&record.Record{Time: time.Now(), Action: record.ActionDelete})
	rt.Close()

	healthy := error(nil)
	h := Handler(Sources{Pipeline: &st, Router: rt, Kernel: kernel{lifecycle: 5, full: 6},
		Info: Info{Version: "v1", Commit: "abc", BPFObject: "f00", BPFVariant: "bpf_loop", Hook: "auto",
			Points: map[string]string{"write": "tracepoint", "mmap": ""}}}, func() error { return healthy })
	got := scrape(t, h)
	want := map[string]float64{
		`fsaudit_info{bpf_object="f00",bpf_variant="bpf_loop",commit="abc",hook="auto",version="v1"}`: 1,
		`fsaudit_hook_point_info{mode="tracepoint",point="write"}`:                                    1,
		`fsaudit_hook_point_info{mode="none",point="mmap"}`:                                           1,
		`fsaudit_events_total`:                                               120,
		`fsaudit_events_filtered_total`:                                      7,
		`fsaudit_writes_coalesced_total`:                                     900,
		`fsaudit_records_total`:                                              113,
		`fsaudit_changes_failed_total`:                                       4,
		`fsaudit_events_lost_total{reason="ring_buffer_full"}`:               3,
		`fsaudit_events_lost_total{reason="template_lost"}`:                  2,
		`fsaudit_events_lost_total{reason="undecodable"}`:                    1,
		`fsaudit_lifecycle_events_lost_total`:                                5,
		`fsaudit_coalesce_map_full_total`:                                    6,
		`fsaudit_kernel_counter_errors_total`:                                0,
		`fsaudit_sink_records_sent_total{sink="out"}`:                        n,
		`fsaudit_sink_records_filtered_total{sink="out"}`:                    1,
		`fsaudit_sink_records_failed_total{sink="out"}`:                      0,
		`fsaudit_sink_records_dropped_total{sink="out"}`:                     0,
		`fsaudit_sink_queue_depth{sink="out"}`:                               0,
		`fsaudit_sink_delivery_latency_seconds_count{sink="out"}`:            n,
		`fsaudit_sink_delivery_latency_seconds_bucket{sink="out",le="+Inf"}`: n,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if lines := strings.Count(out.String(), "\n"); lines != n {
		t.Errorf("the sink wrote %d lines, want %d", lines, n)
	}
	// Every record waited about 2 s: none is in a bucket below 1 s, all
	// are in those of 5 s and up; the sum is about 2 s a record.
	var buckets int
	for k, v := range got {
		if !strings.HasPrefix(k, `fsaudit_sink_delivery_latency_seconds_bucket{sink="out",le="`) {
			continue
		}
		buckets++
		le, err := strconv.ParseFloat(strings.TrimSuffix(k[strings.Index(k, `le="`)+4:], `"}`), 64)
		if err != nil {
			continue // +Inf
		}
		switch {
		case le < 1 && v != 0:
			t.Errorf("bucket le=%v holds %v records that waited 2 s", le, v)
		case le >= 5 && v != n:
			t.Errorf("bucket le=%v holds %v, want %d", le, v, n)
		}
	}
	if buckets != 22 {
		t.Errorf("%d latency buckets, want 22 (21 bounds and +Inf)", buckets)
	}
	if s := got[`fsaudit_sink_delivery_latency_seconds_sum{sink="out"}`]; s < 1.5*n || s > 3*n {
		t.Errorf("latency sum %v, want about %d", s, 2*n)
	}
	if _, ok := got["process_resident_memory_bytes"]; !ok {
		t.Error("no process metrics")
	}

	// A kernel counter that cannot be read is left out and counted.
	h = Handler(Sources{Pipeline: &st, Kernel: kernel{err: errors.New("gone")}}, func() error { return nil })
	got = scrape(t, h)
	if _, ok := got["fsaudit_lifecycle_events_lost_total"]; ok {
		t.Error("an unreadable counter was reported")
	}
	if got["fsaudit_kernel_counter_errors_total"] != 2 {
		t.Errorf("kernel counter errors %v, want 2", got["fsaudit_kernel_counter_errors_total"])
	}
}

func TestHealthz(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		body string
	}{
		{nil, 200, "ok\n"},
		{errors.New("stopping on terminated"), 503, "unhealthy: stopping on terminated\n"},
	} {
		h := Handler(Sources{}, func() error { return tc.err })
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		if rec.Code != tc.code || rec.Body.String() != tc.body {
			t.Errorf("healthz with %v: %d %q, want %d %q", tc.err, rec.Code, rec.Body, tc.code, tc.body)
		}
	}
}

func TestServer(t *testing.T) {
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The address is taken: a second agent fails at start, naming the key.
	if _, err := Listen(s.Addr().String()); err == nil || !strings.Contains(err.Error(), "metrics_listen") {
		t.Errorf("second listen: %v", err)
	}
	s.Serve(Handler(Sources{}, func() error { return nil }), func(err error) { t.Error(err) })
	resp, err := http.Get("http://" + s.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("healthz: %d %q", resp.StatusCode, body)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if _, err := http.Get("http://" + s.Addr().String() + "/healthz"); err == nil {
		t.Error("served after Close")
	}
}

// TestDocumentedMetricsExist: every fsaudit metric the README and the
// Grafana dashboard name is one the collector serves.
func TestDocumentedMetricsExist(t *testing.T) {
	ch := make(chan *prometheus.Desc, 64)
	(&collector{}).Describe(ch)
	close(ch)
	served := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		m := fq.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		served[m[1]] = true
	}
	served["fsaudit_sink_delivery_latency_seconds_bucket"] = true
	served["fsaudit_sink_delivery_latency_seconds_sum"] = true
	served["fsaudit_sink_delivery_latency_seconds_count"] = true
	for _, doc := range []string{"../README.md", "../deploy/grafana/fsaudit.json"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		names := regexp.MustCompile(`fsaudit_[a-z_]+`).FindAllString(string(b), -1)
		if len(names) < 10 {
			t.Errorf("%s names only %d metrics", doc, len(names))
		}
		for _, n := range names {
			if !served[n] {
				t.Errorf("%s names %s, which the agent does not serve", doc, n)
			}
		}
	}
}

// BenchmarkScrape renders /metrics for three sinks: the whole cost of
// serving metrics, paid per scrape, none of it per event.
func BenchmarkScrape(b *testing.B) {
	var st pipeline.Stats
	rt := sink.NewRouter(zerolog.Nop())
	for _, name := range []string{"a", "b", "c"} {
		rt.Add(stdout.NewSink(name, io.Discard, record.JSON{}), sink.RouteOptions{})
	}
	h := Handler(Sources{Pipeline: &st, Router: rt, Kernel: kernel{},
		Info: Info{Points: map[string]string{"write": "fentry", "syscalls": "tracepoint"}}}, func() error { return nil })
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// TestConcurrentScrapes: two scrapers at once (Prometheus and a person
// with curl) read the same collector.
func TestConcurrentScrapes(t *testing.T) {
	var st pipeline.Stats
	h := Handler(Sources{Pipeline: &st, Kernel: kernel{err: errors.New("gone")}}, func() error { return nil })
	done := make(chan struct{})
	for i := 0; i < 4; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < 20; j++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
				st.Events.Add(1)
			}
		}()
	}
	for i := 0; i < 4; i++ {
		<-done
	}
	if got := scrape(t, h)["fsaudit_kernel_counter_errors_total"]; got != 2*81 {
		t.Errorf("kernel counter errors %v, want %d", got, 2*81)
	}
}
