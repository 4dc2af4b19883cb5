package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/enrich"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/rs/zerolog"
)

// openRouter builds every configured sink and its route. On an error the
// sinks opened so far are closed again.
func openRouter(cfg *config.Config, log zerolog.Logger) (*sink.Router, error) {
	rt := sink.NewRouter(log)
	for _, sc := range cfg.Sinks {
		s, err := openSink(sc, cfg.Agent.HostName)
		if err != nil {
			rt.Close()
			return nil, err
		}
		rt.Add(s, sink.RouteOptions{
			Filter:       routeFilter(sc),
			QueueLen:     sc.QueueSize,
			BatchSize:    sc.BatchSize,
			BatchTimeout: sc.BatchTimeout.Duration,
			RetryFor:     sc.RetryFor.Duration,
		})
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
		f.Paths = &enrich.PathFilter{Include: include, Exclude: sc.ExcludePaths}
	}
	return f
}

func product() record.Product { return record.Product{Name: "fsaudit", Version: version} }

// openSink builds one sink from its [[sink]] table; cfgHost is
// [agent] host_name.
func openSink(sc config.Sink, cfgHost string) (sink.Sink, error) {
	format, err := record.NewFormat(sc.Format, product())
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", sc.Name, err)
	}
	switch sc.Type {
	case "file":
		fsync, _ := config.ParseFsync(sc.Fsync)
		return sink.OpenFile(sink.FileOptions{
			Name: sc.Name, Path: sc.Path, Format: format,
			MaxBytes: int64(sc.MaxSizeMB) << 20, MaxAge: sc.MaxAge.Duration, MaxBackups: sc.MaxBackups,
			Compress: sc.Compress, Fsync: fsync,
		})
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
// dropped) or its environment variable. Its value is never logged.
func secret(sc config.Sink) (string, error) {
	if sc.SASLPasswordEnv != "" {
		v, ok := os.LookupEnv(sc.SASLPasswordEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("sink %s: sasl_password_env: environment variable %s is not set", sc.Name, sc.SASLPasswordEnv)
		}
		return v, nil
	}
	b, err := os.ReadFile(sc.SASLPasswordFile)
	if err != nil {
		return "", fmt.Errorf("sink %s: sasl_password_file: %w", sc.Name, err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("sink %s: sasl_password_file %s is empty", sc.Name, sc.SASLPasswordFile)
	}
	return v, nil
}

// tlsConfig reads a sink's CA and client certificate files.
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
		cert, err := tls.LoadX509KeyPair(sc.TLSCertFile, sc.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("sink %s: client certificate: %w", sc.Name, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
