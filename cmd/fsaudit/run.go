package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/enrich"
	"github.com/fsaudit/fsaudit/filter"
	"github.com/fsaudit/fsaudit/metrics"
	"github.com/fsaudit/fsaudit/pipeline"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// drainTimeout bounds how long a stop waits for records to reach the sinks.
const drainTimeout = 30 * time.Second

func cmdRun(args []string, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "fsaudit: %s\n", oneLine(err))
		return 1
	}
	path, err := configFlag("run", args, stderr, nil)
	if err != nil {
		return fail(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return fail(err)
	}
	log := newLogger(cfg.Agent.LogLevel, stderr)
	if err := runAgent(path, cfg, log); err != nil {
		log.Error().Err(err).Msg("stopped")
		return fail(err)
	}
	return 0
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func newLogger(level string, w io.Writer) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

func pathFilter(cfg *config.Config) filter.Prefixes {
	return filter.Prefixes{Include: cfg.Filter.IncludePaths, Exclude: cfg.Filter.ExcludePaths}
}

// containerMetadata builds the runtime lookups of [containers].
func containerMetadata(cfg *config.Config, log zerolog.Logger) *enrich.Metadata {
	c := cfg.Containers
	var sources []enrich.MetaSource
	for _, p := range c.CRISockets {
		sources = append(sources, &enrich.CRISocket{Path: p})
	}
	if c.DockerRoot != "" {
		sources = append(sources, enrich.DockerFiles{Root: c.DockerRoot})
	}
	if c.StorageRoot != "" {
		sources = append(sources, enrich.StorageFiles{Root: c.StorageRoot})
	}
	var found []string
	for _, p := range append(append([]string{}, c.CRISockets...), c.DockerRoot, c.StorageRoot) {
		if _, err := os.Stat(p); p != "" && err == nil {
			found = append(found, p)
		}
	}
	log.Info().Strs("present", found).Msg("container metadata sources")
	md := enrich.NewMetadata(sources...)
	md.Timeout = c.LookupTimeout.Duration
	md.OnError = func(source string, err error) {
		log.Warn().Err(err).Str("source", source).Dur("retry_in", md.Backoff).Msg("container runtime metadata unavailable: names, images and pods left out")
	}
	return md
}

func captureOptions(cfg *config.Config) (bpf.Options, error) {
	o := bpf.Options{
		Hook:               cfg.Agent.Hook,
		RegularOnly:        cfg.Filter.RegularFilesOnly,
		ExcludeComms:       cfg.Filter.ExcludeComms,
		ExcludeExecutables: cfg.Filter.ExcludeExecutables,
		ExcludeUIDs:        make([]uint32, 0, len(cfg.Filter.ExcludeUIDs)),
		Actions:            cfg.Filter.Actions,
		RingBufferBytes:    uint32(cfg.Agent.RingBufferKB) << 10,
		MaxArgsBytes:       cfg.Agent.MaxArgsBytes,
		CoalesceWindow:     cfg.Coalesce.Window.Duration,
		// For tests of the pre-5.17 object on newer kernels.
		Object: os.Getenv("FSAUDIT_BPF_OBJECT"),
	}
	for _, uid := range cfg.Filter.ExcludeUIDs {
		o.ExcludeUIDs = append(o.ExcludeUIDs, uint32(uid))
	}
	if len(cfg.Filter.IncludeCgroups) > 0 {
		cg, err := enrich.NewCgroups("/proc/self/mountinfo")
		if err != nil {
			return o, err
		}
		if cg.Root() == "" {
			return o, fmt.Errorf("include_cgroups: no cgroup v2 file system is mounted")
		}
		for _, p := range cfg.Filter.IncludeCgroups {
			o.Cgroups = append(o.Cgroups, filepath.Join(cg.Root(), p))
		}
	}
	return o, nil
}

// runAgent captures until SIGINT or SIGTERM. Start-up errors are returned
// before anything is attached or after it is all released again.
func runAgent(path string, cfg *config.Config, log zerolog.Logger) error {
	log.Info().Str("config", cfg.Source).Msg("starting")
	// Every key and credential file the config names, used by this run or
	// not, is checked before anything is opened; check does the same.
	if err := checkPrivateFiles(cfg); err != nil {
		return err
	}
	for i := range cfg.Sinks {
		for _, w := range sinkWarnings(&cfg.Sinks[i]) {
			log.Warn().Str("sink", cfg.Sinks[i].Name).Msg(w)
		}
	}
	if err := canDropCapabilities(); err != nil {
		return err
	}
	if prof := os.Getenv("FSAUDIT_CPUPROFILE"); prof != "" {
		// For measuring: a CPU profile of the whole run.
		stop, err := startCPUProfile(prof)
		if err != nil {
			return err
		}
		defer stop()
	}
	// The metrics address is taken first: a taken port fails the start
	// before anything is attached.
	var ms *metrics.Server
	if cfg.Agent.MetricsListen != "" {
		var err error
		if ms, err = metrics.Listen(cfg.Agent.MetricsListen); err != nil {
			return err
		}
		defer ms.Close()
	}
	// The pipeline numbers the lost records of full spools; it is made
	// after the router, so the router reaches it through this.
	var pl *pipeline.Pipeline
	router, err := openRouter(cfg, log, func(n uint64) *record.Record { return pl.LostRecord(n) },
		func() *record.Record { return pl.Numbered(record.ActionSeal) })
	if err != nil {
		return err
	}
	closeOutputs := router.Close
	enr, err := enrich.New(enrich.Options{HostName: cfg.Agent.HostName, Metadata: containerMetadata(cfg, log), MaxArgsBytes: cfg.Agent.MaxArgsBytes, Version: version})
	if err != nil {
		closeOutputs()
		return err
	}
	defer enr.Close()
	copts, err := captureOptions(cfg)
	if err != nil {
		closeOutputs()
		return err
	}
	copts.OnSweepError = sweepErrorLogger(log)
	capture, err := bpf.Open(copts)
	if err != nil {
		closeOutputs()
		return err
	}
	defer capture.Close()
	for _, p := range capture.Points {
		ev := log.Info().Str("point", p.Point).Str("sees", p.Sees)
		for _, a := range p.Attempts {
			if a.Err != nil {
				ev = ev.Str("no_"+string(a.Mode), a.Err.Error())
			}
		}
		if p.Mode == "" && bpf.VFSPoint(p.Point) {
			ev.Msg("hook point not attached: the syscall point reports its calls (io_uring's go unaudited)")
			continue
		}
		if p.Mode == "" {
			ev.Msg("hook point not attached: its calls go unaudited")
			continue
		}
		ev.Str("mode", string(p.Mode)).Msg("hook point attached")
	}
	if unseen := capture.Unseen(); len(unseen) > 0 {
		log.Warn().Strs("cannot_see", unseen).Msg("some ways of changing files go unaudited in the hook modes attached: see fsaudit check")
	}

	// Everything that needs more privilege is done: loading, attaching,
	// mounting tracefs, opening the sinks and spools.
	if kept, note, err := dropCapabilities(); err != nil {
		closeOutputs()
		return err
	} else if note != "" {
		log.Warn().Str("kept", kept).Str("note", note).Msg("capabilities dropped")
	} else {
		log.Info().Str("kept", kept).Msg("capabilities dropped")
	}
	if capture.Coalescing != nil {
		log.Warn().Str("error", oneLine(capture.Coalescing)).Msg("coalescing is off: one record per write")
	} else if capture.CloseHook != nil {
		log.Warn().Str("error", oneLine(capture.CloseHook)).Msg("close(2) tracepoint did not attach: merged writes are reported when their window ends, not at close")
	}
	if capture.IA32 != nil {
		log.Info().Err(capture.IA32).Msg("32-bit system calls not watched: no process can make them")
	}
	if capture.URingComplete != nil {
		log.Warn().Err(capture.URingComplete).Msg("io_uring completion tracepoint did not attach: creates, renames, deletes ... done through io_uring go unaudited")
	}
	if capture.Lifecycle != nil {
		log.Warn().Err(capture.Lifecycle).Msg("exec and exit tracking did not attach: executables and arguments come from /proc, and processes that exit at once go unnamed")
	}
	pl, err = pipeline.New(capture, enr, pathFilter(cfg), router, log,
		pipeline.Options{CoalesceWindow: cfg.Coalesce.Window.Duration})
	if err != nil {
		closeOutputs()
		return err
	}
	// health is nil while the pipeline runs, then why it does not.
	var health atomic.Pointer[error]
	notYet := errors.New("starting")
	health.Store(&notYet)
	if ms != nil {
		ms.Serve(metrics.Handler(metricsSources(cfg, capture, pl, router), func() error {
			return *health.Load()
		}), func(err error) { log.Error().Err(err).Msg("metrics server stopped") })
		log.Info().Str("address", ms.Addr().String()).Msg("serving /metrics and /healthz")
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := pl.Run(ctx)
		ended := errors.New("the pipeline ended")
		if err != nil {
			ended = fmt.Errorf("the pipeline ended: %w", err)
		}
		health.Store(&ended)
		done <- err
	}()
	var ok error
	health.Store(&ok)
	log.Info().Str("bpf", capture.Variant).Int("pid", os.Getpid()).Uint32("kernel_pid", capture.AgentTGID).Msg("capturing")

	var runErr error
loop:
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGHUP {
				cfg = reload(path, cfg, pl, router, log)
				continue
			}
			log.Info().Str("signal", s.String()).Msg("stopping: draining records to the sinks")
			stopping := fmt.Errorf("stopping on %s", s)
			health.Store(&stopping)
			if err := capture.Stop(); err != nil {
				log.Error().Err(err).Msg("detaching hooks")
			}
			select {
			case runErr = <-done:
			case <-time.After(drainTimeout):
				cancel()
				runErr = <-done
				log.Error().Dur("after", drainTimeout).Msg("gave up draining")
			}
			break loop
		case runErr = <-done:
			break loop
		}
	}
	closeOutputs()
	for _, r := range router.Routes() {
		ms := func(q float64) float64 { return float64(r.Stats.Latency.Quantile(q)) / float64(time.Millisecond) }
		log.Info().Str("sink", r.Sink.Name()).Uint64("sent", r.Stats.Sent.Load()).Uint64("failed", r.Stats.Failed.Load()).
			Uint64("dropped", r.Stats.Dropped.Load()).Uint64("filtered", r.Stats.Filtered.Load()).Uint64("retries", r.Stats.Retries.Load()).
			Float64("latency_p50_ms", ms(0.5)).Float64("latency_p99_ms", ms(0.99)).Float64("latency_max_ms", ms(1)).
			Msg("sink totals")
	}
	st := &pl.Stats
	lifecycleLost, _ := capture.LifecycleLost()
	coalesceFull, _ := capture.CoalesceFull()
	log.Info().
		Uint64("lifecycle_lost", lifecycleLost).Uint64("coalesce_map_full", coalesceFull).
		Uint64("events", st.Events.Load()).Uint64("filtered", st.Filtered.Load()).
		Uint64("records", st.Records.Load()).Uint64("lost", st.Lost.Load()).Uint64("bad_samples", st.BadSamples.Load()).Uint64("failed_changes", st.Failed.Load()).
		Uint64("coalesced_writes", st.Coalesced.Load()).Uint64("unnamed_writes", st.Unnamed.Load()).
		Msg("stopped")
	return runErr
}

// sweepErrorLogger logs failed sweeps of the coalescing map, at most one
// line a minute with the count since the last.
func sweepErrorLogger(log zerolog.Logger) func(error) {
	var last time.Time
	var n int
	return func(err error) {
		n++
		if time.Since(last) < time.Minute {
			return
		}
		log.Error().Str("error", oneLine(err)).Int("failed_sweeps", n).Msg("sweeping the coalescing map failed: merged writes wait for the next sweep")
		last, n = time.Now(), 0
	}
}

// startCPUProfile writes a CPU profile to path until the returned stop.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("FSAUDIT_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("FSAUDIT_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// metricsSources names what the metrics server reads.
func metricsSources(cfg *config.Config, capture *bpf.Capture, pl *pipeline.Pipeline, router *sink.Router) metrics.Sources {
	points := map[string]string{}
	for _, p := range capture.Points {
		points[p.Point] = string(p.Mode)
	}
	return metrics.Sources{
		Pipeline: &pl.Stats,
		Router:   router,
		Kernel:   capture,
		Info: metrics.Info{Version: version, Commit: commit(), BPFObject: bpf.ObjectHash(), BPFVariant: capture.Variant,
			Hook: cfg.Agent.Hook, Points: points},
	}
}

// reload reads the config again on SIGHUP. A bad config is refused and the
// running one stays; path filters apply at once; file sinks reopen.
func reload(path string, old *config.Config, pl *pipeline.Pipeline, router *sink.Router, log zerolog.Logger) *config.Config {
	log.Info().Msg("SIGHUP: reloading config and reopening files")
	for _, s := range router.Sinks() {
		if r, ok := s.(sink.Reopener); ok {
			if err := r.Reopen(); err != nil {
				log.Error().Err(err).Str("sink", s.Name()).Msg("reopening sink")
			}
		}
	}
	cfg, err := loadConfig(path)
	if err != nil {
		log.Error().Str("error", oneLine(err)).Msg("new config refused; the running one stays")
		return old
	}
	pl.SetFilter(pathFilter(cfg))
	if cfg.Agent.Hook != old.Agent.Hook || !reflect.DeepEqual(cfg.Filter.ExcludeComms, old.Filter.ExcludeComms) ||
		!reflect.DeepEqual(cfg.Filter.ExcludeUIDs, old.Filter.ExcludeUIDs) ||
		!reflect.DeepEqual(cfg.Filter.ExcludeExecutables, old.Filter.ExcludeExecutables) ||
		!reflect.DeepEqual(cfg.Filter.IncludeCgroups, old.Filter.IncludeCgroups) || cfg.Agent.RingBufferKB != old.Agent.RingBufferKB ||
		cfg.Filter.RegularFilesOnly != old.Filter.RegularFilesOnly || !reflect.DeepEqual(cfg.Sinks, old.Sinks) ||
		!reflect.DeepEqual(cfg.Filter.Actions, old.Filter.Actions) || cfg.Agent.MetricsListen != old.Agent.MetricsListen {
		log.Warn().Msg("changes to hook, ring_buffer_kb, metrics_listen, exclude_comms, exclude_uids, exclude_executables, include_cgroups, regular_files_only, actions and sinks take effect at the next start; path filters applied now")
	}
	running := *old
	running.Filter.IncludePaths = cfg.Filter.IncludePaths
	running.Filter.ExcludePaths = cfg.Filter.ExcludePaths
	log.Info().Msg("reloaded")
	return &running
}
