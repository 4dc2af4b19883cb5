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
	// SinkTables are the [[sink]] tables as read; Parse decodes each
	// into Sinks, by its type.
	SinkTables []toml.Primitive `toml:"sink"`
	Sinks      []Sink           `toml:"-"`

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

// Sink is one [[sink]] table: the keys every type of sink has, and
// Settings, the type's own keys, decoded into the type's struct (see
// SinkSettings).
type Sink struct {
	Name   string `toml:"name"`
	Type   string `toml:"type"`
	Format string `toml:"format"`

	// which records, and how they are queued and batched
	IncludePaths []string `toml:"include_paths"`
	ExcludePaths []string `toml:"exclude_paths"`
	Actions      []string `toml:"actions"`
	Containers   string   `toml:"containers"`
	QueueSize    int      `toml:"queue_size"`
	// SealAnchor names another sink, one that sends off the host, that
	// gets a copy of each of this sink's seal records.
	SealAnchor   string   `toml:"seal_anchor"`
	BatchSize    int      `toml:"batch_size"`
	BatchTimeout Duration `toml:"batch_timeout"`
	RetryFor     Duration `toml:"retry_for"`

	// Settings holds the keys of the sink's type.
	Settings SinkSettings `toml:"-"`
}

// The batching of a sink whose [[sink]] table leaves it out.
const (
	DefaultBatchSize    = 512
	DefaultBatchTimeout = 20 * time.Millisecond
)

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

// sinkDefaults fills what a [[sink]] leaves out: the keys of every
// sink here, the type's own in its Defaults; set lists the keys the file
// gave it, for defaults that a 0 set on purpose must not replace.
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
		s.BatchSize = DefaultBatchSize
	}
	if s.BatchTimeout.Duration == 0 {
		s.BatchTimeout.Duration = DefaultBatchTimeout
	}
	if s.RetryFor.Duration == 0 {
		s.RetryFor.Duration = 30 * time.Second
	}
	if s.Settings != nil {
		s.Settings.Defaults(s, set)
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

// Parse decodes and validates TOML text; source names it in errors. The
// types of sink it knows are those registered (RegisterSinkType), which
// importing sink/registry does.
func Parse(source string, data []byte) (*Config, error) {
	cfg := Defaults()
	cfg.Source = source
	idx := indexLines(data)
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&cfg)
	if err != nil {
		return nil, decodeError(source, idx, err)
	}
	cfg.Sinks = make([]Sink, len(cfg.SinkTables))
	for i, p := range cfg.SinkTables {
		// Each table is decoded twice: the keys of every sink, then the
		// type's own into its struct. Keys neither knows are found by
		// validate, sink by sink (sinkKeysSet).
		s := &cfg.Sinks[i]
		if err := md.PrimitiveDecode(p, s); err != nil {
			return nil, sinkDecodeError(source, idx, i, err)
		}
		if t := sinkType(s.Type); t != nil {
			s.Settings = t.new()
			if err := md.PrimitiveDecode(p, s.Settings); err != nil {
				return nil, sinkDecodeError(source, idx, i, err)
			}
		}
	}
	for _, k := range md.Undecoded() {
		if k[0] == "sink" {
			continue
		}
		msg := "unknown key"
		if md.Type(k...) == "Hash" {
			msg = "unknown table"
		}
		return nil, &Error{Source: source, Line: idx.line(k), Key: k.String(), Msg: msg}
	}
	sets := make([][]string, len(cfg.Sinks))
	for i := range cfg.Sinks {
		sets[i] = sinkKeysSet(md, cfg.SinkTables[i], idx, i)
		sinkDefaults(&cfg.Sinks[i], sets[i])
	}
	if err := cfg.validate(idx, sets); err != nil {
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
		line, _ := strconv.Atoi(m[1]) // 0 when the decoder did not say
		return &Error{Source: source, Line: line, Key: m[2], Msg: oneLine(m[3])}
	}
	return &Error{Source: source, Msg: oneLine(strings.TrimPrefix(err.Error(), "toml: "))}
}

// sinkDecodeError names the i-th [[sink]] in a decoding error of its
// table ("sink[1].max_backups" rather than "sink.max_backups").
func sinkDecodeError(source string, idx lineIndex, i int, err error) error {
	e := decodeError(source, idx, err)
	if ce, ok := e.(*Error); ok {
		if key, ok := strings.CutPrefix(ce.Key, "sink."); ok {
			ce.Key = fmt.Sprintf("sink[%d].%s", i, key)
			if ce.Line == 0 {
				ce.Line = idx.sinkLine(i, key)
			}
		}
	}
	return e
}

var sinkName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

var typeErr = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)`)

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

var (
	hookNames = []string{"auto", "fentry", "kprobe", "tracepoint"}
	logLevels = []string{"trace", "debug", "info", "warn", "error"}
	formats   = []string{"json", "ocsf", "cef"}
	// The event.action values of file changes a sink may select.
	actions          = record.FileActions
	containerChoices = []string{"any", "only", "none"}
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

// validate checks the decoded config; sets are the keys each [[sink]]
// gave.
func (c *Config) validate(idx lineIndex, sets [][]string) error {
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
		if s.Settings == nil {
			if len(sinkTypes) == 0 {
				return at("no type of sink is built in: a program that parses configs imports sink/registry", "type")
			}
			return at(fmt.Sprintf("unknown sink type %q: want one of %s", s.Type, strings.Join(SinkTypes(), ", ")), "type")
		}
		if !oneOf(s.Format, formats) {
			return at(fmt.Sprintf("unknown format %q: want one of %s", s.Format, strings.Join(formats, ", ")), "format")
		}
		set := sets[i]
		for _, k := range set {
			if slices.Contains(sinkKeys, k) || slices.Contains(tomlKeys(s.Settings), k) {
				continue
			}
			if others := typesWithKey(k); len(others) > 0 {
				return at(fmt.Sprintf("does not apply to a %s sink (a key of %s)", s.Type, strings.Join(others, ", ")), k)
			}
			return at("unknown key", k)
		}
		if err := validateSink(s, at); err != nil {
			return err
		}
		if err := s.Settings.Validate(s, set, at); err != nil {
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
		case !offHost(c.Sinks[j].Settings):
			return at(fmt.Sprintf("sink %q is a %s sink: anchor in a sink that sends off this host (%s)", s.SealAnchor, c.Sinks[j].Type, strings.Join(offHostTypes(), ", ")))
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
	return nil
}

// sinkKeysSet lists the keys the file set in the i-th [[sink]], in the
// order of their lines: the table's own keys, read from the table itself
// (a dotted key such as a.b = 1, or a sub-table, counts as its first part),
// so that every key is checked against the sink's type.
func sinkKeysSet(md toml.MetaData, p toml.Primitive, idx lineIndex, i int) []string {
	var m map[string]any
	if err := md.PrimitiveDecode(p, &m); err != nil {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b string) int {
		if c := idx.sinkLine(i, a) - idx.sinkLine(i, b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return out
}
