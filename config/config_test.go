package config_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/config"
	"github.com/fsaudit/fsaudit/sink/file"
	"github.com/fsaudit/fsaudit/sink/kafka"
	_ "github.com/fsaudit/fsaudit/sink/registry"
	"github.com/fsaudit/fsaudit/sink/syslog"
)

const good = `
[agent]
hook = "tracepoint"
log_level = "debug"

[filter]
include_paths = ["/home", "/etc"]
exclude_comms = ["logrotate"]

[coalesce]
window = "250ms"

[[sink]]
name = "local"
type = "file"
path = "/var/log/fsaudit/audit.jsonl"

[[sink]]
name = "siem"
type = "syslog"
address = "tcp://127.0.0.1:6514"

[[sink]]
name = "pipeline"
type = "kafka"
brokers = ["127.0.0.1:9092"]
topic = "fsaudit"
`

func TestParseGood(t *testing.T) {
	c, err := config.Parse("good.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Agent.Hook != "tracepoint" || c.Agent.LogLevel != "debug" {
		t.Errorf("agent = %+v", c.Agent)
	}
	if got := strings.Join(c.Filter.IncludePaths, ","); got != "/home,/etc" {
		t.Errorf("include_paths = %s", got)
	}
	// Unset keys keep their defaults.
	if got := strings.Join(c.Filter.ExcludePaths, ","); got != "/proc,/sys,/dev" {
		t.Errorf("exclude_paths default = %s", got)
	}
	if !c.Filter.RegularFilesOnly {
		t.Error("regular_files_only default should be true")
	}
	if c.Coalesce.Window.Duration != 250*time.Millisecond {
		t.Errorf("window = %v", c.Coalesce.Window)
	}
	if len(c.Sinks) != 3 {
		t.Fatalf("sinks = %d", len(c.Sinks))
	}
	f := c.Sinks[0].Settings.(*file.Config)
	if c.Sinks[0].Format != "json" || f.MaxSizeMB != 100 || f.MaxBackups != 10 {
		t.Errorf("file sink defaults = %+v %+v", c.Sinks[0], f)
	}
	if p, k := c.Sinks[1].Settings.(*syslog.Config).Protocol, c.Sinks[2].Settings.(*kafka.Config).Key; p != "rfc5424" || k != "host" {
		t.Errorf("sink defaults: protocol %q, key %q", p, k)
	}
}

// TestMaxBackups: an unset max_backups keeps 10 rotated files, and an
// explicit 0 keeps none; each [[sink]] on its own.
func TestMaxBackups(t *testing.T) {
	sink := func(name, extra string) string {
		return fmt.Sprintf("[[sink]]\nname = %q\ntype = \"file\"\npath = \"/var/log/%s.jsonl\"\n%s", name, name, extra)
	}
	tests := []struct {
		name string
		toml string
		want []int
	}{
		{"unset", sink("a", ""), []int{10}},
		{"zero", sink("a", "max_backups = 0\n"), []int{0}},
		{"three", sink("a", "max_backups = 3\n"), []int{3}},
		{"zero then unset", sink("a", "max_backups = 0\n") + sink("b", ""), []int{0, 10}},
		{"inline, zero then unset", `sink = [{name = "a", type = "file", path = "/a", max_backups = 0}, {name = "b", type = "file", path = "/b"}]`, []int{0, 10}},
		{"inline, unset then zero", `sink = [{name = "a", type = "file", path = "/a"}, {name = "b", type = "file", path = "/b", max_backups = 0}]`, []int{10, 0}},
		{"unset then zero", sink("a", "") + sink("b", "max_backups = 0\n"), []int{10, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("t.toml", []byte(tc.toml))
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, s := range c.Sinks {
				got = append(got, s.Settings.(*file.Config).MaxBackups)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("max_backups = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRepoConfigIsValid(t *testing.T) {
	c, err := config.Load("../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sinks) != 1 || c.Sinks[0].Type != "file" {
		t.Errorf("the default config must need no server: sinks = %+v", c.Sinks)
	}
}

func TestParseErrors(t *testing.T) {
	const sink = "[[sink]]\nname = \"a\"\ntype = \"file\"\npath = \"/tmp/a\"\n"
	tests := []struct {
		name string
		toml string
		want string // the whole one-line message
	}{
		{"unknown top key", "[agent]\nhook = \"auto\"\nbogus = 1\n" + sink,
			"t.toml:3: agent.bogus: unknown key"},
		{"unknown table", sink + "[nope]\nx = 1\n",
			"t.toml:5: nope: unknown table"},
		{"unknown sink key", sink + "[[sink]]\nname = \"b\"\ntype = \"file\"\npath = \"/tmp/b\"\ncolour = \"red\"\n",
			"t.toml:9: sink[1].colour: unknown key"},
		{"wrong type", "[agent]\nlog_level = 3\n" + sink,
			`t.toml:2: agent.log_level: incompatible types: TOML value has type int64; destination has type string`},
		{"metrics address without port", "[agent]\nmetrics_listen = \"localhost\"\n" + sink,
			`t.toml:2: agent.metrics_listen: "localhost": want "host:port", e.g. "127.0.0.1:9464"`},
		{"metrics port by name", "[agent]\nmetrics_listen = \"127.0.0.1:http\"\n" + sink,
			`t.toml:2: agent.metrics_listen: "127.0.0.1:http": port "http" is not a number from 0 to 65535`},
		{"metrics address from an unset variable", "[agent]\nmetrics_listen = \"${FSAUDIT_TEST_UNSET}:9464\"\n" + sink,
			`t.toml:2: agent.metrics_listen: "${FSAUDIT_TEST_UNSET}:9464": environment variable FSAUDIT_TEST_UNSET is not set`},
		{"exclude_executables relative", "[filter]\nexclude_executables = [\"bin/x\"]\n" + sink,
			`t.toml:2: filter.exclude_executables: "bin/x" is not an absolute path`},
		{"external rotation with a size", sink[:len(sink)-1] + "\nrotation = \"external\"\nmax_size_mb = 10\n",
			`t.toml:6: sink[0].max_size_mb: rotation = "external" leaves rotating the file to logrotate: remove this key`},
		{"unknown rotation", sink[:len(sink)-1] + "\nrotation = \"daily\"\n",
			`t.toml:5: sink[0].rotation: unknown rotation "daily": want agent or external`},
		{"wrong type in list", "[filter]\ninclude_paths = \"/home\"\n" + sink,
			`t.toml:2: filter.include_paths: incompatible types: TOML value has type string; destination has type slice`},
		{"bad duration", "[coalesce]\nwindow = \"fast\"\n" + sink,
			`t.toml:2: coalesce.window: bad duration "fast": want a number with a unit, such as "1s" or "250ms"`},
		{"negative duration", "[coalesce]\nwindow = \"-1s\"\n" + sink,
			`t.toml:2: coalesce.window: bad duration "-1s": negative`},
		{"unknown sink type", "[[sink]]\nname = \"a\"\ntype = \"carrier-pigeon\"\n",
			`t.toml:3: sink[0].type: unknown sink type "carrier-pigeon": want one of file, syslog, kafka, stdout, null`},
		{"duplicate sink name", sink + "[[sink]]\nname = \"a\"\ntype = \"stdout\"\n",
			`t.toml:6: sink[1].name: duplicate sink name "a" (also sink[0])`},
		{"missing sink name", "[[sink]]\ntype = \"stdout\"\n",
			`t.toml:1: sink[0].name: missing: every sink needs a unique name`},
		{"no sinks", "[agent]\nhook = \"auto\"\n",
			`t.toml: sink: no [[sink]]: records would go nowhere`},
		{"unknown hook", "[agent]\nhook = \"uprobe\"\n" + sink,
			`t.toml:2: agent.hook: unknown hook "uprobe": want one of auto, fentry, kprobe, tracepoint`},
		{"relative include", "[filter]\ninclude_paths = [\"home\"]\n" + sink,
			`t.toml:2: filter.include_paths: "home" is not an absolute path`},
		{"long comm", "[filter]\nexclude_comms = [\"a-very-long-process-name\"]\n" + sink,
			`t.toml:2: filter.exclude_comms: "a-very-long-process-name" is not a process name the kernel keeps (1 to 15 bytes)`},
		{"negative uid", "[filter]\nexclude_uids = [0, -1]\n" + sink,
			`t.toml:2: filter.exclude_uids: -1 is not a user id (0 to 4294967294)`},
		{"unset uid", "[filter]\nexclude_uids = [4294967295]\n" + sink,
			`t.toml:2: filter.exclude_uids: 4294967295 is not a user id (0 to 4294967294)`},
		{"relative docker root", "[containers]\ndocker_root = \"var/lib/docker\"\n" + sink,
			`t.toml:2: containers.docker_root: "var/lib/docker" is not an absolute path`},
		{"relative CRI socket", "[containers]\ncri_sockets = [\"containerd.sock\"]\n" + sink,
			`t.toml:2: containers.cri_sockets: "containerd.sock" is not an absolute path to a socket`},
		{"zero lookup timeout", "[containers]\nlookup_timeout = \"0s\"\n" + sink,
			`t.toml:2: containers.lookup_timeout: must be more than 0`},
		{"unknown containers key", "[containers]\ndocker_sock = \"/run/docker.sock\"\n" + sink,
			`t.toml:2: containers.docker_sock: unknown key`},
		{"unknown filter action", "[filter]\nactions = [\"write\", \"erase\"]\n" + sink,
			`t.toml:2: filter.actions: unknown action "erase": want some of write, create, truncate, rename, delete, chmod, chown, xattr, mmap_write, utimes`},
		{"no filter action", "[filter]\nactions = []\n" + sink,
			`t.toml:2: filter.actions: empty: name at least one of write, create, truncate, rename, delete, chmod, chown, xattr, mmap_write, utimes`},
		{"unknown sink action", "[[sink]]\nname = \"a\"\ntype = \"stdout\"\nactions = [\"write\", \"erase\"]\n",
			`t.toml:4: sink[0].actions: unknown action "erase": want some of write, create, truncate, rename, delete, chmod, chown, xattr, mmap_write, utimes`},
		{"bad containers choice", "[[sink]]\nname = \"a\"\ntype = \"stdout\"\ncontainers = \"some\"\n",
			`t.toml:4: sink[0].containers: unknown value "some": want any, only or none`},
		{"bad fsync", "[[sink]]\nname = \"a\"\ntype = \"file\"\npath = \"/a\"\nfsync = \"often\"\n",
			`t.toml:5: sink[0].fsync: fsync "often": want batch, never, or an interval such as "1s"`},
		{"framing over UDP", "[[sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"udp://h:514\"\nframing = \"newline\"\n",
			`t.toml:5: sink[0].framing: a UDP datagram holds one message: framing applies to tcp:// and tls://`},
		{"unknown facility", "[[sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"tcp://h:514\"\nfacility = \"local9\"\n",
			`t.toml:5: sink[0].facility: unknown facility "local9": want a name such as local0, authpriv or audit, or 0 to 23`},
		{"syslog address without port", "[[sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"tcp://h\"\n",
			`t.toml:4: sink[0].address: address "tcp://h": want HOST:PORT after the scheme`},
		{"tls file on tcp", "[[sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"tcp://h:1\"\ntls_ca_file = \"/ca.pem\"\n",
			`t.toml:5: sink[0].tls_ca_file: applies to tls:// addresses only`},
		{"enterprise number out of range", "[[sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"tcp://h:1\"\nenterprise_number = -5\n",
			`t.toml:5: sink[0].enterprise_number: -5: want a private enterprise number from IANA, 1 to 2147483647`},
		{"enterprise number in rfc3164", "[[sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"tcp://h:1\"\nprotocol = \"rfc3164\"\nenterprise_number = 9\n",
			`t.toml:6: sink[0].enterprise_number: names the SD-ID of RFC 5424's STRUCTURED-DATA, which rfc3164 has none of`},
		{"tiny syslog messages", "[[sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"udp://h:1\"\nmax_message_bytes = 100\n",
			`t.toml:5: sink[0].max_message_bytes: must be at least 1024: the header alone may take several hundred bytes`},
		{"SASL without password", "[[sink]]\nname = \"a\"\ntype = \"kafka\"\nbrokers = [\"b:9092\"]\ntopic = \"t\"\nsasl_mechanism = \"scram-sha-512\"\nsasl_username = \"u\"\n",
			`t.toml:1: sink[0].sasl_password_file: SASL needs the password from exactly one of sasl_password_file and sasl_password_env`},
		{"client cert without key", "[[sink]]\nname = \"a\"\ntype = \"kafka\"\nbrokers = [\"b:9092\"]\ntopic = \"t\"\ntls = true\ntls_cert_file = \"/c.pem\"\n",
			`t.toml:7: sink[0].tls_cert_file: a client certificate needs both tls_cert_file and tls_key_file`},
		{"key of another sink type", "[[sink]]\nname = \"a\"\ntype = \"stdout\"\ntopic = \"x\"\n",
			`t.toml:4: sink[0].topic: does not apply to a stdout sink (a key of kafka)`},
		{"key of two other sink types", "[[sink]]\nname = \"a\"\ntype = \"file\"\npath = \"/a\"\ntls_ca_file = \"/ca.pem\"\n",
			`t.toml:5: sink[0].tls_ca_file: does not apply to a file sink (a key of syslog, kafka)`},
		{"key of its type in another sink", "[[sink]]\nname = \"a\"\ntype = \"file\"\npath = \"/a\"\n[[sink]]\nname = \"b\"\ntype = \"stdout\"\npath = \"/b\"\n",
			`t.toml:8: sink[1].path: does not apply to a stdout sink (a key of file)`},
		{"dotted key in a sink", "[[sink]]\nname = \"a\"\ntype = \"kafka\"\nbrokers = [\"b:1\"]\ntopic = \"t\"\nsasl.mechanism = \"plain\"\n",
			`t.toml:6: sink[0].sasl: unknown key`},
		{"dotted key under a sink's key", "[[sink]]\nname = \"a\"\ntype = \"kafka\"\nbrokers = [\"b:1\"]\ntopic = \"t\"\ntls.x = 1\n",
			`t.toml:6: sink[0].tls: incompatible types: TOML value has type map[string]any; destination has type boolean`},
		{"table in a sink", "[[sink]]\nname = \"a\"\ntype = \"stdout\"\n[sink.foo]\nx = 1\n",
			`t.toml:1: sink[0].foo: unknown key`},
		{"unknown key in an inline sink", "sink = [{name = \"a\", type = \"stdout\"}, {name = \"b\", type = \"stdout\", bogus = 1}]\n",
			`t.toml: sink[1].bogus: unknown key`},
		{"wrong type of a sink type's key", "[[sink]]\nname = \"a\"\ntype = \"file\"\npath = \"/a\"\nmax_backups = \"many\"\n",
			`t.toml:5: sink[0].max_backups: incompatible types: TOML value has type string; destination has type integer`},
		{"anchor on the host", "[[sink]]\nname = \"a\"\ntype = \"file\"\npath = \"/a\"\nseal_anchor = \"b\"\n[[sink]]\nname = \"b\"\ntype = \"stdout\"\n",
			`t.toml:5: sink[0].seal_anchor: sink "b" is a stdout sink: anchor in a sink that sends off this host (syslog, kafka)`},
		{"relative file path", "[[sink]]\nname = \"a\"\ntype = \"file\"\npath = \"audit.jsonl\"\n",
			`t.toml:4: sink[0].path: a file sink needs an absolute path`},
		{"bad syslog address", "[[sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"127.0.0.1:514\"\n",
			`t.toml:4: sink[0].address: address "127.0.0.1:514": want udp://, tcp:// or tls:// HOST:PORT`},
		{"kafka without brokers", "[[sink]]\nname = \"a\"\ntype = \"kafka\"\ntopic = \"t\"\n",
			`t.toml:1: sink[0].brokers: a kafka sink needs at least one broker`},
		{"bad format", "[[sink]]\nname = \"a\"\ntype = \"stdout\"\nformat = \"xml\"\n",
			`t.toml:4: sink[0].format: unknown format "xml": want one of json, ocsf, cef`},
		{"syntax error", "[agent\nhook = \"auto\"\n",
			`t.toml:2: expected '.' or ']' to end table name, but got '\n' instead`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("t.toml", []byte(tc.toml))
			if err == nil {
				t.Fatal("no error")
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *config.Error: %v", err, err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load("/nonexistent/fsaudit.toml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("[[sink]]\nname=\"a\"\ntype=\"file\"\npath=\"/a\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.toml", data)
		if err == nil && len(c.Sinks) == 0 {
			t.Fatal("accepted a config without sinks")
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("error spans lines: %q", err)
		}
	})
}

func TestLoadRefusesFilesOthersCanChange(t *testing.T) {
	path := t.TempDir() + "/config.toml"
	if err := os.WriteFile(path, []byte("[[sink]]\nname = \"a\"\ntype = \"stdout\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path); err != nil {
		t.Fatalf("a 0600 config: %v", err)
	}
	for _, mode := range []os.FileMode{0o666, 0o620, 0o602} {
		os.Chmod(path, mode)
		_, err := config.Load(path)
		if err == nil || !strings.Contains(err.Error(), "lets other users change it") {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
}

// metrics_listen takes ${NAME} from the environment: a DaemonSet binds the
// node's address from the downward API.
func TestMetricsListenFromEnvironment(t *testing.T) {
	t.Setenv("FSAUDIT_TEST_NODE_IP", "10.1.2.3")
	c, err := config.Parse("t.toml", []byte("[agent]\nmetrics_listen = \"${FSAUDIT_TEST_NODE_IP}:9464\"\n[[sink]]\nname = \"a\"\ntype = \"stdout\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Agent.MetricsListen != "10.1.2.3:9464" {
		t.Errorf("metrics_listen = %q", c.Agent.MetricsListen)
	}
}

// A [[sink]] that leaves batching to the defaults batches as a route
// given no batching does (sink.DefaultBatchSize and config.DefaultBatchTimeout
// are these constants).
func TestSinkBatchDefaults(t *testing.T) {
	cfg, err := config.Parse("t", []byte("[[sink]]\nname = \"s\"\ntype = \"stdout\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sinks[0]
	if s.BatchSize != config.DefaultBatchSize || s.BatchTimeout.Duration != config.DefaultBatchTimeout {
		t.Errorf("batch_size %d, batch_timeout %v; want %d and %v", s.BatchSize, s.BatchTimeout.Duration, config.DefaultBatchSize, config.DefaultBatchTimeout)
	}
}
