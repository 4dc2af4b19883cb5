package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/spool"
)

// faultf logs a fault test's outcome and, when FSAUDIT_FAULT_LOG names a
// file, appends it there too, so that the test script prints it even when
// the tests pass quietly.
func faultf(t testing.TB, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("fault: "+format, args...)
	t.Log(line)
	if path := os.Getenv("FSAUDIT_FAULT_LOG"); path != "" {
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			fmt.Fprintf(f, "%s: %s\n", t.Name(), line)
			f.Close()
		}
	}
}

// TestChainVerifies: the file sink's output, rotated and gzipped, written
// by two runs of the agent on one spool, verifies as one chain; editing,
// deleting or swapping one line makes verify name that line.
func TestChainVerifies(t *testing.T) {
	requireRoot(t)
	work := tmpDir(t, "fsaudit-chain-", 0)
	dir := t.TempDir()
	sinkPath := filepath.Join(dir, "out", "audit.jsonl")
	spoolDir := filepath.Join(dir, "spool")
	extra := `
[[sink]]
name = "rotating"
type = "file"
path = "` + sinkPath + `"
max_size_mb = 1
max_backups = 20
compress = true
`
	// The first sink's file is only a witness; the rotating sink is checked.
	// A file ends at the seal the sink asks for, which comes after what its
	// spool already holds: a file may grow to twice max_size_mb. 6000
	// records (over 5 MB) rotate it at least twice whatever the timing.
	const perRun = 3000
	for run := 0; run < 2; run++ {
		agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: filepath.Join(dir, fmt.Sprintf("witness%d.jsonl", run)), SpoolDir: spoolDir, Extra: extra})
		sh(t, nil, `i=0; while [ $i -lt $2 ]; do printf x > "$1/f$i"; i=$((i+1)); done`, work, strconv.Itoa(perRun))
		agent.Stop()
	}
	files := sinkFiles(t, sinkPath)
	if len(files) < 3 {
		t.Fatalf("%d files: want the output rotated at least twice", len(files))
	}
	// Each run adds its start and stop seals; each file after the first
	// starts with a seal, unless the one before it grew to twice
	// max_size_mb waiting for it (then it rotated without).
	seals := strings.Count(strings.Join(readLines(t, files), "\n"), `"event":{"action":"seal"`)
	for i := 1; i < len(files); i++ {
		before := len(strings.Join(readLines(t, files[i-1:i]), "\n"))
		if first := readLines(t, files[i:i+1])[0]; !strings.Contains(first[:min(len(first), 160)], `"event":{"action":"seal"`) && before < 2<<20-4096 {
			t.Errorf("%s starts without a seal, and %s holds %d bytes, under twice max_size_mb", files[i], files[i-1], before)
		}
	}
	if code, out := verifyFiles(t, files...); code != 0 || seals < 4 || !strings.Contains(out, fmt.Sprintf("verified %d records", 2*perRun+seals)) {
		t.Fatalf("untouched output: exit %d, %d seals: %s", code, seals, out)
	}
	lines := readLines(t, files)
	tamperDir := t.TempDir()
	for _, tc := range []struct {
		name   string
		change func([]string) []string
		line   int // 1-based, in the one file written
		why    string
	}{
		{"edited", func(ls []string) []string {
			ls[1200] = strings.Replace(ls[1200], `"bytes":1`, `"bytes":2`, 1)
			return ls
		}, 1201, "edited"},
		{"deleted", func(ls []string) []string { return append(ls[:1700], ls[1701:]...) }, 1701, "record 1701 of the chain is missing"},
		{"swapped", func(ls []string) []string { ls[2500], ls[2501] = ls[2501], ls[2500]; return ls }, 2501, "record 2501 of the chain is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := tc.change(append([]string(nil), lines...))
			path := filepath.Join(tamperDir, tc.name+".jsonl")
			if err := os.WriteFile(path, []byte(strings.Join(ls, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out := verifyFiles(t, path)
			if want := fmt.Sprintf("%s:%d: chain broken: ", path, tc.line); code != 1 || !strings.HasPrefix(out, want) || !strings.Contains(out, tc.why) {
				t.Errorf("exit %d, output %q; want 1 and %q ... %q", code, out, want, tc.why)
			}
		})
	}
}

// spoolHeld reads the chain sequences of the records a sink's spool holds
// (what it was given and had not seen acknowledged), as the agent left it.
func spoolHeld(t *testing.T, dir string) map[uint64]bool {
	t.Helper()
	sp, _, err := spool.Open(spool.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	held := map[uint64]bool{}
	pos := spool.Position{}
	for {
		es, next, err := sp.Read(1000, 0, pos)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return held
		}
		for _, e := range es {
			held[e.Seq] = true
		}
		pos = next
	}
}

// TestKillNine: the agent killed with SIGKILL during a workload while its
// syslog receiver is down, then started again on the same spool with the
// receiver back: every record the spool held reaches the receiver, the
// file sink's output verifies as one chain across the crash (records sent
// again are recognised as such), and no record the file sink got is lost.
func TestKillNine(t *testing.T) {
	requireRoot(t)
	rs := startRsyslogd(t, writePKI(t, t.TempDir()))
	work := tmpDir(t, "fsaudit-kill-", 0)
	dir := t.TempDir()
	sinkPath := filepath.Join(dir, "audit.jsonl")
	spoolDir := filepath.Join(dir, "spool")
	extra := fmt.Sprintf(`
[[sink]]
name = "syslog"
type = "syslog"
address = "tcp://127.0.0.1:%d"
`, rs.ports["tcp"])
	rs.stop() // down from the start: the syslog sink's records pile up in its spool
	agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath, SpoolDir: spoolDir, Extra: extra})
	writer := exec.Command("sh", "-c", `i=0; while :; do printf x > "$1/f$((i % 50))"; i=$((i+1)); done`, "sh", work)
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	agent.cmd.Process.Signal(syscall.SIGKILL)
	<-agent.exited
	writer.Process.Kill()
	writer.Wait()

	held := spoolHeld(t, filepath.Join(spoolDir, "syslog"))
	if len(held) == 0 {
		t.Fatal("the syslog sink's spool held nothing at the crash")
	}
	heldLocal := spoolHeld(t, filepath.Join(spoolDir, "local"))
	before := readLines(t, []string{sinkPath})

	rs.start()
	agent = StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath, SpoolDir: spoolDir, Extra: extra})
	sh(t, nil, `printf x > "$1/after"`, work)
	agent.Stop()

	// Every record the syslog spool held arrived.
	got := map[uint64]bool{}
	data, _ := os.ReadFile(rs.out("tcp"))
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m received
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		var r Record
		if json.Unmarshal([]byte(m.body()), &r) == nil {
			got[r.FSAudit.Chain.Seq] = true // what the spool keeps of a chained record
		}
	}
	missing := 0
	for seq := range held {
		if !got[seq] {
			missing++
		}
	}
	faultf(t, "kill -9: the syslog spool held %d records, %d of them missing at the receiver after the restart", len(held), missing)
	if missing != 0 {
		t.Errorf("%d of the %d records the spool held never reached rsyslogd", missing, len(held))
	}
	// The file sink's output: everything from before the crash is still
	// there, and the whole verifies as one chain.
	lines := readLines(t, []string{sinkPath})
	if len(lines) <= len(before) || strings.Join(lines[:len(before)], "\n") != strings.Join(before, "\n") || len(ReadAllRecords(t, sinkPath)) != len(lines) {
		t.Errorf("file sink: %d lines after the restart, %d before it: want what was there kept and more after", len(lines), len(before))
	}
	inFile := map[uint64]bool{}
	for _, r := range ReadAllRecords(t, sinkPath) {
		inFile[r.FSAudit.Chain.Seq] = true
	}
	for seq := range heldLocal {
		if !inFile[seq] {
			t.Errorf("record %d, held in the file sink's spool at the crash, is not in its file", seq)
		}
	}
	if code, out := verifyFiles(t, sinkPath); code != 0 {
		t.Errorf("the file sink's output does not verify across the crash: %s", out)
	} else {
		faultf(t, "kill -9: %s", strings.TrimSpace(out))
	}
}

// TestKafkaOutage: the Kafka broker stops for 30 s in the middle of a
// steady workload, then starts again: every record reaches the topic.
func TestKafkaOutage(t *testing.T) {
	requireRoot(t)
	requireTool(t, "java")
	dir := t.TempDir()
	pki := writePKI(t, dir)
	p := freePorts(t, 4)
	script, _ := filepath.Abs("../scripts/kafka")
	bdir := filepath.Join(dir, "broker")
	start := func() {
		out, err := exec.Command(script, "start", bdir, fmt.Sprint(p[0]), fmt.Sprint(p[1]), fmt.Sprint(p[2]), fmt.Sprint(p[3]), pki.CA, pki.Cert, pki.Key).CombinedOutput()
		if err != nil {
			t.Fatalf("scripts/kafka start: %v\n%s", err, out)
		}
	}
	stop := func() { exec.Command(script, "stop", bdir).Run() }
	// A broker of its own: it goes down in the middle.
	start()
	t.Cleanup(stop)
	b := &broker{Plain: fmt.Sprintf("127.0.0.1:%d", p[0])}
	topic := "fsaudit-outage"
	work := tmpDir(t, "fsaudit-outage-", 0)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath, Extra: fmt.Sprintf(`
[[sink]]
name = "kafka"
type = "kafka"
brokers = [%q]
topic = %q
create_topic = true
`, b.Plain, topic)})
	writer := exec.Command("sh", "-c", `i=0; while [ $i -lt 450 ]; do printf x > "$1/f$((i % 20))"; i=$((i+1)); sleep 0.1; done`, "sh", work)
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	// Stop the broker (not its data), wait 30 s, start it again as it was.
	stop()
	time.Sleep(30 * time.Second)
	if out, err := exec.Command(script, "resume", bdir).CombinedOutput(); err != nil {
		t.Fatalf("scripts/kafka resume: %v\n%s", err, out)
	}
	if err := writer.Wait(); err != nil {
		t.Fatal(err)
	}
	records := agent.Stop()
	msgs := b.readTopic(t, topic, len(records))
	ids := map[string]bool{}
	for _, m := range msgs {
		var r Record
		if err := json.Unmarshal(m.Value, &r); err != nil {
			t.Fatal(err)
		}
		ids[r.Event.ID] = true
	}
	missing := 0
	for _, r := range records {
		if !ids[r.Event.ID] {
			missing++
		}
	}
	faultf(t, "Kafka outage of 30 s: %d records written, %d in the topic, %d missing", len(records), len(ids), missing)
	if missing != 0 {
		t.Errorf("%d of %d records never reached the topic", missing, len(records))
	}
}

// TestFileSinkDiskFull: a file sink on a full file system (a small tmpfs)
// logs a clear error while another sink goes on; once there is room again
// it gets every record, in order, with no torn line, and its output
// verifies.
func TestFileSinkDiskFull(t *testing.T) {
	requireRoot(t)
	small := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "fsaudit-full", small).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", small).Run() })
	work := tmpDir(t, "fsaudit-full-", 0)
	witness := filepath.Join(t.TempDir(), "witness.jsonl")
	smallPath := filepath.Join(small, "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: witness, Extra: `
[[sink]]
name = "small"
type = "file"
path = "` + smallPath + `"
`})
	sh(t, nil, `i=0; while [ $i -lt 400 ]; do printf x > "$1/f$i"; i=$((i+1)); done`, work)
	// The witness gets everything while the small file system is full.
	deadline := time.Now().Add(30 * time.Second)
	for len(ReadRecords(t, witness)) < 400 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(ReadRecords(t, witness)); n != 400 {
		t.Fatalf("the other sink got %d of 400 records while the disk was full", n)
	}
	if log := agent.Log(); !strings.Contains(log, "no space left on device") {
		t.Errorf("no clear error about the full disk:\n%s", log)
	}
	if out, err := exec.Command("mount", "-o", "remount,size=16m", small).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v: %s", err, out)
	}
	records := agent.Stop()
	got := ReadRecords(t, smallPath) // each sink's own seals left out
	if len(got) != len(records) {
		t.Fatalf("the small file got %d records, want %d", len(got), len(records))
	}
	for i, r := range got {
		if r.Event.ID != records[i].Event.ID {
			t.Fatalf("record %d of the small file: id %s, want %s", i+1, r.Event.ID, records[i].Event.ID)
		}
	}
	if code, out := verifyFiles(t, smallPath); code != 0 {
		t.Errorf("the small file does not verify: %s", out)
	}
	faultf(t, "disk full: %d records written, %d in the file once there was room, 0 missing", len(records), len(got))
}

// TestRingBufferLoss: a ring buffer of one page under a storm of one-byte
// writes loses events; the lost records' counts plus the write records
// delivered equal the writes the storm made, exactly. The agent audits only
// the storm's cgroup, so no other process's events share the count.
func TestRingBufferLoss(t *testing.T) {
	requireRoot(t)
	cgRoot := cgroup2Root(t)
	name := "fsaudit-e2e-storm-" + randHex(t, 4)
	cg := filepath.Join(cgRoot, name)
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(cg) })
	work := tmpDir(t, "fsaudit-storm-", 0)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath,
		Agent: "ring_buffer_kb = 4\n", Filter: fmt.Sprintf("include_cgroups = [%q]\n", "/"+name)})
	const writes = 30000
	cgf, err := os.Open(cg)
	if err != nil {
		t.Fatal(err)
	}
	storm := exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(work, "storm"), "bs=1", fmt.Sprintf("count=%d", writes))
	storm.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cgf.Fd())}
	out, err := storm.CombinedOutput()
	cgf.Close()
	if err != nil {
		t.Fatalf("dd: %v: %s", err, out)
	}
	// A write outside the cgroup is not audited at all.
	sh(t, nil, `printf x > "$1"`, filepath.Join(work, "outside"))
	records := agent.Stop()
	var delivered, lost uint64
	for _, r := range records {
		switch {
		case r.Event.Action == "lost":
			lost += r.FSAudit.Lost
		case r.File.Name == "storm":
			delivered++
		default:
			t.Errorf("a record from outside the audited cgroup: %s", r.Raw)
		}
	}
	faultf(t, "ring buffer of 4 KiB: %d writes, %d records delivered, %d counted lost, %d unaccounted", writes, delivered, lost, int64(writes)-int64(delivered+lost))
	if lost == 0 {
		t.Error("no event was lost: the storm did not fill the ring buffer")
	}
	if delivered+lost != writes {
		t.Errorf("delivered %d + lost %d = %d, want the %d writes", delivered, lost, delivered+lost, writes)
	}
}
