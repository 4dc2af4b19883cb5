// Package metrics owns what the agent tells Prometheus: the counters of
// the kernel side, the pipeline and each sink, read at the moment of a
// scrape (nothing on the path of an event is added for it), and the HTTP
// server of /metrics and /healthz.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/fsaudit/fsaudit/pipeline"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"
)

// Kernel is the part of the capture whose counters live in BPF maps.
type Kernel interface {
	// LifecycleLost counts exec and exit events the ring buffer had no room for.
	LifecycleLost() (uint64, error)
	// CoalesceFull counts writes reported alone because the coalescing map was full.
	CoalesceFull() (uint64, error)
}

// Info names what runs: it becomes the labels of fsaudit_info and
// fsaudit_hook_point_info.
type Info struct {
	Version    string
	Commit     string
	BPFObject  string            // the hash of the embedded BPF objects
	BPFVariant string            // which object loaded: "bpf_loop" or "compat"
	Hook       string            // the configured hook setting
	Points     map[string]string // hook point -> mode attached ("" for none)
}

// Sources are what the collector reads at each scrape.
type Sources struct {
	Pipeline *pipeline.Stats
	Router   *sink.Router
	Kernel   Kernel // nil: no kernel counters
	Info     Info
}

// latencyEvery keeps one bucket bound in this many of the sink
// histogram's: 21 bounds from 0.16 ms to 100 s, each about twice the last.
const latencyEvery = 3

var (
	descInfo = prometheus.NewDesc("fsaudit_info",
		"The agent's version, commit, BPF object and hook setting; always 1.",
		[]string{"version", "commit", "bpf_object", "bpf_variant", "hook"}, nil)
	descPoint = prometheus.NewDesc("fsaudit_hook_point_info",
		"The mode each kernel hook point attached in (mode \"none\": not attached); always 1.",
		[]string{"point", "mode"}, nil)
	descEvents = prometheus.NewDesc("fsaudit_events_total",
		"Events read from the kernel that stand for file changes (a coalesced event counts once).", nil, nil)
	descFiltered = prometheus.NewDesc("fsaudit_events_filtered_total",
		"Events the agent's path filter (include_paths, exclude_paths) left out.", nil, nil)
	descCoalesced = prometheus.NewDesc("fsaudit_writes_coalesced_total",
		"Write calls merged by the kernel into records of several writes.", nil, nil)
	descRecords = prometheus.NewDesc("fsaudit_records_total",
		"Records numbered and handed to the sinks, lost records included: the last event.sequence.", nil, nil)
	descLost = prometheus.NewDesc("fsaudit_events_lost_total",
		"File-change events that could not become records, by reason; each loss is also reported in a lost record.",
		[]string{"reason"}, nil)
	descFailed = prometheus.NewDesc("fsaudit_changes_failed_total",
		"Changes seen before they happened that the kernel then refused: no record, nothing lost.", nil, nil)
	descLifecycleLost = prometheus.NewDesc("fsaudit_lifecycle_events_lost_total",
		"Exec and exit events the ring buffer had no room for: processes named from /proc instead.", nil, nil)
	descCoalesceFull = prometheus.NewDesc("fsaudit_coalesce_map_full_total",
		"Writes reported one by one because the kernel's coalescing map was full.", nil, nil)
	descKernelErrors = prometheus.NewDesc("fsaudit_kernel_counter_errors_total",
		"Scrapes in which a kernel counter could not be read.", nil, nil)

	descSent = prometheus.NewDesc("fsaudit_sink_records_sent_total",
		"Records the sink's destination acknowledged.", []string{"sink"}, nil)
	descSinkFailed = prometheus.NewDesc("fsaudit_sink_records_failed_total",
		"Records given up for this sink (no spool, and retries ran out; or the agent stopped first).", []string{"sink"}, nil)
	descDropped = prometheus.NewDesc("fsaudit_sink_records_dropped_total",
		"Records lost to this sink because its queue or its spool was full (told downstream by a lost record).", []string{"sink"}, nil)
	descSinkFiltered = prometheus.NewDesc("fsaudit_sink_records_filtered_total",
		"Records the sink's own filter left out.", []string{"sink"}, nil)
	descRetries = prometheus.NewDesc("fsaudit_sink_retries_total",
		"Batch writes that failed and were tried again.", []string{"sink"}, nil)
	descDepth = prometheus.NewDesc("fsaudit_sink_queue_depth",
		"Records waiting in memory for the sink.", []string{"sink"}, nil)
	descSpoolBytes = prometheus.NewDesc("fsaudit_sink_spool_bytes",
		"Bytes of the sink's spool on disk.", []string{"sink"}, nil)
	descSpoolRecords = prometheus.NewDesc("fsaudit_sink_spool_records",
		"Records waiting in the sink's spool.", []string{"sink"}, nil)
	descLatency = prometheus.NewDesc("fsaudit_sink_delivery_latency_seconds",
		"Per record the sink acknowledged, the time from the event to the acknowledgement.", []string{"sink"}, nil)
)

// collector reads the sources at each scrape.
type collector struct {
	src          Sources
	kernelErrors atomic.Uint64 // two scrapes may collect at once
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descPoint, descEvents, descFiltered, descCoalesced, descRecords,
		descLost, descFailed, descLifecycleLost, descCoalesceFull, descKernelErrors,
		descSent, descSinkFailed, descDropped, descSinkFiltered, descRetries, descDepth, descSpoolBytes,
		descSpoolRecords, descLatency} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	in := c.src.Info
	gauge(descInfo, 1, in.Version, in.Commit, in.BPFObject, in.BPFVariant, in.Hook)
	points := make([]string, 0, len(in.Points))
	for p := range in.Points {
		points = append(points, p)
	}
	sort.Strings(points)
	for _, p := range points {
		mode := in.Points[p]
		if mode == "" {
			mode = "none"
		}
		gauge(descPoint, 1, p, mode)
	}

	if st := c.src.Pipeline; st != nil {
		counter(descEvents, st.Events.Load())
		counter(descFiltered, st.Filtered.Load())
		counter(descCoalesced, st.Coalesced.Load())
		counter(descRecords, st.Records.Load())
		counter(descFailed, st.Failed.Load())
		counter(descLost, st.Lost.Load(), "ring_buffer_full")
		counter(descLost, st.Unnamed.Load(), "template_lost")
		counter(descLost, st.BadSamples.Load(), "undecodable")
	}
	if k := c.src.Kernel; k != nil {
		if n, err := k.LifecycleLost(); err == nil {
			counter(descLifecycleLost, n)
		} else {
			c.kernelErrors.Add(1)
		}
		if n, err := k.CoalesceFull(); err == nil {
			counter(descCoalesceFull, n)
		} else {
			c.kernelErrors.Add(1)
		}
		counter(descKernelErrors, c.kernelErrors.Load())
	}
	if c.src.Router == nil {
		return
	}
	for _, r := range c.src.Router.Routes() {
		name := r.Sink.Name()
		counter(descSent, r.Stats.Sent.Load(), name)
		counter(descSinkFailed, r.Stats.Failed.Load(), name)
		counter(descDropped, r.Stats.Dropped.Load(), name)
		counter(descSinkFiltered, r.Stats.Filtered.Load(), name)
		counter(descRetries, r.Stats.Retries.Load(), name)
		gauge(descDepth, float64(r.Depth), name)
		if r.Spool != nil {
			gauge(descSpoolBytes, float64(r.Spool.Bytes()), name)
			gauge(descSpoolRecords, float64(r.Spool.Len()), name)
		}
		ch <- latency(&r.Stats.Latency, name)
	}
}

// latency turns a sink's histogram into a Prometheus one on every
// latencyEvery-th of its bounds; the sum is estimated from bucket bounds
// (the sink keeps counts, not a sum).
func latency(h *sink.Histogram, name string) prometheus.Metric {
	bounds, counts := h.Buckets()
	buckets := make(map[float64]uint64, len(bounds)/latencyEvery+1)
	var cum, total uint64
	var sum float64
	prevBound := 0.0
	for i, n := range counts {
		cum += n
		total += n
		up := bounds[i].Seconds()
		if i == len(counts)-1 {
			// The last bucket has no upper bound: count its durations at
			// the bound below it.
			up = bounds[i-1].Seconds()
		}
		// Each duration counted at its bucket's midpoint.
		sum += float64(n) * (prevBound + up) / 2
		prevBound = up
		if i%latencyEvery == latencyEvery-1 && i < len(counts)-1 {
			buckets[bounds[i].Seconds()] = cum
		}
	}
	return prometheus.MustNewConstHistogram(descLatency, total, sum, buckets, name)
}

// Health tells whether the agent captures; a non-nil error says why not.
type Health func() error

// Handler serves /metrics from src and /healthz from health, with the Go
// runtime's and the process's own metrics.
func Handler(src Sources, health Health) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{src: src},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := health(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "unhealthy: %s\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Server serves the handler on a listener opened at start, so a bad or
// taken address fails the agent's start, not a later scrape.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// The server's bounds: whoever can reach the port must not be able to
// take the agent's memory or file descriptors. At most MaxConns
// connections are open at once (more wait in the kernel's backlog, costing
// the agent nothing); a connection idle for IdleTimeout, or whose request
// takes longer than ReadTimeout to arrive, is closed.
const (
	MaxConns     = 32
	IdleTimeout  = 30 * time.Second
	ReadTimeout  = 10 * time.Second
	WriteTimeout = 30 * time.Second
)

// Listen opens addr ("host:port") for the metrics server.
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen %s: %w", addr, err)
	}
	return &Server{ln: netutil.LimitListener(ln, MaxConns)}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve answers requests with h until Close; it returns at once, serving in
// its own goroutine, which ends with Close. A failure of the listener is
// passed to onError.
func (s *Server) Serve(h http.Handler, onError func(error)) {
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: ReadTimeout, ReadTimeout: ReadTimeout,
		WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout, MaxHeaderBytes: 16 << 10}
	go func() {
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && onError != nil {
			onError(err)
		}
	}()
}

// Close stops the server, letting requests under way finish for up to a
// second; a server never served just closes its listener.
func (s *Server) Close() error {
	if s.srv == nil {
		return s.ln.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
