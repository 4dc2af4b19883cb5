package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/internal/private"
	"github.com/fsaudit/fsaudit/replay"
	"github.com/fsaudit/fsaudit/sink/kafka"
	"github.com/mattn/go-isatty"
)

// listFlag collects a flag given several times, or with comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}

// replayArgs are the parsed flags of `fsaudit replay`.
type replayArgs struct {
	config, topic, group   string
	verifyChain            bool
	chainKeyFile           string
	brokers, sinks         listFlag
	since, until           time.Time
	lateness               time.Duration
	follow                 bool
	offsets                map[int]int64
	filter                 replay.Filter
	batch                  int
	progressEvery          time.Duration
	actions, paths, hosts  listFlag
	containers, users      listFlag
	sinceText, untilText   string
	offsetsText            string
	latenessText, interval string
}

func parseReplayArgs(args []string, stderr io.Writer) (*replayArgs, error) {
	a := &replayArgs{}
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&a.config, "config", "", "config file whose sinks receive the records (required)")
	fs.StringVar(&a.topic, "topic", "", "Kafka topic to read (required)")
	fs.Var(&a.brokers, "brokers", "brokers HOST:PORT,... (default: those of the config's first kafka sink)")
	fs.StringVar(&a.sinceText, "since", "", "first @timestamp to replay, RFC 3339")
	fs.StringVar(&a.untilText, "until", "", "end of the window (excluded), RFC 3339")
	fs.StringVar(&a.latenessText, "lateness", "10m", "how long after --until a record may have reached the topic")
	fs.Var(&a.sinks, "sink", "name of a sink of the config to deliver to (repeatable; default: all)")
	fs.BoolVar(&a.follow, "follow", false, "keep forwarding new records, committing progress to --group")
	fs.StringVar(&a.group, "group", "fsaudit-replay", "consumer group whose committed offsets --follow resumes from")
	fs.StringVar(&a.offsetsText, "offsets", "", "start offsets PARTITION:OFFSET,... instead of --since")
	fs.Var(&a.actions, "action", "only these event.action values (repeatable)")
	fs.Var(&a.paths, "path-prefix", "only paths under these prefixes (repeatable)")
	fs.Var(&a.hosts, "host", "only records of these host.name values (repeatable)")
	fs.Var(&a.containers, "container", "only these container ids, or their first 12+ characters (repeatable)")
	fs.Var(&a.users, "user", "only records whose user (real or effective) has this name or id (repeatable)")
	fs.IntVar(&a.batch, "batch-size", 512, "records per delivery")
	fs.StringVar(&a.interval, "progress-interval", "5s", "how often progress is logged when stderr is not a terminal")
	fs.BoolVar(&a.verifyChain, "verify-chain", false, "check each host's hash chain in each partition while replaying; a break makes the exit 1")
	fs.StringVar(&a.chainKeyFile, "chain-key-file", "", "with --verify-chain: the chain's HMAC key ([chain] key_file), if it has one")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("replay: unexpected argument %q", fs.Arg(0))
	}
	if a.config == "" || a.topic == "" {
		return nil, errors.New("replay: --config and --topic are required")
	}
	var err error
	if a.sinceText != "" {
		if a.since, err = time.Parse(time.RFC3339Nano, a.sinceText); err != nil {
			return nil, fmt.Errorf("replay: --since %q: want RFC 3339, such as 2026-11-26T08:00:00Z", a.sinceText)
		}
	}
	if a.untilText != "" {
		if a.until, err = time.Parse(time.RFC3339Nano, a.untilText); err != nil {
			return nil, fmt.Errorf("replay: --until %q: want RFC 3339, such as 2026-11-26T09:00:00Z", a.untilText)
		}
	}
	if !a.since.IsZero() && !a.until.IsZero() && !a.until.After(a.since) {
		return nil, errors.New("replay: --until must come after --since")
	}
	if a.follow && !a.until.IsZero() {
		return nil, errors.New("replay: --follow has no end: drop --until")
	}
	if a.lateness, err = time.ParseDuration(a.latenessText); err != nil || a.lateness < 0 {
		return nil, fmt.Errorf("replay: --lateness %q: want a duration such as 10m", a.latenessText)
	}
	if a.progressEvery, err = time.ParseDuration(a.interval); err != nil || a.progressEvery <= 0 {
		return nil, fmt.Errorf("replay: --progress-interval %q: want a duration such as 5s", a.interval)
	}
	if a.offsetsText != "" {
		if !a.since.IsZero() {
			return nil, errors.New("replay: give --offsets or --since, not both")
		}
		a.offsets = map[int]int64{}
		for _, po := range strings.Split(a.offsetsText, ",") {
			ps, offs, ok := strings.Cut(strings.TrimSpace(po), ":")
			p, err1 := strconv.Atoi(ps)
			o, err2 := strconv.ParseInt(offs, 10, 64)
			if !ok || err1 != nil || err2 != nil || p < 0 || o < 0 {
				return nil, fmt.Errorf("replay: --offsets %q: want PARTITION:OFFSET pairs separated by commas", a.offsetsText)
			}
			a.offsets[p] = o
		}
	}
	if a.batch < 1 {
		return nil, errors.New("replay: --batch-size must be at least 1")
	}
	a.filter = replay.Filter{Actions: a.actions, PathPrefixes: a.paths, Hosts: a.hosts, Containers: a.containers, Users: a.users}
	return a, nil
}

func cmdReplay(args []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "fsaudit: %s\n", oneLine(err))
		return 1
	}
	a, err := parseReplayArgs(args, stderr)
	if err != nil {
		return fail(err)
	}
	cfg, err := config.Load(a.config)
	if err != nil {
		return fail(err)
	}
	log := newLogger(cfg.Agent.LogLevel, stderr)
	src, err := replaySource(cfg, a)
	if err != nil {
		return fail(err)
	}
	var chainKey []byte
	if a.chainKeyFile != "" {
		if !a.verifyChain {
			return fail(errors.New("replay: --chain-key-file goes with --verify-chain"))
		}
		if chainKey, err = private.Read(a.chainKeyFile, "--chain-key-file"); err != nil {
			return fail(err)
		}
	}
	targets, err := replayTargets(cfg, a, src)
	if err != nil {
		return fail(err)
	}
	defer func() {
		for _, t := range targets {
			if err := t.Sink.Close(); err != nil {
				log.Error().Err(err).Str("sink", t.Sink.Name()).Msg("closing sink")
			}
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	terminal := false
	if f, ok := stderr.(*os.File); ok {
		terminal = isatty.IsTerminal(f.Fd())
	}
	var lastLog time.Time
	progress := func(p replay.Progress) {
		if terminal {
			fmt.Fprintf(stderr, "\r\033[K%s", progressLine(p))
			return
		}
		if time.Since(lastLog) >= a.progressEvery {
			lastLog = time.Now()
			log.Info().Uint64("read", p.Read).Uint64("delivered", p.Delivered).Int64("offsets_done", p.Done).Int64("offsets_total", p.Total).Msg("replay progress")
		}
	}
	sum, err := replay.Run(ctx, replay.Options{
		Source: src, Since: a.since, Until: a.until, Lateness: a.lateness, Offsets: a.offsets,
		Follow: a.follow, Group: a.group, Filter: a.filter, Targets: targets, BatchSize: a.batch,
		Log: log, Progress: progress, VerifyChain: a.verifyChain, ChainKey: chainKey,
	})
	if terminal {
		fmt.Fprintln(stderr)
	}
	printSummary(stdout, sum)
	switch {
	case err != nil:
		log.Error().Err(err).Str("resume_with", sum.Resume()).Msg("replay failed")
		return fail(err)
	case sum.Interrupted:
		fmt.Fprintf(stdout, "interrupted: resume with %s\n", sum.Resume())
		if a.follow {
			fmt.Fprintf(stdout, "progress is committed to group %s: --follow --group %s goes on from there\n", a.group, a.group)
			return 0
		}
		return 1
	case sum.ChainBroken > 0:
		return 1
	}
	return 0
}

// progressLine renders a progress bar: records, rate, share of the offset
// range, and the time left.
func progressLine(p replay.Progress) string {
	rate := 0.0
	if s := p.Elapsed.Seconds(); s > 0 {
		rate = float64(p.Read) / s
	}
	if p.Total <= 0 {
		return fmt.Sprintf("replay: %d read, %d delivered, %.0f/s", p.Read, p.Delivered, rate)
	}
	frac := min(float64(p.Done)/float64(p.Total), 1)
	const width = 30
	bar := strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width))
	left := "?"
	if frac > 0 {
		left = (time.Duration(float64(p.Elapsed)/frac) - p.Elapsed).Round(time.Second).String()
	}
	return fmt.Sprintf("replay [%s] %5.1f%% %d read, %d delivered, %.0f/s, %s left", bar, 100*frac, p.Read, p.Delivered, rate, left)
}

// printSummary writes the accounting of a replay.
func printSummary(w io.Writer, s *replay.Summary) {
	skipped := uint64(0)
	for _, n := range s.Skipped {
		skipped += n
	}
	fmt.Fprintf(w, "replay: read %d, delivered %d, filtered %d, outside the window %d, skipped %d\n", s.Read, s.Delivered, s.Filtered, s.OutOfWindow, skipped)
	reasons := make([]string, 0, len(s.Skipped))
	for r := range s.Skipped {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "  skipped %d: %s\n", s.Skipped[r], r)
	}
	for _, sk := range s.Skips {
		fmt.Fprintf(w, "  skipped partition %d offset %d: %s\n", sk.Partition, sk.Offset, sk.Reason)
	}
	if n := int(skipped) - len(s.Skips); n > 0 {
		fmt.Fprintf(w, "  (%d more skipped messages not listed)\n", n)
	}
	if s.ChainChecked > 0 || s.ChainBroken > 0 {
		fmt.Fprintf(w, "chains: %d records checked, %d breaks\n", s.ChainChecked, s.ChainBroken)
		for _, b := range s.ChainBreaks {
			fmt.Fprintf(w, "  %s\n", b)
		}
		if n := int(s.ChainBroken) - len(s.ChainBreaks); n > 0 {
			fmt.Fprintf(w, "  (%d more breaks not listed)\n", n)
		}
	}
	for _, p := range s.Partitions {
		end := strconv.FormatInt(p.End, 10)
		if p.End < 0 {
			end = "-"
		}
		fmt.Fprintf(w, "  partition %d: offsets %d to %s, next %d: read %d, delivered %d, filtered %d, outside the window %d, skipped %d\n",
			p.Partition, p.Start, end, p.Next, p.Read, p.Delivered, p.Filtered, p.OutOfWindow, p.Skipped)
	}
}

// replaySource takes the brokers from --brokers or from the config's kafka
// sinks, and TLS and SASL from the kafka sink with those brokers.
func replaySource(cfg *config.Config, a *replayArgs) (replay.Source, error) {
	src := replay.Source{Brokers: a.brokers, Topic: a.topic}
	var match *config.Sink
	var kc *kafka.Config
	for i := range cfg.Sinks {
		s := &cfg.Sinks[i]
		k, ok := s.Settings.(*kafka.Config)
		if !ok {
			continue
		}
		if len(a.brokers) == 0 || slices.ContainsFunc(a.brokers, func(b string) bool { return slices.Contains(k.Brokers, b) }) {
			match, kc = s, k
			break
		}
	}
	if match == nil {
		if len(a.brokers) == 0 {
			return src, errors.New("replay: no --brokers, and the config has no kafka sink to take them from")
		}
		return src, nil
	}
	if len(src.Brokers) == 0 {
		src.Brokers = kc.Brokers
	}
	var err error
	src.TLS, src.SASL, err = kc.Client(match)
	return src, err
}

// replayTargets opens the chosen sinks; a kafka sink that writes to the
// topic being read would feed the replay its own output, and is refused.
func replayTargets(cfg *config.Config, a *replayArgs, src replay.Source) ([]replay.Target, error) {
	var targets []replay.Target
	closeAll := func() {
		for _, t := range targets {
			t.Sink.Close()
		}
	}
	for _, name := range a.sinks {
		if !slices.ContainsFunc(cfg.Sinks, func(s config.Sink) bool { return s.Name == name }) {
			return nil, fmt.Errorf("replay: --sink %s: the config has no sink of that name", name)
		}
	}
	for i := range cfg.Sinks {
		sc := &cfg.Sinks[i]
		if len(a.sinks) > 0 && !slices.Contains(a.sinks, sc.Name) {
			continue
		}
		if k, ok := sc.Settings.(*kafka.Config); ok && k.Topic == a.topic && slices.ContainsFunc(k.Brokers, func(b string) bool { return slices.Contains(src.Brokers, b) }) {
			closeAll()
			return nil, fmt.Errorf("replay: sink %s writes to topic %s, which is being read: choose the sinks with --sink", sc.Name, a.topic)
		}
		s, err := openSink(sc, cfg.Agent.HostName, false)
		if err != nil {
			closeAll()
			return nil, err
		}
		targets = append(targets, replay.Target{Sink: s, Filter: routeFilter(sc), RetryFor: sc.RetryFor.Duration})
	}
	if len(targets) == 0 {
		return nil, errors.New("replay: no sink to deliver to")
	}
	return targets, nil
}
