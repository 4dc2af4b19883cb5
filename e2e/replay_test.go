package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// replayWorkload has the agent write phases of files to a Kafka topic (and
// its file sink), a pause between phases, and returns the file sink's
// records of each phase.
func replayWorkload(t *testing.T, b *broker, topic string, phases ...int) [][]Record {
	t.Helper()
	work := tmpDir(t, "fsaudit-replay-", 0)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath, Extra: kafkaSinkTOML(b, topic, "path")})
	n := 0
	for i, count := range phases {
		if i > 0 {
			time.Sleep(1200 * time.Millisecond)
		}
		for j := 0; j < count; j++ {
			sh(t, nil, `printf '%s' "$2" > "$1"`, filepath.Join(work, fmt.Sprintf("p%d-%02d", i, j%7)), fmt.Sprint(n))
			n++
		}
	}
	records := agent.Stop()
	if len(records) != n {
		t.Fatalf("file sink: %d records, want %d", len(records), n)
	}
	// The records, and the sink's start and stop seals.
	if !regexp.MustCompile(fmt.Sprintf(`"sink":"kafka","sent":%d,`, n+2)).MatchString(agent.Log()) {
		t.Fatalf("the kafka sink did not deliver all %d records:\n%s", n, agent.Log())
	}
	var out [][]Record
	for _, count := range phases {
		out = append(out, records[:count])
		records = records[count:]
	}
	return out
}

// kafkaSinkTOML is a [[sink]] named kafka that writes to topic on b,
// keyed by key, creating the topic.
func kafkaSinkTOML(b *broker, topic, key string) string {
	return fmt.Sprintf(`
[[sink]]
name = "kafka"
type = "kafka"
brokers = [%q]
topic = %q
key = %q
create_topic = true
`, b.Plain, topic, key)
}

func replayConfig(t *testing.T, b *broker, out string) string {
	t.Helper()
	return writeConfig(t, fmt.Sprintf(`[agent]
log_level = "debug"

[[sink]]
name = "out"
type = "file"
path = %q

[[sink]]
name = "source"
type = "kafka"
brokers = [%q]
topic = "fsaudit-replay-elsewhere"
`, out, b.Plain))
}

var skipLine = regexp.MustCompile(`^  skipped partition (\d+) offset (\d+): (.*)$`)

// TestReplayWindow: a replay of a time window into a file sink yields
// exactly the window's records (same event.id set, in each partition's
// order, byte for byte the records the agent wrote), and messages that are
// not records, placed inside the window, are reported by partition and
// offset and skipped.
func TestReplayWindow(t *testing.T) {
	b := kafkaBroker(t)
	topic := "fsaudit-replay-" + randHex(t, 4)
	phases := replayWorkload(t, b, topic, 15, 20, 15)
	first := func(rs []Record) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, rs[0].Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	since, until := first(phases[1]), first(phases[2])

	// Poison, stamped inside the window.
	good := phases[1][3].Raw
	poison := []kafka.Message{
		{Value: []byte("not json at all")},
		{Value: []byte(`{"message":"a syslog line"}`)},
		{Value: []byte(good[:len(good)/2])},
		{Value: []byte(good), Headers: []kafka.Header{{Key: "fsaudit.schema", Value: []byte("9")}}},
		{Value: []byte("CEF:0|x|x|1|write|w|3|act=write"), Headers: []kafka.Header{{Key: "fsaudit.format", Value: []byte("cef")}}},
		{Value: nil},
	}
	w := &kafka.Writer{Addr: kafka.TCP(b.Plain), Topic: topic, Balancer: &kafka.RoundRobin{}, BatchTimeout: time.Millisecond, Transport: freshTransport()}
	for i := range poison {
		poison[i].Time = since.Add(time.Duration(i+1) * time.Millisecond)
	}
	if err := w.WriteMessages(context.Background(), poison...); err != nil {
		t.Fatalf("writing the poison messages to %s: %v", topic, err)
	}
	w.Close()

	out := filepath.Join(t.TempDir(), "replayed.jsonl")
	conf := replayConfig(t, b, out)
	code, stdout, stderr := runAgentCmd(t, "replay", "--config", conf, "--topic", topic, "--sink", "out",
		"--since", since.Format(time.RFC3339Nano), "--until", until.Format(time.RFC3339Nano), "--brokers", b.Plain)
	if code != 0 {
		t.Fatalf("replay exit %d:\n%s\n%s", code, stdout, stderr)
	}
	got := ReadRecords(t, out)
	want := map[string]string{}
	for _, r := range phases[1] {
		want[r.Event.ID] = unchained(r.Raw) // the file sink's chain; the topic's is the Kafka sink's
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.Event.ID] {
			t.Errorf("record %s replayed twice", r.Event.ID)
		}
		seen[r.Event.ID] = true
		if w, ok := want[r.Event.ID]; !ok {
			t.Errorf("record outside the window replayed: %s", r.Raw)
		} else if w != unchained(r.Raw) {
			t.Errorf("replayed record differs:\n%s\n%s", r.Raw, w)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("replayed %d records, want the window's %d\n%s", len(seen), len(want), stdout)
	}
	// Each skipped message is named by where it is.
	all := b.readTopic(t, topic, 50+len(poison))
	at := map[string]string{}
	for _, m := range all {
		at[fmt.Sprintf("%d/%d", m.Partition, m.Offset)] = string(m.Value)
	}
	reasons := map[string]string{}
	for _, line := range strings.Split(stdout, "\n") {
		if m := skipLine.FindStringSubmatch(line); m != nil {
			reasons[at[m[1]+"/"+m[2]]] = m[3]
		}
	}
	for value, reason := range map[string]string{
		"not json at all":                 "not an fsaudit record",
		`{"message":"a syslog line"}`:     "not an fsaudit record",
		good[:len(good)/2]:                "truncated record",
		good:                              `schema version "9"`,
		"CEF:0|x|x|1|write|w|3|act=write": `format "cef" (only json records read back)`,
		"":                                "empty message",
	} {
		if reasons[value] != reason {
			t.Errorf("poison %.40q: reported %q, want %q\n%s", value, reasons[value], reason, stdout)
		}
	}
	m := regexp.MustCompile(`replay: read (\d+), delivered (\d+), filtered 0, outside the window (\d+), skipped (\d+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no summary line:\n%s", stdout)
	}
	read, _ := strconv.Atoi(m[1])
	delivered, _ := strconv.Atoi(m[2])
	outside, _ := strconv.Atoi(m[3])
	skipped, _ := strconv.Atoi(m[4])
	if delivered != len(want) || skipped != len(poison) || read != delivered+outside+skipped {
		t.Errorf("summary %q: want %d delivered, %d skipped, and read = delivered + outside + skipped", m[0], len(want), len(poison))
	}
}

// TestReplayRefusesItsOwnTopic: a config whose kafka sink writes to the
// topic being read is refused unless --sink leaves it out.
func TestReplayRefusesItsOwnTopic(t *testing.T) {
	b := kafkaBroker(t)
	conf := writeConfig(t, fmt.Sprintf("[[sink]]\nname = \"k\"\ntype = \"kafka\"\nbrokers = [%q]\ntopic = \"loop\"\n", b.Plain))
	code, _, stderr := runAgentCmd(t, "replay", "--config", conf, "--topic", "loop")
	if code != 1 || !strings.Contains(stderr, "sink k writes to topic loop, which is being read") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestReplayFollowRestart: --follow forwards the topic, new records
// included; stopped in the middle and started again with the same group,
// it delivers every record exactly once.
func TestReplayFollowRestart(t *testing.T) {
	b := kafkaBroker(t)
	topic := "fsaudit-follow-" + randHex(t, 4)
	before := replayWorkload(t, b, topic, 30)[0]
	out := filepath.Join(t.TempDir(), "followed.jsonl")
	conf := replayConfig(t, b, out)
	group := "fsaudit-test-" + randHex(t, 4)
	follow := func() (*exec.Cmd, *strings.Builder) {
		cmd := exec.Command(agentPath(), "replay", "--config", conf, "--topic", topic, "--sink", "out", "--follow", "--group", group, "--brokers", b.Plain)
		var buf strings.Builder
		cmd.Stdout = &buf
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
			}
		}()
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, &buf
	}
	waitLines := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			data, _ := os.ReadFile(out)
			if strings.Count(string(data), "\n") >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("followed file has %d records, want %d", strings.Count(string(data), "\n"), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stopFollow := func(cmd *exec.Cmd, buf *strings.Builder) {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("replay --follow ended with %v:\n%s", err, buf.String())
			}
		case <-time.After(60 * time.Second):
			t.Fatal("replay --follow did not stop on SIGINT")
		}
		if !strings.Contains(buf.String(), "progress is committed to group "+group) {
			t.Errorf("no resume note after SIGINT:\n%s", buf.String())
		}
	}

	cmd, buf := follow()
	waitLines(len(before))
	// New records while it follows.
	during := replayWorkload(t, b, topic, 20)[0]
	waitLines(len(before) + len(during))
	stopFollow(cmd, buf)
	// Records written while nothing follows, then a restart.
	after := replayWorkload(t, b, topic, 25)[0]
	cmd, buf = follow()
	waitLines(len(before) + len(during) + len(after))
	time.Sleep(time.Second) // anything more would be a duplicate
	stopFollow(cmd, buf)

	got := ReadRecords(t, out)
	var want []string
	for _, rs := range [][]Record{before, during, after} {
		for _, r := range rs {
			want = append(want, unchained(r.Raw))
		}
	}
	var gotRaw []string
	for _, r := range got {
		gotRaw = append(gotRaw, unchained(r.Raw))
	}
	sort.Strings(want)
	sort.Strings(gotRaw)
	if strings.Join(gotRaw, "\n") != strings.Join(want, "\n") {
		t.Errorf("followed %d records, want each of the %d once", len(gotRaw), len(want))
	}
}

// TestReplayValidates: replay refuses messages that are not records of
// this version (an unknown action, a field of the wrong type) and names
// each by partition and offset; --verify-chain checks the host's chain in
// its partition and names a forged record there, exiting 1, while the
// untouched topic verifies; every replayed record is marked with where it
// was read, and still verifies against the chain it was made in.
func TestReplayValidates(t *testing.T) {
	b := kafkaBroker(t)
	topic := "fsaudit-validate-" + randHex(t, 4)
	work := tmpDir(t, "fsaudit-validate-", 0)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath, Extra: kafkaSinkTOML(b, topic, "host")})
	for i := 0; i < 12; i++ {
		sh(t, nil, `printf x > "$1"`, filepath.Join(work, fmt.Sprint(i)))
	}
	records := agent.Stop()
	if len(records) != 12 {
		t.Fatalf("file sink: %d records, want 12", len(records))
	}
	msgs := b.readTopic(t, topic, 12)
	partition := msgs[0].Partition
	host := records[0].Raw[strings.Index(records[0].Raw, `"host":{"name":"`)+len(`"host":{"name":"`):]
	host = host[:strings.IndexByte(host, '"')]

	replayOut := func(args ...string) (int, string, []Record) {
		out := filepath.Join(t.TempDir(), "replayed.jsonl")
		conf := replayConfig(t, b, out)
		code, stdout, stderr := runAgentCmd(t, append([]string{"replay", "--config", conf, "--topic", topic, "--sink", "out", "--brokers", b.Plain}, args...)...)
		var got []Record
		if _, err := os.Stat(out); err == nil {
			got = ReadAllRecords(t, out)
		}
		return code, stdout + stderr, got
	}
	// The untouched topic: every record, its chain whole, each marked.
	code, out, got := replayOut("--verify-chain")
	if code != 0 || !strings.Contains(out, "chains: 14 records checked, 0 breaks") {
		t.Fatalf("the untouched topic: exit %d:\n%s", code, out)
	}
	if len(got) != 14 {
		t.Fatalf("replayed %d records, want the 12 and the two seals", len(got))
	}
	replayedFile := filepath.Join(t.TempDir(), "replayed.jsonl")
	var raws []string
	for _, r := range got {
		if !strings.Contains(r.Raw, fmt.Sprintf(`"replay":{"topic":%q,"partition":%d,"offset":`, topic, partition)) {
			t.Errorf("a replayed record without its mark: %s", r.Raw)
		}
		raws = append(raws, r.Raw)
	}
	saveLines(t, replayedFile, raws)
	if code, out := verifyFiles(t, replayedFile); code != 1 || !strings.Contains(out, "a record marked fsaudit.replay in a sink's own output") {
		t.Errorf("replay marks taken for a sink's own output: exit %d:\n%s", code, out)
	}
	if code, out := verifyFiles(t, "--replayed", replayedFile); code != 0 || !strings.Contains(out, "14 records carry fsaudit.replay") {
		t.Errorf("replayed records do not verify against their chain: exit %d:\n%s", code, out)
	}

	// Messages in the host's partition: an action this version does not
	// know, a field of the wrong type, and a record forged after the last.
	last := string(msgs[len(msgs)-1].Value)
	unknown := strings.Replace(last, `"action":"write"`, `"action":"exfiltrate"`, 1)
	wrongType := regexp.MustCompile(`"sequence":(\d+)`).ReplaceAllString(last, `"sequence":"$1"`)
	forged := strings.Replace(string(msgs[5].Value), `"bytes":1`, `"bytes":2`, 1)
	if unknown == last || wrongType == last || forged == string(msgs[5].Value) {
		t.Fatal("the tampered messages are not tampered")
	}
	w := &kafka.Writer{Addr: kafka.TCP(b.Plain), Topic: topic, Balancer: kafka.Murmur2Balancer{}, BatchTimeout: time.Millisecond, Transport: freshTransport()}
	var tampered []kafka.Message
	for _, v := range []string{unknown, wrongType, forged} {
		tampered = append(tampered, kafka.Message{Key: []byte(host), Value: []byte(v)})
	}
	if err := w.WriteMessages(context.Background(), tampered...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	first := msgs[len(msgs)-1].Offset + 2 // after the stop seal
	code, out, _ = replayOut("--verify-chain")
	for _, want := range []string{
		fmt.Sprintf("skipped partition %d offset %d: unknown event.action \"exfiltrate\"", partition, first),
		fmt.Sprintf("skipped partition %d offset %d: not an fsaudit record", partition, first+1),
		"chains: 15 records checked, 1 breaks",
		fmt.Sprintf("partition %d offset %d (host %s): chain broken: edited", partition, first+2, host),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code != 1 {
		t.Errorf("exit %d with a chain broken, want 1:\n%s", code, out)
	}
}
