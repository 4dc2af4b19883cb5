// Package config owns fsaudit's TOML configuration: its schema, the
// defaults, and validation whose errors name the key and the line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/fsaudit/fsaudit/record"
)

// DefaultPath is where `fsaudit run` looks for a config without --config.
const DefaultPath = "/etc/fsaudit/config.toml"

// Config is the whole configuration file.
type Config struct {
	Agent      Agent      `toml:"agent"`
	Filter     Filter     `toml:"filter"`
	Coalesce   Coalesce   `toml:"coalesce"`
	Spool      Spool      `toml:"spool"`
	Chain      Chain      `toml:"chain"`
	Containers Containers `toml:"containers"`
	Sinks      []Sink     `toml:"sink"`

	// Source names where the config came from, for messages.
	Source string `toml:"-"`
}

// Agent holds the [agent] table.
type Agent struct {
	Hook         string `toml:"hook"`
	RingBufferKB int    `toml:"ring_buffer_kb"`
	// MaxArgsBytes is how much of a process's argv process.args holds; a
	// longer one is cut there and flagged fsaudit.args_truncated.
	MaxArgsBytes  int    `toml:"max_args_bytes"`
	HostName      string `toml:"host_name"`
	LogLevel      string `toml:"log_level"`
	MetricsListen string `toml:"metrics_listen"`
}

// Filter holds the [filter] table.
type Filter struct {
	IncludePaths []string `toml:"include_paths"`
	ExcludePaths []string `toml:"exclude_paths"`
	ExcludeComms []string `toml:"exclude_comms"`
	ExcludeUIDs  []int64  `toml:"exclude_uids"`
	// ExcludeExecutables are programs (absolute paths) whose processes'
	// changes are left out, by the file's device and inode.
	ExcludeExecutables []string `toml:"exclude_executables"`
	RegularFilesOnly   bool     `toml:"regular_files_only"`
	IncludeCgroups     []string `toml:"include_cgroups"`
	// Actions are the operations audited; the kernel side does not even
	// look at the others.
	Actions []string `toml:"actions"`
}

// Coalesce holds the [coalesce] table.
type Coalesce struct {
	Window Duration `toml:"window"`
}

// Spool holds the [spool] table: one disk queue per sink under Dir.
type Spool struct {
	Dir       string `toml:"dir"` // "": no spool, records wait in memory only
	MaxSizeMB int    `toml:"max_size_mb"`
	Full      string `toml:"full"` // drop_oldest or drop_newest
}

// Chain holds the [chain] table: the hash chain over each sink's records.
type Chain struct {
	Enabled bool   `toml:"enabled"`
	KeyFile string `toml:"key_file"` // HMAC key; "": plain SHA-256
	// SealKeyFile is the evolving sealing key made by fsaudit keygen; "":
	// no sealing.
	SealKeyFile  string   `toml:"seal_key_file"`
	SealInterval Duration `toml:"seal_interval"` // the longest between two seals
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

	// every type: which records, and how they are queued and batched
	IncludePaths []string `toml:"include_paths"`
	ExcludePaths []string `toml:"exclude_paths"`
	Actions      []string `toml:"actions"`
	Containers   string   `toml:"containers"`
	QueueSize    int      `toml:"queue_size"`
	// SealAnchor names another sink (kafka or syslog) that gets a copy of
	// each of this sink's seal records.
	SealAnchor   string   `toml:"seal_anchor"`
	BatchSize    int      `toml:"batch_size"`
	BatchTimeout Duration `toml:"batch_timeout"`
	RetryFor     Duration `toml:"retry_for"`

	// file
	Path string `toml:"path"`
	// Rotation is who rotates the file: "agent" (by max_size_mb and
	// max_age, keeping max_backups) or "external" (logrotate moves it and
	// sends SIGHUP; the agent never rotates it).
	Rotation   string   `toml:"rotation"`
	MaxSizeMB  int      `toml:"max_size_mb"`
	MaxBackups int      `toml:"max_backups"`
	MaxAge     Duration `toml:"max_age"`
	Compress   bool     `toml:"compress"`
	Fsync      string   `toml:"fsync"`

	// syslog
	Address         string `toml:"address"`
	Protocol        string `toml:"protocol"`
	Framing         string `toml:"framing"`
	Facility        string `toml:"facility"`
	Severity        string `toml:"severity"`
	MaxMessageBytes int    `toml:"max_message_bytes"`

	// syslog (tls://) and kafka
	TLS           bool   `toml:"tls"`
	TLSCAFile     string `toml:"tls_ca_file"`
	TLSCertFile   string `toml:"tls_cert_file"`
	TLSKeyFile    string `toml:"tls_key_file"`
	TLSServerName string `toml:"tls_server_name"`

	// kafka
	Brokers          []string `toml:"brokers"`
	Topic            string   `toml:"topic"`
	Key              string   `toml:"key"`
	Acks             string   `toml:"acks"`
	Compression      string   `toml:"compression"`
	SASLMechanism    string   `toml:"sasl_mechanism"`
	SASLUsername     string   `toml:"sasl_username"`
	SASLPasswordFile string   `toml:"sasl_password_file"`
	SASLPasswordEnv  string   `toml:"sasl_password_env"`
	CreateTopic      bool     `toml:"create_topic"`
	TopicPartitions  int      `toml:"topic_partitions"`
	TopicReplication int      `toml:"topic_replication"`
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
		Agent: Agent{Hook: "auto", LogLevel: "info", RingBufferKB: 8192, MaxArgsBytes: 4096},
		Filter: Filter{
			IncludePaths:     []string{"/"},
			ExcludePaths:     []string{"/proc", "/sys", "/dev"},
			RegularFilesOnly: true,
			Actions:          append([]string(nil), actions...),
		},
		Coalesce: Coalesce{Window: Duration{time.Second}},
		Spool:    Spool{Dir: "/var/lib/fsaudit/spool", MaxSizeMB: 1024, Full: "drop_oldest"},
		Chain:    Chain{Enabled: true, SealInterval: Duration{15 * time.Minute}},
		Containers: Containers{
			DockerRoot:    "/var/lib/docker",
			StorageRoot:   "/var/lib/containers/storage",
			CRISockets:    []string{"/run/containerd/containerd.sock", "/run/crio/crio.sock"},
			LookupTimeout: Duration{time.Second},
		},
	}
}

// sinkDefaults fills what a [[sink]] leaves out; set lists the keys the
// file gave it, for defaults that a 0 set on purpose must not replace.
func sinkDefaults(s *Sink, set []string) {
	if s.Format == "" {
		s.Format = "json"
	}
	if s.Containers == "" {
		s.Containers = "any"
	}
	if s.QueueSize == 0 {
		s.QueueSize = 1 << 16
	}
	if s.BatchSize == 0 {
		s.BatchSize = 512 // as sink.DefaultBatchSize
	}
	if s.BatchTimeout.Duration == 0 {
		s.BatchTimeout.Duration = 20 * time.Millisecond // as sink.DefaultBatchTimeout
	}
	if s.RetryFor.Duration == 0 {
		s.RetryFor.Duration = 30 * time.Second
	}
	switch s.Type {
	case "file":
		if s.Rotation == "" {
			s.Rotation = "agent"
		}
		if s.MaxSizeMB == 0 {
			s.MaxSizeMB = 100
		}
		if !slices.Contains(set, "max_backups") {
			// max_backups = 0 keeps no rotated file.
			s.MaxBackups = 10
		}
		if s.Fsync == "" {
			s.Fsync = "1s"
		}
	case "syslog":
		if s.Protocol == "" {
			s.Protocol = "rfc5424"
		}
		if s.Framing == "" && !strings.HasPrefix(s.Address, "udp://") {
			s.Framing = "octet-counting"
		}
		if s.Facility == "" {
			s.Facility = "local0"
		}
		if s.Severity == "" {
			s.Severity = "notice"
		}
		if s.MaxMessageBytes == 0 {
			s.MaxMessageBytes = 65536
			if strings.HasPrefix(s.Address, "udp://") {
				s.MaxMessageBytes = 8192
			}
		}
	case "kafka":
		if s.Key == "" {
			s.Key = "host"
		}
		if s.Acks == "" {
			s.Acks = "all"
		}
		if s.Compression == "" {
			s.Compression = "none"
		}
		if s.TopicPartitions == 0 {
			s.TopicPartitions = 6
		}
		if s.TopicReplication == 0 {
			s.TopicReplication = 1
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

// Load reads and validates the config file at path. A file that users
// other than its owner (root or the agent's own user) could change is
// refused: the config decides what is audited and where records go.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if err := ownedSafely(st); err != nil {
		return nil, &Error{Source: path, Msg: err.Error()}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// ownedSafely refuses a file that group or others may write, or that
// belongs to a user who is neither root nor the one running the agent.
func ownedSafely(st os.FileInfo) error {
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("mode %04o lets other users change it: make it writable by its owner only (chmod go-w)", st.Mode().Perm())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 && int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("owned by uid %d, neither root nor the agent's user", sys.Uid)
	}
	return nil
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
		sinkDefaults(&cfg.Sinks[i], keysOfSink(md, i))
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

var sinkName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

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
	// The event.action values of file changes a sink may select.
	actions           = record.FileActions
	containerChoices  = []string{"any", "only", "none"}
	framings          = []string{"octet-counting", "newline"}
	kafkaAcks         = []string{"all", "leader", "none"}
	kafkaCompressions = []string{"none", "gzip", "snappy", "lz4", "zstd"}
	saslMechanisms    = []string{"", "plain", "scram-sha-256", "scram-sha-512"}
)

// checkListen tells whether addr is a TCP listen address: "host:port",
// ":port" or "[v6]:port", with a port number (not a service name).
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New(`want "host:port", e.g. "127.0.0.1:9464"`)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("host %q is not a host name or address", host)
	}
	return nil
}

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
	if l := c.Agent.MetricsListen; l != "" {
		// ${NAME} is the environment's: a DaemonSet binds the node's own
		// address (the downward API's status.hostIP), not every interface.
		var unset []string
		l = os.Expand(l, func(name string) string {
			v, ok := os.LookupEnv(name)
			if !ok {
				unset = append(unset, name)
			}
			return v
		})
		if len(unset) > 0 {
			return errAt(fmt.Sprintf("%q: environment variable %s is not set", c.Agent.MetricsListen, unset[0]), "agent", "metrics_listen")
		}
		c.Agent.MetricsListen = l
		if err := checkListen(l); err != nil {
			return errAt(fmt.Sprintf("%q: %s", l, err), "agent", "metrics_listen")
		}
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
	if n := c.Agent.MaxArgsBytes; n < 64 || n > 8191 {
		return errAt(fmt.Sprintf("%d: want 64 to 8191 (the most an exec event carries)", n), "agent", "max_args_bytes")
	}
	if kb := c.Agent.RingBufferKB; kb < 4 || kb&(kb-1) != 0 || kb > 1<<20 {
		return errAt(fmt.Sprintf("%d: want a power of two from 4 (one page) to 1048576", kb), "agent", "ring_buffer_kb")
	}
	if len(c.Filter.IncludeCgroups) > 16 {
		return errAt(fmt.Sprintf("%d cgroups: at most 16", len(c.Filter.IncludeCgroups)), "filter", "include_cgroups")
	}
	for _, cg := range c.Filter.IncludeCgroups {
		if !strings.HasPrefix(cg, "/") || strings.Contains(cg, "..") {
			return errAt(fmt.Sprintf("%q: want a cgroup path from the cgroup v2 root, such as \"/kubepods.slice\"", cg), "filter", "include_cgroups")
		}
	}
	if len(c.Filter.Actions) == 0 {
		return errAt("empty: name at least one of "+strings.Join(actions, ", "), "filter", "actions")
	}
	for _, a := range c.Filter.Actions {
		if !oneOf(a, actions) {
			return errAt(fmt.Sprintf("unknown action %q: want some of %s", a, strings.Join(actions, ", ")), "filter", "actions")
		}
	}
	for _, comm := range c.Filter.ExcludeComms {
		if comm == "" || len(comm) > 15 {
			return errAt(fmt.Sprintf("%q is not a process name the kernel keeps (1 to 15 bytes)", comm), "filter", "exclude_comms")
		}
	}
	if len(c.Filter.ExcludeExecutables) > 256 {
		return errAt(fmt.Sprintf("%d files: at most 256", len(c.Filter.ExcludeExecutables)), "filter", "exclude_executables")
	}
	for _, p := range c.Filter.ExcludeExecutables {
		if !strings.HasPrefix(p, "/") {
			return errAt(fmt.Sprintf("%q is not an absolute path", p), "filter", "exclude_executables")
		}
	}
	if len(c.Filter.ExcludeUIDs) > 256 {
		return errAt(fmt.Sprintf("%d users: at most 256", len(c.Filter.ExcludeUIDs)), "filter", "exclude_uids")
	}
	for _, uid := range c.Filter.ExcludeUIDs {
		if uid < 0 || uid >= 1<<32-1 {
			return errAt(fmt.Sprintf("%d is not a user id (0 to 4294967294)", uid), "filter", "exclude_uids")
		}
	}
	if c.Spool.MaxSizeMB < 1 {
		return errAt("must be at least 1", "spool", "max_size_mb")
	}
	if c.Spool.Dir != "" && !filepath.IsAbs(c.Spool.Dir) {
		return errAt(fmt.Sprintf("%q is not an absolute path", c.Spool.Dir), "spool", "dir")
	}
	if !oneOf(c.Spool.Full, []string{"drop_oldest", "drop_newest"}) {
		return errAt(fmt.Sprintf("unknown policy %q: want drop_oldest or drop_newest", c.Spool.Full), "spool", "full")
	}
	if c.Chain.KeyFile != "" && !filepath.IsAbs(c.Chain.KeyFile) {
		return errAt(fmt.Sprintf("%q is not an absolute path", c.Chain.KeyFile), "chain", "key_file")
	}
	if c.Chain.SealKeyFile != "" && !filepath.IsAbs(c.Chain.SealKeyFile) {
		return errAt(fmt.Sprintf("%q is not an absolute path", c.Chain.SealKeyFile), "chain", "seal_key_file")
	}
	if c.Chain.SealKeyFile != "" && !c.Chain.Enabled {
		return errAt("seals a chain: needs [chain] enabled = true", "chain", "seal_key_file")
	}
	if c.Chain.SealInterval.Duration < time.Second {
		return errAt("must be at least 1s", "chain", "seal_interval")
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
		if !sinkName.MatchString(s.Name) {
			return at(fmt.Sprintf("%q: a name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (it names the sink's spool directory)", s.Name), "name")
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
			if s.Rotation == "external" && slices.Contains(agentRotationKeys, k) {
				return at("rotation = \"external\" leaves rotating the file to logrotate: remove this key", k)
			}
		}
		if err := validateSink(s, at); err != nil {
			return err
		}
	}
	for i := range c.Sinks {
		s := &c.Sinks[i]
		if s.SealAnchor == "" {
			continue
		}
		at := func(msg string) error {
			return &Error{Source: c.Source, Line: idx.sinkLine(i, "seal_anchor"), Key: fmt.Sprintf("sink[%d].seal_anchor", i), Msg: msg}
		}
		j, ok := seen[s.SealAnchor]
		switch {
		case !c.Chain.Enabled:
			return at("anchors the sink's seals: needs [chain] enabled = true")
		case !ok:
			return at(fmt.Sprintf("no sink is named %q", s.SealAnchor))
		case j == i:
			return at("a sink cannot anchor its seals in itself")
		case c.Sinks[j].SealAnchor != "":
			return at(fmt.Sprintf("sink %q anchors its own seals elsewhere: an anchor has none", s.SealAnchor))
		case c.Sinks[j].Type != "kafka" && c.Sinks[j].Type != "syslog":
			return at(fmt.Sprintf("sink %q is a %s sink: anchor in a kafka or syslog sink, a copy off this host", s.SealAnchor, c.Sinks[j].Type))
		case c.Sinks[j].Format != "json":
			return at(fmt.Sprintf("sink %q writes %s: the copies of seals are read back from json only", s.SealAnchor, c.Sinks[j].Format))
		}
	}
	return nil
}

// validateSink checks one [[sink]]'s values; at ties a message to a key.
func validateSink(s *Sink, at func(msg, key string) error) error {
	for _, list := range []struct {
		key   string
		paths []string
	}{{"include_paths", s.IncludePaths}, {"exclude_paths", s.ExcludePaths}} {
		for _, p := range list.paths {
			if !filepath.IsAbs(p) {
				return at(fmt.Sprintf("%q is not an absolute path", p), list.key)
			}
		}
	}
	for _, a := range s.Actions {
		if !oneOf(a, actions) {
			return at(fmt.Sprintf("unknown action %q: want some of %s", a, strings.Join(actions, ", ")), "actions")
		}
	}
	if !oneOf(s.Containers, containerChoices) {
		return at(fmt.Sprintf("unknown value %q: want any, only or none", s.Containers), "containers")
	}
	if s.QueueSize < 1 {
		return at("must be at least 1", "queue_size")
	}
	if s.BatchSize < 1 {
		return at("must be at least 1", "batch_size")
	}
	switch s.Type {
	case "file":
		if s.Path == "" || !filepath.IsAbs(s.Path) {
			return at("a file sink needs an absolute path", "path")
		}
		if !oneOf(s.Rotation, []string{"agent", "external"}) {
			return at(fmt.Sprintf("unknown rotation %q: want agent or external", s.Rotation), "rotation")
		}
		if s.MaxSizeMB < 1 {
			return at("must be at least 1", "max_size_mb")
		}
		if s.MaxBackups < 0 {
			return at("must not be negative", "max_backups")
		}
		if _, err := ParseFsync(s.Fsync); err != nil {
			return at(err.Error(), "fsync")
		}
	case "syslog":
		scheme, hostPort, _ := strings.Cut(s.Address, "://")
		if !oneOf(scheme, []string{"udp", "tcp", "tls"}) || hostPort == "" {
			return at(fmt.Sprintf("address %q: want udp://, tcp:// or tls:// HOST:PORT", s.Address), "address")
		}
		if _, _, err := net.SplitHostPort(hostPort); err != nil {
			return at(fmt.Sprintf("address %q: want HOST:PORT after the scheme", s.Address), "address")
		}
		if !oneOf(s.Protocol, syslogProtos) {
			return at(fmt.Sprintf("unknown protocol %q: want rfc5424 or rfc3164", s.Protocol), "protocol")
		}
		if scheme == "udp" && s.Framing != "" {
			return at("a UDP datagram holds one message: framing applies to tcp:// and tls://", "framing")
		}
		if scheme != "udp" && !oneOf(s.Framing, framings) {
			return at(fmt.Sprintf("unknown framing %q: want octet-counting or newline", s.Framing), "framing")
		}
		if _, ok := Facility(s.Facility); !ok {
			return at(fmt.Sprintf("unknown facility %q: want a name such as local0, authpriv or audit, or 0 to 23", s.Facility), "facility")
		}
		if _, ok := Severity(s.Severity); !ok {
			return at(fmt.Sprintf("unknown severity %q: want emerg, alert, crit, err, warning, notice, info or debug", s.Severity), "severity")
		}
		if s.MaxMessageBytes < 1024 {
			return at("must be at least 1024: the header alone may take several hundred bytes", "max_message_bytes")
		}
		if scheme == "udp" && s.MaxMessageBytes > 65507 {
			return at("a UDP datagram holds at most 65507 bytes", "max_message_bytes")
		}
		if scheme != "tls" {
			for _, k := range []struct{ key, v string }{{"tls_ca_file", s.TLSCAFile}, {"tls_cert_file", s.TLSCertFile}, {"tls_key_file", s.TLSKeyFile}, {"tls_server_name", s.TLSServerName}} {
				if k.v != "" {
					return at("applies to tls:// addresses only", k.key)
				}
			}
		}
	case "kafka":
		if len(s.Brokers) == 0 {
			return at("a kafka sink needs at least one broker", "brokers")
		}
		for _, b := range s.Brokers {
			if _, _, err := net.SplitHostPort(b); err != nil {
				return at(fmt.Sprintf("broker %q: want HOST:PORT", b), "brokers")
			}
		}
		if s.Topic == "" {
			return at("a kafka sink needs a topic", "topic")
		}
		if !oneOf(s.Key, kafkaKeyKinds) {
			return at(fmt.Sprintf("unknown key %q: want one of %s", s.Key, strings.Join(kafkaKeyKinds, ", ")), "key")
		}
		if !oneOf(s.Acks, kafkaAcks) {
			return at(fmt.Sprintf("unknown acks %q: want all, leader or none", s.Acks), "acks")
		}
		if !oneOf(s.Compression, kafkaCompressions) {
			return at(fmt.Sprintf("unknown compression %q: want one of %s", s.Compression, strings.Join(kafkaCompressions, ", ")), "compression")
		}
		if !oneOf(s.SASLMechanism, saslMechanisms) {
			return at(fmt.Sprintf("unknown SASL mechanism %q: want plain, scram-sha-256 or scram-sha-512", s.SASLMechanism), "sasl_mechanism")
		}
		if s.SASLMechanism != "" {
			if s.SASLUsername == "" {
				return at("SASL needs a user name", "sasl_username")
			}
			if (s.SASLPasswordFile == "") == (s.SASLPasswordEnv == "") {
				return at("SASL needs the password from exactly one of sasl_password_file and sasl_password_env", "sasl_password_file")
			}
		}
		if s.TopicPartitions < 1 {
			return at("must be at least 1", "topic_partitions")
		}
		if s.TopicReplication < 1 {
			return at("must be at least 1", "topic_replication")
		}
	}
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		return at("a client certificate needs both tls_cert_file and tls_key_file", "tls_cert_file")
	}
	for _, k := range []struct{ key, v string }{{"tls_ca_file", s.TLSCAFile}, {"tls_cert_file", s.TLSCertFile}, {"tls_key_file", s.TLSKeyFile}, {"sasl_password_file", s.SASLPasswordFile}} {
		if k.v != "" && !filepath.IsAbs(k.v) {
			return at(fmt.Sprintf("%q is not an absolute path", k.v), k.key)
		}
	}
	return nil
}

var sinkKeys = map[string][]string{
	"":       {"name", "type", "format", "include_paths", "exclude_paths", "actions", "containers", "queue_size", "batch_size", "batch_timeout", "retry_for", "seal_anchor"},
	"file":   {"path", "rotation", "max_size_mb", "max_backups", "max_age", "compress", "fsync"},
	"syslog": {"address", "protocol", "framing", "facility", "severity", "max_message_bytes", "tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name"},
	"kafka": {"brokers", "topic", "key", "acks", "compression", "tls", "tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name",
		"sasl_mechanism", "sasl_username", "sasl_password_file", "sasl_password_env", "create_topic", "topic_partitions", "topic_replication"},
}

// agentRotationKeys are the file sink's keys of rotation = "agent".
var agentRotationKeys = []string{"max_size_mb", "max_backups", "max_age", "compress"}

// keyApplies tells whether a [[sink]] key belongs to a sink type.
func keyApplies(typ, key string) bool {
	return slices.Contains(sinkKeys[""], key) || slices.Contains(sinkKeys[typ], key)
}

// ParseFsync reads a file sink's fsync policy: "batch" (after every
// batch), "never", or an interval such as "1s" (at most that long after a
// write). It returns the interval; 0 means every batch, -1 never.
func ParseFsync(v string) (time.Duration, error) {
	switch v {
	case "batch":
		return 0, nil
	case "never":
		return -1, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("fsync %q: want batch, never, or an interval such as \"1s\"", v)
	}
	return d, nil
}

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "audit": 13, "security": 13, "alert": 14, "clock": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Facility returns the syslog facility code of a name or number.
func Facility(v string) (int, bool) {
	if n, ok := facilities[v]; ok {
		return n, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0 && n <= 23
}

var severities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// Severity returns the syslog severity code of a name.
func Severity(v string) (int, bool) {
	i := slices.Index(severities, v)
	return i, i >= 0
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
