package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metricsAddr reads, from the agent's log, where it serves /metrics.
func (a *Agent) metricsAddr(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(a.Log(), "\n") {
		var l struct{ Message, Address string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "serving /metrics and /healthz" {
			return l.Address
		}
	}
	t.Fatalf("the agent does not say where it serves metrics:\n%s", a.Log())
	return ""
}

// get fetches a URL: its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// scrapeMetrics reads the agent's /metrics into "name{labels}" -> value.
func scrapeMetrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	code, body := get(t, "http://"+addr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics: bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsMatchRecords: the agent's /metrics, scraped while it runs,
// counts exactly the records its file sink holds, and /healthz says ok.
func TestMetricsMatchRecords(t *testing.T) {
	requireRoot(t)
	dir := tmpDir(t, "fsaudit-metrics-", 0)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	a := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sinkPath, Window: "1s",
		Agent: `metrics_listen = "127.0.0.1:0"`})
	addr := a.metricsAddr(t)
	if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz while capturing: %d %q", code, body)
	}

	// Files written once each, and one file written many times (merged
	// by the kernel).
	const single, repeated = 20, 60
	for i := 0; i < single; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", i)), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(dir, "many"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < repeated; i++ {
		if _, err := f.WriteString("line\n"); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	writes := func(recs []Record) (n uint64) {
		for _, r := range recs {
			if r.Event.Action == "write" {
				n += r.FSAudit.Writes
			}
		}
		return n
	}
	waitRecords(t, sinkPath, time.Minute, "every write", func(recs []Record) bool { return writes(recs) >= single+repeated })

	// The counters settle on the records the sink holds (other processes'
	// events, outside the included directory, are counted as filtered).
	var m map[string]float64
	var recs []Record
	var problems []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		m = scrapeMetrics(t, addr)
		recs = ReadAllRecords(t, sinkPath)
		problems = metricsProblems(m, recs)
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if w := writes(recs); w != single+repeated {
		t.Errorf("the records cover %d writes, want %d", w, single+repeated)
	}
	want := map[string]float64{
		`fsaudit_events_lost_total{reason="ring_buffer_full"}`:                          0,
		`fsaudit_sink_records_failed_total{sink="local"}`:                               0,
		`fsaudit_sink_records_dropped_total{sink="local"}`:                              0,
		`fsaudit_hook_point_info{mode="` + a.PointModes()["write"] + `",point="write"}`: 1,
	}
	for k, v := range want {
		if g, ok := m[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	info := false
	for k := range m {
		info = info || strings.HasPrefix(k, "fsaudit_info{") && strings.Contains(k, `hook="`+*agentHook+`"`)
	}
	if !info {
		t.Errorf("no fsaudit_info with hook=%q", *agentHook)
	}
	// Coalescing merged the repeated file's writes but its first.
	var manyRecs int
	for _, r := range recs {
		if r.File.Name == "many" {
			manyRecs++
		}
	}
	if c := m["fsaudit_writes_coalesced_total"]; c < float64(repeated-manyRecs) || c > repeated-1 {
		t.Errorf("fsaudit_writes_coalesced_total = %v, want from %d to %d (%d records of the repeated file)", c, repeated-manyRecs, repeated-1, manyRecs)
	}
	a.Stop()
}

// metricsProblems compares a scrape with the sink's records.
func metricsProblems(m map[string]float64, recs []Record) []string {
	var out []string
	n := float64(len(recs))
	var maxSeq uint64
	var lost, seals float64
	for _, r := range recs {
		maxSeq = max(maxSeq, r.Event.Sequence)
		switch r.Event.Action {
		case "lost":
			lost++
		case "seal":
			seals++ // the agent's own records, of no event
		}
	}
	check := func(name string, want float64) {
		if g, ok := m[name]; !ok || g != want {
			out = append(out, fmt.Sprintf("%s = %v (present %v), want %v", name, g, ok, want))
		}
	}
	check(`fsaudit_sink_records_sent_total{sink="local"}`, n)
	check(`fsaudit_sink_delivery_latency_seconds_count{sink="local"}`, n)
	check(`fsaudit_sink_queue_depth{sink="local"}`, 0)
	check(`fsaudit_sink_spool_records{sink="local"}`, 0)
	check(`fsaudit_records_total`, float64(maxSeq))
	check(`fsaudit_records_total`, n)
	check(`fsaudit_events_total`, m["fsaudit_events_filtered_total"]+m["fsaudit_changes_failed_total"]+n-lost-seals)
	return out
}

// TestNullSink: a null sink beside a file sink is given every record the
// file sink holds (its sent count settles on the file's), keeps none, and
// run warns so at its start, naming the sink.
func TestNullSink(t *testing.T) {
	requireRoot(t)
	dir := tmpDir(t, "fsaudit-null-", 0)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	a := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sinkPath, Agent: `metrics_listen = "127.0.0.1:0"`,
		Extra: "[[sink]]\nname = \"discard\"\ntype = \"null\"\n"})
	addr := a.metricsAddr(t)
	const files = 10
	for i := range files {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	waitRecords(t, sinkPath, time.Minute, "every write", func(recs []Record) bool { return len(recs) >= files })
	var local, discard float64
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		m := scrapeMetrics(t, addr)
		n := float64(len(ReadAllRecords(t, sinkPath)))
		local, discard = m[`fsaudit_sink_records_sent_total{sink="local"}`], m[`fsaudit_sink_records_sent_total{sink="discard"}`]
		if local == n && discard == n || time.Now().After(deadline) {
			break
		}
	}
	if local <= files || discard != local {
		t.Errorf("sent: local %v, discard %v; want the same, more than %d", local, discard, files)
	}
	warned := false
	for _, l := range strings.Split(a.Log(), "\n") {
		warned = warned || strings.Contains(l, `"level":"warn"`) && strings.Contains(l, `"sink":"discard"`) && strings.Contains(l, "a null sink discards every record")
	}
	if !warned {
		t.Errorf("run does not warn of the null sink:\n%s", a.Log())
	}
}
