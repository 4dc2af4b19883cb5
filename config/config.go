// Package config owns fsaudit's TOML configuration: its schema, the
// defaults, and validation whose errors name the key and the line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultPath is where `fsaudit run` looks for a config without --config.
const DefaultPath = "/etc/fsaudit/config.toml"

// Config is the whole configuration file.
type Config struct {
	Agent      Agent      `toml:"agent"`
	Filter     Filter     `toml:"filter"`
	Coalesce   Coalesce   `toml:"coalesce"`
	Spool      Spool      `toml:"spool"`
	Containers Containers `toml:"containers"`
	Sinks      []Sink     `toml:"sink"`

	// Source names where the config came from, for messages.
	Source string `toml:"-"`
}

// Agent holds the [agent] table.
type Agent struct {
	Hook          string `toml:"hook"`
	HostName      string `toml:"host_name"`
	LogLevel      string `toml:"log_level"`
	MetricsListen string `toml:"metrics_listen"`
}

// Filter holds the [filter] table.
type Filter struct {
	IncludePaths     []string `toml:"include_paths"`
	ExcludePaths     []string `toml:"exclude_paths"`
	ExcludeComms     []string `toml:"exclude_comms"`
	RegularFilesOnly bool     `toml:"regular_files_only"`
}

// Coalesce holds the [coalesce] table.
type Coalesce struct {
	Window Duration `toml:"window"`
}

// Spool holds the [spool] table.
type Spool struct {
	Dir       string `toml:"dir"`
	MaxSizeMB int    `toml:"max_size_mb"`
}

// Containers holds the [containers] table: where the container runtimes
// keep what names a container, its image and its pod. Paths are read in
// the agent's mount namespace; an empty value turns that source off.
type Containers struct {
	DockerRoot    string   `toml:"docker_root"`
	StorageRoot   string   `toml:"storage_root"`
	CRISockets    []string `toml:"cri_sockets"`
	LookupTimeout Duration `toml:"lookup_timeout"`
}

// Sink is one [[sink]] table. Which keys apply depends on Type.
type Sink struct {
	Name   string `toml:"name"`
	Type   string `toml:"type"`
	Format string `toml:"format"`

	// file
	Path       string `toml:"path"`
	MaxSizeMB  int    `toml:"max_size_mb"`
	MaxBackups int    `toml:"max_backups"`

	// syslog
	Address  string `toml:"address"`
	Protocol string `toml:"protocol"`

	// kafka
	Brokers []string `toml:"brokers"`
	Topic   string   `toml:"topic"`
	Key     string   `toml:"key"`
}

// Duration is a TOML string such as "1s" or "250ms".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q: want a number with a unit, such as \"1s\" or \"250ms\"", b)
	}
	if v < 0 {
		return fmt.Errorf("bad duration %q: negative", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration back as TOML text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults returns the values a key takes when the file does not set it.
func Defaults() Config {
	return Config{
		Agent: Agent{Hook: "auto", LogLevel: "info"},
		Filter: Filter{
			IncludePaths:     []string{"/"},
			ExcludePaths:     []string{"/proc", "/sys", "/dev"},
			RegularFilesOnly: true,
		},
		Coalesce: Coalesce{Window: Duration{time.Second}},
		Spool:    Spool{Dir: "/var/lib/fsaudit/spool", MaxSizeMB: 1024},
		Containers: Containers{
			DockerRoot:    "/var/lib/docker",
			StorageRoot:   "/var/lib/containers/storage",
			CRISockets:    []string{"/run/containerd/containerd.sock", "/run/crio/crio.sock"},
			LookupTimeout: Duration{time.Second},
		},
	}
}

// sinkDefaults fills what a [[sink]] leaves out.
func sinkDefaults(s *Sink) {
	if s.Format == "" {
		s.Format = "json"
	}
	switch s.Type {
	case "file":
		if s.MaxSizeMB == 0 {
			s.MaxSizeMB = 100
		}
		if s.MaxBackups == 0 {
			s.MaxBackups = 10
		}
	case "syslog":
		if s.Protocol == "" {
			s.Protocol = "rfc5424"
		}
	case "kafka":
		if s.Key == "" {
			s.Key = "host"
		}
	}
}

// Error is a configuration error tied to a key and, where known, a line.
type Error struct {
	Source string
	Line   int
	Key    string
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// Load reads and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates TOML text; source names it in errors.
func Parse(source string, data []byte) (*Config, error) {
	cfg := Defaults()
	cfg.Source = source
	idx := indexLines(data)
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&cfg)
	if err != nil {
		return nil, decodeError(source, idx, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		if len(k) == 2 && k[0] == "sink" {
			for i := range idx.sinks {
				if l, ok := idx.sinks[i][k[1]]; ok {
					return nil, &Error{Source: source, Line: l, Key: fmt.Sprintf("sink[%d].%s", i, k[1]), Msg: "unknown key"}
				}
			}
		}
		msg := "unknown key"
		if md.Type(k...) == "Hash" {
			msg = "unknown table"
		}
		return nil, &Error{Source: source, Line: idx.line(k), Key: k.String(), Msg: msg}
	}
	for i := range cfg.Sinks {
		sinkDefaults(&cfg.Sinks[i])
	}
	if err := cfg.validate(idx, md); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func decodeError(source string, idx lineIndex, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" {
			// Type errors name the key but say it in the message too.
			msg = strings.TrimPrefix(msg, "toml: ")
		}
		return &Error{Source: source, Line: pe.Position.Line, Key: pe.LastKey, Msg: oneLine(msg)}
	}
	// Type mismatches come as `toml: line N (last key "k"): message`.
	if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Source: source, Line: line, Key: m[2], Msg: oneLine(m[3])}
	}
	return &Error{Source: source, Msg: oneLine(strings.TrimPrefix(err.Error(), "toml: "))}
}

var typeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)`)

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

var (
	hookNames     = []string{"auto", "fentry", "kprobe", "tracepoint"}
	logLevels     = []string{"trace", "debug", "info", "warn", "error"}
	sinkTypes     = []string{"file", "syslog", "kafka", "stdout"}
	formats       = []string{"json", "ocsf", "cef"}
	syslogProtos  = []string{"rfc5424", "rfc3164"}
	kafkaKeyKinds = []string{"host", "container", "path", "none"}
)

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func (c *Config) validate(idx lineIndex, md toml.MetaData) error {
	errAt := func(msg string, key ...string) error {
		return &Error{Source: c.Source, Line: idx.line(toml.Key(key)), Key: strings.Join(key, "."), Msg: msg}
	}
	if !oneOf(c.Agent.Hook, hookNames) {
		return errAt(fmt.Sprintf("unknown hook %q: want one of %s", c.Agent.Hook, strings.Join(hookNames, ", ")), "agent", "hook")
	}
	if !oneOf(c.Agent.LogLevel, logLevels) {
		return errAt(fmt.Sprintf("unknown log level %q: want one of %s", c.Agent.LogLevel, strings.Join(logLevels, ", ")), "agent", "log_level")
	}
	for _, list := range []struct {
		key   string
		paths []string
	}{{"include_paths", c.Filter.IncludePaths}, {"exclude_paths", c.Filter.ExcludePaths}} {
		for _, p := range list.paths {
			if !filepath.IsAbs(p) {
				return errAt(fmt.Sprintf("%q is not an absolute path", p), "filter", list.key)
			}
		}
	}
	for _, comm := range c.Filter.ExcludeComms {
		if comm == "" || len(comm) > 15 {
			return errAt(fmt.Sprintf("%q is not a process name the kernel keeps (1 to 15 bytes)", comm), "filter", "exclude_comms")
		}
	}
	if c.Spool.MaxSizeMB < 0 {
		return errAt("must not be negative", "spool", "max_size_mb")
	}
	for _, p := range []struct{ key, path string }{{"docker_root", c.Containers.DockerRoot}, {"storage_root", c.Containers.StorageRoot}} {
		if p.path != "" && !filepath.IsAbs(p.path) {
			return errAt(fmt.Sprintf("%q is not an absolute path", p.path), "containers", p.key)
		}
	}
	for _, p := range c.Containers.CRISockets {
		if !filepath.IsAbs(p) {
			return errAt(fmt.Sprintf("%q is not an absolute path to a socket", p), "containers", "cri_sockets")
		}
	}
	if c.Containers.LookupTimeout.Duration == 0 {
		return errAt("must be more than 0", "containers", "lookup_timeout")
	}
	if len(c.Sinks) == 0 {
		return &Error{Source: c.Source, Key: "sink", Msg: "no [[sink]]: records would go nowhere"}
	}
	seen := map[string]int{}
	for i := range c.Sinks {
		s := &c.Sinks[i]
		at := func(msg, key string) error {
			return &Error{Source: c.Source, Line: idx.sinkLine(i, key), Key: fmt.Sprintf("sink[%d].%s", i, key), Msg: msg}
		}
		if s.Name == "" {
			return at("missing: every sink needs a unique name", "name")
		}
		if j, dup := seen[s.Name]; dup {
			return at(fmt.Sprintf("duplicate sink name %q (also sink[%d])", s.Name, j), "name")
		}
		seen[s.Name] = i
		if !oneOf(s.Type, sinkTypes) {
			return at(fmt.Sprintf("unknown sink type %q: want one of %s", s.Type, strings.Join(sinkTypes, ", ")), "type")
		}
		if !oneOf(s.Format, formats) {
			return at(fmt.Sprintf("unknown format %q: want one of %s", s.Format, strings.Join(formats, ", ")), "format")
		}
		for _, k := range keysOfSink(md, i) {
			if !keyApplies(s.Type, k) {
				return at(fmt.Sprintf("does not apply to a %s sink", s.Type), k)
			}
		}
		switch s.Type {
		case "file":
			if s.Path == "" || !filepath.IsAbs(s.Path) {
				return at("a file sink needs an absolute path", "path")
			}
			if s.MaxSizeMB < 1 {
				return at("must be at least 1", "max_size_mb")
			}
			if s.MaxBackups < 0 {
				return at("must not be negative", "max_backups")
			}
		case "syslog":
			if !strings.HasPrefix(s.Address, "udp://") && !strings.HasPrefix(s.Address, "tcp://") && !strings.HasPrefix(s.Address, "tls://") {
				return at(fmt.Sprintf("address %q: want udp://, tcp:// or tls:// HOST:PORT", s.Address), "address")
			}
			if !oneOf(s.Protocol, syslogProtos) {
				return at(fmt.Sprintf("unknown protocol %q: want rfc5424 or rfc3164", s.Protocol), "protocol")
			}
		case "kafka":
			if len(s.Brokers) == 0 {
				return at("a kafka sink needs at least one broker", "brokers")
			}
			if s.Topic == "" {
				return at("a kafka sink needs a topic", "topic")
			}
			if !oneOf(s.Key, kafkaKeyKinds) {
				return at(fmt.Sprintf("unknown key %q: want one of %s", s.Key, strings.Join(kafkaKeyKinds, ", ")), "key")
			}
		}
	}
	return nil
}

// keyApplies tells whether a [[sink]] key belongs to a sink type.
func keyApplies(typ, key string) bool {
	switch key {
	case "name", "type", "format":
		return true
	case "path", "max_size_mb", "max_backups":
		return typ == "file"
	case "address", "protocol":
		return typ == "syslog"
	case "brokers", "topic", "key":
		return typ == "kafka"
	}
	return false
}

// keysOfSink lists the keys the file set in the i-th [[sink]].
func keysOfSink(md toml.MetaData, i int) []string {
	var out []string
	n := -1
	for _, k := range md.Keys() {
		if len(k) == 1 && k[0] == "sink" {
			n++
			continue
		}
		if n == i && len(k) == 2 && k[0] == "sink" {
			out = append(out, k[1])
		}
	}
	return out
}
