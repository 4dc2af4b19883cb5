package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/filter"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
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
		if key, err = readPrivate(cfg.Chain.KeyFile, "chain key_file"); err != nil {
			return nil, err
		}
	}
	for _, sc := range cfg.Sinks {
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
func routeFilter(sc config.Sink) sink.Filter {
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
// file at a seal record (sink.FileOptions.Marked).
func openSink(sc config.Sink, cfgHost string, chained bool) (sink.Sink, error) {
	format, err := record.NewFormat(sc.Format, product())
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", sc.Name, err)
	}
	switch sc.Type {
	case "file":
		fsync, _ := config.ParseFsync(sc.Fsync)
		o := sink.FileOptions{
			Name: sc.Name, Path: sc.Path, Format: format,
			MaxBytes: int64(sc.MaxSizeMB) << 20, MaxAge: sc.MaxAge.Duration, MaxBackups: sc.MaxBackups,
			Compress: sc.Compress, Fsync: fsync, Marked: chained,
		}
		if sc.Rotation == "external" {
			// logrotate moves the file and sends SIGHUP, which reopens it.
			o.MaxBytes, o.MaxAge, o.MaxBackups, o.Compress = 0, 0, 0, false
		}
		return sink.OpenFile(o)
	case "stdout":
		return sink.NewStdout(sc.Name, nil, format), nil
	case "syslog":
		network, addr, _ := strings.Cut(sc.Address, "://")
		o := sink.SyslogOptions{
			Name: sc.Name, Network: network, Address: addr, Protocol: sc.Protocol, Framing: sc.Framing,
			MaxMessageBytes: sc.MaxMessageBytes, Format: format,
		}
		o.Facility, _ = config.Facility(sc.Facility)
		o.Severity, _ = config.Severity(sc.Severity)
		if network == "tls" {
			if o.TLS, err = tlsConfig(sc); err != nil {
				return nil, err
			}
		}
		return sink.NewSyslog(o), nil
	case "kafka":
		o := sink.KafkaOptions{
			Name: sc.Name, Brokers: sc.Brokers, Topic: sc.Topic, Key: sc.Key, Acks: sc.Acks,
			Compression: sc.Compression, CreateTopic: sc.CreateTopic, Partitions: sc.TopicPartitions,
			Replication: sc.TopicReplication, BatchSize: sc.BatchSize, HostName: hostName(cfgHost), Format: format,
		}
		if sc.TLS {
			if o.TLS, err = tlsConfig(sc); err != nil {
				return nil, err
			}
		}
		if sc.SASLMechanism != "" {
			password, err := secret(sc)
			if err != nil {
				return nil, err
			}
			if o.SASL, err = sink.SASLMechanism(sc.SASLMechanism, sc.SASLUsername, password); err != nil {
				return nil, fmt.Errorf("sink %s: %w", sc.Name, err)
			}
		}
		return sink.NewKafka(o)
	}
	return nil, fmt.Errorf("sink %s: unknown type %s", sc.Name, sc.Type)
}

// hostName is the configured host name, else the kernel's.
func hostName(configured string) string {
	if configured != "" {
		return configured
	}
	h, _ := os.Hostname()
	return h
}

// secret reads a sink's SASL password from its file (one trailing newline
// dropped; the file read through readPrivate) or its environment variable.
// Its value is never logged.
func secret(sc config.Sink) (string, error) {
	if sc.SASLPasswordEnv != "" {
		v, ok := os.LookupEnv(sc.SASLPasswordEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("sink %s: sasl_password_env: environment variable %s is not set", sc.Name, sc.SASLPasswordEnv)
		}
		return v, nil
	}
	b, err := readPrivate(sc.SASLPasswordFile, sinkFile(sc, "sasl_password_file"))
	if err != nil {
		return "", err
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("sink %s: sasl_password_file %s is empty", sc.Name, sc.SASLPasswordFile)
	}
	return v, nil
}

// tlsConfig reads a sink's CA and client certificate files, the key
// through readPrivate.
func tlsConfig(sc config.Sink) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: sc.TLSServerName}
	if sc.TLSCAFile != "" {
		pem, err := os.ReadFile(sc.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("sink %s: tls_ca_file: %w", sc.Name, err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sink %s: tls_ca_file %s: no PEM certificate in it", sc.Name, sc.TLSCAFile)
		}
	}
	if sc.TLSCertFile != "" {
		certPEM, err := os.ReadFile(sc.TLSCertFile)
		if err != nil {
			return nil, fmt.Errorf("sink %s: tls_cert_file: %w", sc.Name, err)
		}
		keyPEM, err := readPrivate(sc.TLSKeyFile, sinkFile(sc, "tls_key_file"))
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("sink %s: client certificate %s with key %s: %w", sc.Name, sc.TLSCertFile, sc.TLSKeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
