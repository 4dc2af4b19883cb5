package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/filter"
	"github.com/fsaudit/fsaudit/internal/private"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/fsaudit/fsaudit/sink/registry"
	"github.com/fsaudit/fsaudit/spool"
	"github.com/rs/zerolog"
)

// openRouter builds every configured sink and its route: its spool (when
// [spool] dir is set) and its hash chain (when [chain] is enabled), which
// goes on from the last record the spool holds, and its seals. lost makes
// the lost record that follows records a full spool dropped, seal a
// numbered record for a seal. On an error what was opened is closed again.
func openRouter(cfg *config.Config, log zerolog.Logger, lost func(uint64) *record.Record, seal func() *record.Record) (*sink.Router, error) {
	rt := sink.NewRouter(log)
	var key []byte
	if cfg.Chain.Enabled && cfg.Chain.KeyFile != "" {
		var err error
		if key, err = private.Read(cfg.Chain.KeyFile, "chain key_file"); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Sinks {
		sc := &cfg.Sinks[i]
		s, err := openSink(sc, cfg.Agent.HostName, cfg.Chain.Enabled)
		if err != nil {
			rt.Close()
			return nil, err
		}
		o := sink.RouteOptions{
			Filter:       routeFilter(sc),
			QueueLen:     sc.QueueSize,
			BatchSize:    sc.BatchSize,
			BatchTimeout: sc.BatchTimeout.Duration,
			RetryFor:     sc.RetryFor.Duration,
			Lost:         lost,
			SealAnchor:   sc.SealAnchor,
		}
		var prev chain.State
		if cfg.Spool.Dir != "" {
			sp, rec, err := spool.Open(spool.Options{
				Dir: filepath.Join(cfg.Spool.Dir, sc.Name), MaxBytes: int64(cfg.Spool.MaxSizeMB) << 20,
				DropNewest: cfg.Spool.Full == "drop_newest",
			})
			if err != nil {
				s.Close()
				rt.Close()
				return nil, fmt.Errorf("sink %s: %w", sc.Name, err)
			}
			ev := log.Info()
			if rec.TornBytes > 0 || len(rec.Corrupt) > 0 {
				ev = log.Warn()
			}
			ev.Str("sink", sc.Name).Int("waiting", rec.Entries).Int64("torn_bytes_cut", rec.TornBytes).
				Strs("corrupt_segments", rec.Corrupt).Msg("spool opened")
			o.Spool, prev = sp, chain.State{Seq: sp.LastSeq(), Hash: sp.LastHash()}
		}
		if cfg.Chain.Enabled {
			o.Chain = chain.New(key, prev)
		}
		rt.Add(s, o)
	}
	if cfg.Chain.Enabled {
		sl := sink.Sealing{Interval: cfg.Chain.SealInterval.Duration, Instance: newInstance(), Record: seal}
		if cfg.Chain.SealKeyFile != "" {
			k, err := lockSealKey(cfg.Chain.SealKeyFile)
			if err != nil {
				rt.Close()
				return nil, err
			}
			sl.Key = k
			log.Info().Str("seal_key_file", cfg.Chain.SealKeyFile).Uint64("epoch", k.Epoch()).Str("key_id", k.ID()).
				Dur("seal_interval", sl.Interval).Msg("sealing every sink's chain")
		}
		rt.SetSealing(sl)
	}
	return rt, nil
}

// routeFilter is a sink's own selection of records.
func routeFilter(sc *config.Sink) sink.Filter {
	f := sink.Filter{Actions: sc.Actions, Containers: sc.Containers}
	if len(sc.IncludePaths) > 0 || len(sc.ExcludePaths) > 0 {
		include := sc.IncludePaths
		if len(include) == 0 {
			include = []string{"/"}
		}
		f.Paths = &filter.Prefixes{Include: include, Exclude: sc.ExcludePaths}
	}
	return f
}

func product() record.Product { return record.Product{Name: "fsaudit", Version: version} }

// openSink builds one sink from its [[sink]] table; cfgHost is [agent]
// host_name; chained: its records are chained, so a file sink starts each
// file at a seal record (sink.Env.Chained).
func openSink(sc *config.Sink, cfgHost string, chained bool) (sink.Sink, error) {
	env, err := sinkEnv(sc, cfgHost, chained)
	if err != nil {
		return nil, err
	}
	return registry.Open(sc, env)
}

// sinkEnv is what a sink takes from outside its table.
func sinkEnv(sc *config.Sink, cfgHost string, chained bool) (sink.Env, error) {
	format, err := record.NewFormat(sc.Format, product())
	if err != nil {
		return sink.Env{}, fmt.Errorf("sink %s: %w", sc.Name, err)
	}
	return sink.Env{Format: format, HostName: hostName(cfgHost), Chained: chained}, nil
}

// hostName is the configured host name, else the kernel's.
func hostName(configured string) string {
	if configured != "" {
		return configured
	}
	h, _ := os.Hostname()
	return h
}
