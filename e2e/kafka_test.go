package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/internal/cef"
	"github.com/fsaudit/fsaudit/record"
	"github.com/segmentio/kafka-go"
)

// broker is the Apache Kafka broker the tests share, started once by
// scripts/kafka and stopped after the last test.
type broker struct {
	Plain, SSL, SASL string // listener addresses
	PKI              PKI
	Password         string // of the SASL user "fsaudit"
	dir              string
}

var (
	brokerOnce sync.Once
	theBroker  *broker
	brokerErr  error
)

func kafkaBroker(t testing.TB) *broker {
	t.Helper()
	requireRoot(t)
	requireTool(t, "java")
	requireTool(t, "mvn")
	brokerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fsaudit-kafka-")
		if err != nil {
			brokerErr = err
			return
		}
		pki := writePKI(t, dir)
		p := freePorts(t, 4)
		script, _ := filepath.Abs("../scripts/kafka")
		cmd := exec.Command(script, "start", filepath.Join(dir, "broker"),
			fmt.Sprint(p[0]), fmt.Sprint(p[1]), fmt.Sprint(p[2]), fmt.Sprint(p[3]), pki.CA, pki.Cert, pki.Key)
		out, err := cmd.CombinedOutput()
		suiteCleanups = append(suiteCleanups, func() {
			exec.Command(script, "stop", filepath.Join(dir, "broker")).Run()
			os.RemoveAll(dir)
		})
		if err != nil {
			brokerErr = fmt.Errorf("scripts/kafka start: %v\n%s", err, out)
			return
		}
		password, err := os.ReadFile(filepath.Join(dir, "broker", "password"))
		if err != nil {
			brokerErr = err
			return
		}
		theBroker = &broker{
			Plain: fmt.Sprintf("127.0.0.1:%d", p[0]), SSL: fmt.Sprintf("127.0.0.1:%d", p[1]), SASL: fmt.Sprintf("127.0.0.1:%d", p[2]),
			PKI: pki, Password: string(password), dir: dir,
		}
	})
	if brokerErr != nil {
		t.Fatal(brokerErr)
	}
	return theBroker
}

// freshTransport is a Kafka transport of its own: kafka-go's default one is
// shared by the whole test process and keeps topic metadata for seconds,
// so a topic created since would look unknown to it.
func freshTransport() *kafka.Transport { return &kafka.Transport{MetadataTTL: time.Second} }

// readTopic reads every message of every partition of topic, through the
// plaintext listener, until want messages came or 60 s passed.
func (b *broker) readTopic(t testing.TB, topic string, want int) []kafka.Message {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(b.Plain), Timeout: 10 * time.Second, Transport: freshTransport()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []kafka.Message
	for {
		out = out[:0]
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			t.Fatalf("metadata of %s: %v", topic, err)
		}
		if len(md.Topics) == 1 && md.Topics[0].Error == nil {
			for _, p := range md.Topics[0].Partitions {
				for _, m := range b.readPartition(t, ctx, topic, p.ID) {
					if !isSeal(string(m.Value)) { // the sink's chain, not a file change
						out = append(out, m)
					}
				}
			}
		}
		if len(out) >= want || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(out) != want {
		t.Fatalf("topic %s holds %d messages, want %d", topic, len(out), want)
	}
	return out
}

func (b *broker) readPartition(t testing.TB, ctx context.Context, topic string, partition int) []kafka.Message {
	t.Helper()
	conn, err := kafka.DialLeader(ctx, "tcp", b.Plain, topic, partition)
	if err != nil {
		t.Fatalf("dialing the leader of %s/%d: %v", topic, partition, err)
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		t.Fatalf("last offset of %s/%d: %v", topic, partition, err)
	}
	if _, err := conn.Seek(0, kafka.SeekAbsolute); err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for int64(len(out)) < last {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		batch := conn.ReadBatch(1, 16<<20)
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			out = append(out, m)
		}
		if err := batch.Close(); err != nil {
			t.Fatalf("reading %s/%d: %v", topic, partition, err)
		}
	}
	return out
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestKafkaSinks runs the agent with a file sink, a syslog sink to a real
// rsyslogd and four Kafka sinks to a real Apache Kafka broker, all from one
// config. The Kafka sinks: plaintext with zstd, TLS with lz4 and OCSF,
// SASL/SCRAM-SHA-512 over TLS (password from a file) with gzip and CEF, and
// SASL/PLAIN over TLS (password from the environment) with snappy. Each
// sink creates its topic. Every topic then holds exactly the file sink's
// records, each keyed as configured, in sequence order within its key,
// with the schema, format and host headers, and decoding to the same
// record, hostile file names included.
func TestKafkaSinks(t *testing.T) {
	b := kafkaBroker(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(b.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FSAUDIT_E2E_KAFKA_PASSWORD", b.Password)
	suffix := randHex(t, 4)
	topics := map[string]string{}
	for _, s := range []string{"plain", "tls", "scram", "plainsasl"} {
		topics[s] = "fsaudit-" + s + "-" + suffix
	}
	rs := startRsyslogd(t, b.PKI)
	work := tmpDir(t, "fsaudit-kafka-", 0)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	extra := fmt.Sprintf(`
[[sink]]
name = "syslog"
type = "syslog"
address = "tcp://127.0.0.1:%d"

[[sink]]
name = "plain"
type = "kafka"
brokers = [%q]
topic = %q
key = "path"
compression = "zstd"
create_topic = true
topic_partitions = 4

[[sink]]
name = "tls"
type = "kafka"
brokers = [%q]
topic = %q
format = "ocsf"
compression = "lz4"
tls = true
tls_ca_file = %q
create_topic = true

[[sink]]
name = "scram"
type = "kafka"
brokers = [%q]
topic = %q
format = "cef"
key = "container"
compression = "gzip"
tls = true
tls_ca_file = %q
sasl_mechanism = "scram-sha-512"
sasl_username = "fsaudit"
sasl_password_file = %q
create_topic = true

[[sink]]
name = "plainsasl"
type = "kafka"
brokers = [%q]
topic = %q
key = "none"
compression = "snappy"
tls = true
tls_ca_file = %q
sasl_mechanism = "plain"
sasl_username = "fsaudit"
sasl_password_env = "FSAUDIT_E2E_KAFKA_PASSWORD"
create_topic = true
`, rs.ports["tcp"], b.Plain, topics["plain"], b.SSL, topics["tls"], b.PKI.CA, b.SASL, topics["scram"], b.PKI.CA, pwFile, b.SASL, topics["plainsasl"], b.PKI.CA)
	agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath, Extra: extra})
	for _, name := range hostileNames {
		sh(t, nil, `printf 'x' > "$1"`, filepath.Join(work, name))
	}
	// Repeated writes to a few files: their order must hold within a key.
	sh(t, nil, `for i in 1 2 3 4 5 6 7 8; do for f in a b c; do printf "$i" >> "$1/$f.log"; done; done`, work)
	records := agent.Stop()
	if want := len(hostileNames) + 24; len(records) != want {
		t.Fatalf("file sink: %d records, want %d", len(records), want)
	}
	if log := agent.Log(); strings.Contains(log, b.Password) {
		t.Error("the agent's log holds the SASL password")
	}
	for i, m := range rs.waitReceived(t, "tcp", len(records)) {
		if unchained(m.body()) != unchained(records[i].Raw) {
			t.Errorf("syslog message %d is not the file sink's record:\n%s\n%s", i, m.Msg, records[i].Raw)
		}
	}
	host, _ := os.Hostname()
	byID := map[string]Record{}
	for _, r := range records {
		byID[r.Event.ID] = r
	}

	for sinkName, topic := range topics {
		msgs := b.readTopic(t, topic, len(records))
		seen := map[string]bool{}
		lastSeq := map[string]uint64{} // per partition and key
		format := map[string]string{"plain": "json", "tls": "ocsf", "scram": "cef", "plainsasl": "json"}[sinkName]
		for _, m := range msgs {
			if header(m, "fsaudit.schema") != record.SchemaVersion || header(m, "fsaudit.format") != format || header(m, "fsaudit.host") != host {
				t.Errorf("%s: headers %v, want schema 1, format %s, host %s", sinkName, m.Headers, format, host)
			}
			var id string
			var seq uint64
			switch format {
			case "json":
				var r Record
				if err := json.Unmarshal(m.Value, &r); err != nil {
					t.Fatalf("%s: value is not a JSON record: %v: %q", sinkName, err, m.Value)
				}
				id, seq = r.Event.ID, r.Event.Sequence
				if want := byID[id]; unchained(string(m.Value)) != unchained(want.Raw) {
					t.Errorf("%s: value\n%s\nis not the file sink's record\n%s", sinkName, m.Value, want.Raw)
				}
			case "ocsf":
				var o struct {
					Metadata struct {
						UID      string `json:"uid"`
						Sequence uint64 `json:"sequence"`
					} `json:"metadata"`
					File struct {
						Path string `json:"path"`
					} `json:"file"`
				}
				if err := json.Unmarshal(m.Value, &o); err != nil {
					t.Fatalf("%s: value is not OCSF JSON: %v", sinkName, err)
				}
				id, seq = o.Metadata.UID, o.Metadata.Sequence
				if o.File.Path != byID[id].File.Path {
					t.Errorf("%s: file.path %q, want %q", sinkName, o.File.Path, byID[id].File.Path)
				}
			case "cef":
				_, ext, err := cef.Parse(string(m.Value))
				if err != nil {
					t.Fatalf("%s: %v", sinkName, err)
				}
				id = ext["externalId"]
				fmt.Sscan(ext["cn2"], &seq)
				if ext["filePath"] != cefView(byID[id].File.Path) {
					t.Errorf("%s: filePath %q, want %q", sinkName, ext["filePath"], cefView(byID[id].File.Path))
				}
			}
			r, ok := byID[id]
			if !ok || seen[id] || r.Event.Sequence != seq {
				t.Errorf("%s: message for id %q (seq %d): unknown, repeated, or another sequence", sinkName, id, seq)
				continue
			}
			seen[id] = true
			wantKey := map[string]string{"plain": r.File.Path, "tls": host, "scram": host, "plainsasl": ""}[sinkName]
			if string(m.Key) != wantKey {
				t.Errorf("%s: key %q, want %q", sinkName, m.Key, wantKey)
			}
			pk := fmt.Sprintf("%d/%s", m.Partition, m.Key)
			if wantKey != "" && seq <= lastSeq[pk] {
				t.Errorf("%s: key %q: sequence %d after %d in partition %d", sinkName, m.Key, seq, lastSeq[pk], m.Partition)
			}
			lastSeq[pk] = max(lastSeq[pk], seq)
		}
		if len(seen) != len(records) {
			t.Errorf("%s: %d distinct records, want %d", sinkName, len(seen), len(records))
		}
	}
	// The plaintext topic was created with the partitions the config asked.
	conn, err := kafka.Dial("tcp", b.Plain)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(topics["plain"])
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int, 0, len(parts))
	for _, p := range parts {
		ids = append(ids, p.ID)
	}
	sort.Ints(ids)
	if fmt.Sprint(ids) != "[0 1 2 3]" {
		t.Errorf("topic %s has partitions %v, want 4", topics["plain"], ids)
	}
}

// TestKafkaUnreachable: a Kafka sink whose broker is down from the first
// second does not stop the agent or the other sinks; its records wait in
// its spool, the failure is logged, and the agent still stops at once,
// saying how many records the spool keeps for the next start.
func TestKafkaUnreachable(t *testing.T) {
	requireRoot(t)
	dead := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	work := tmpDir(t, "fsaudit-kafka-dead-", 0)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath, Extra: fmt.Sprintf(`
[[sink]]
name = "dead"
type = "kafka"
brokers = [%q]
topic = "fsaudit"
`, dead)})
	for i := range 5 {
		sh(t, nil, `printf x > "$1"`, filepath.Join(work, fmt.Sprint(i)))
	}
	start := time.Now()
	records := agent.Stop()
	if len(records) != 5 {
		t.Errorf("file sink: %d records, want 5 while the Kafka sink is down", len(records))
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("stopping took %v with a dead broker", d)
	}
	log := agent.Log()
	if !strings.Contains(log, `"sink":"dead"`) || !strings.Contains(log, "sink write failed: trying again") {
		t.Errorf("no failure logged for the dead sink:\n%s", log)
	}
	// The five, and the sink's start and stop seals.
	if !regexp.MustCompile(`"sink":"dead","records":7,"time":"[^"]*","message":"records left in the spool for the next start"`).MatchString(log) {
		t.Errorf("the agent does not say that 7 records wait in the dead sink's spool:\n%s", log)
	}
}

// TestCheckKafka: check reports a reachable topic, a missing one, and a
// broker that does not answer, each in one line. run would start with the
// last two (records wait in the spool): a warning, exit 0; 1 with --strict.
func TestCheckKafka(t *testing.T) {
	b := kafkaBroker(t)
	topic := "fsaudit-check-" + randHex(t, 4)
	client := &kafka.Client{Addr: kafka.TCP(b.Plain), Timeout: 10 * time.Second, Transport: freshTransport()}
	if _, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	for _, tc := range []struct {
		name, brokers, topic, extra string
		strict                      bool
		code                        int
		want                        string
	}{
		{"reachable", b.Plain, topic, "", true, 0, "ok   k: kafka " + b.Plain + " topic " + topic + " is there (json)"},
		{"missing topic", b.Plain, topic + "-none", "", false, 0, "WARN k: kafka sink k: topic " + topic + "-none"},
		{"missing topic, strict", b.Plain, topic + "-none", "", true, 1, "WARN k: kafka sink k: topic " + topic + "-none"},
		{"missing topic to create", b.Plain, topic + "-later", "create_topic = true\n", true, 0, "ok   k: kafka"},
		{"dead broker", dead, topic, "", false, 0, "metadata from [" + dead + "]"},
		{"dead broker, strict", dead, topic, "", true, 1, "metadata from [" + dead + "]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := writeConfig(t, fmt.Sprintf("[agent]\nhook = %q\n[spool]\ndir = %q\n\n[[sink]]\nname = \"k\"\ntype = \"kafka\"\nbrokers = [%q]\ntopic = %q\n%s",
				*agentHook, t.TempDir(), tc.brokers, tc.topic, tc.extra))
			args := []string{"check", "--config", conf}
			if tc.strict {
				args = append(args, "--strict")
			}
			code, stdout, stderr := runAgentCmd(t, args...)
			if code != tc.code || !strings.Contains(stdout, tc.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.want, stdout, stderr)
			}
		})
	}
}

// BenchmarkKafkaLatency measures the time from a write to the broker's
// acknowledgement of its record, as the agent itself measures it for every
// record a sink acknowledged: the record's @timestamp (the kernel's time of
// the write) to the end of the produce request that carried it (acks=all).
// The agent logs the quantiles at stop. Writes come at a steady 2000 per
// second, b.N in all; run it with a fixed count, as bench/sinks does:
// -benchtime 10000x.
func BenchmarkKafkaLatency(b *testing.B) {
	br := kafkaBroker(b)
	topic := "fsaudit-latency-" + randHex(b, 4)
	client := &kafka.Client{Addr: kafka.TCP(br.Plain), Timeout: 10 * time.Second, Transport: freshTransport()}
	if _, err := client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: 6, ReplicationFactor: 1,
	}}}); err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Second) // leaders elected before the clock starts
	work := tmpDir(b, "fsaudit-latency-", 0)
	agent := StartAgent(b, AgentConfig{Include: []string{work}, Sink: filepath.Join(b.TempDir(), "audit.jsonl"), Extra: fmt.Sprintf(`
[[sink]]
name = "kafka"
type = "kafka"
brokers = [%q]
topic = %q
key = "path"
`, br.Plain, topic)})
	data := []byte("0123456789abcdef")
	const rate = 2000
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := os.WriteFile(filepath.Join(work, fmt.Sprint(i%64)), data, 0o644); err != nil {
			b.Fatal(err)
		}
		if ahead := time.Until(start.Add(time.Duration(i+1) * time.Second / rate)); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	b.StopTimer()
	records := agent.Stop()
	var totals struct {
		Sink string  `json:"sink"`
		Sent uint64  `json:"sent"`
		P50  float64 `json:"latency_p50_ms"`
		P99  float64 `json:"latency_p99_ms"`
		Max  float64 `json:"latency_max_ms"`
	}
	for _, line := range strings.Split(agent.Log(), "\n") {
		if strings.Contains(line, `"sink":"kafka"`) && strings.Contains(line, "sink totals") {
			if err := json.Unmarshal([]byte(line), &totals); err != nil {
				b.Fatal(err)
			}
		}
	}
	if totals.Sent != uint64(len(records)) || totals.Sent == 0 {
		b.Fatalf("the kafka sink acknowledged %d records of %d:\n%s", totals.Sent, len(records), agent.Log())
	}
	b.ReportMetric(totals.P50, "p50-ms")
	b.ReportMetric(totals.P99, "p99-ms")
	b.ReportMetric(totals.Max, "max-ms")
	b.ReportMetric(float64(totals.Sent), "records")
}
