package e2e

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/record"
)

// sealedAgent runs the agent on a fresh sealing key (sealing every
// interval) and returns the verification key; the caller stops it.
func sealedAgent(t *testing.T, work, sinkPath, keyPath, interval string, extra AgentConfig) (*Agent, string) {
	t.Helper()
	vk := ""
	if _, err := os.Stat(keyPath); err != nil {
		code, stdout, stderr := runAgentCmd(t, "keygen", "--seal-key-file", keyPath)
		if code != 0 {
			t.Fatalf("keygen: exit %d: %s", code, stderr)
		}
		vk = strings.TrimSpace(stdout)
		if st, err := os.Stat(keyPath); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("keygen made %v (%v), want mode 0600", st, err)
		}
	}
	extra.Include, extra.Sink = []string{work}, sinkPath
	extra.Extra += fmt.Sprintf("\n[chain]\nseal_key_file = %q\nseal_interval = %q\n", keyPath, interval)
	return StartAgent(t, extra), vk
}

func verifyWith(t *testing.T, vk string, files ...string) (int, string) {
	t.Helper()
	code, stdout, stderr := runAgentCmd(t, append([]string{"verify", "--verification-key", vk}, files...)...)
	return code, stdout + stderr
}

// TestSealedChain: the agent seals its file sink's chain (start, every
// second, stop) under an evolving key; verify with the verification key
// passes the untouched output and names each way of tampering with it,
// including a rewrite by someone holding the host's current sealing key.
func TestSealedChain(t *testing.T) {
	requireRoot(t)
	work := tmpDir(t, "fsaudit-seal-", 0)
	dir := t.TempDir()
	sinkPath := filepath.Join(dir, "out", "audit.jsonl")
	keyPath := filepath.Join(dir, "seal.key")
	agent, vk := sealedAgent(t, work, sinkPath, keyPath, "1s", AgentConfig{})
	sh(t, nil, `i=0; while [ $i -lt 40 ]; do printf x > "$1/f$i"; i=$((i+1)); sleep 0.1; done`, work)
	agent.Stop()
	all := ReadAllRecords(t, sinkPath)
	var seals, epochs []string
	for _, r := range all {
		if r.Event.Action == "seal" {
			seals = append(seals, r.FSAudit.Seal.Reason)
			epochs = append(epochs, fmt.Sprint(r.FSAudit.Seal.Epoch))
		}
	}
	t.Logf("%d lines, seals %v, epochs %v", len(all), seals, epochs)
	if len(seals) < 4 || seals[0] != "start" || seals[len(seals)-1] != "stop" {
		t.Fatalf("seals %v: want a start seal, interval seals and a stop seal", seals)
	}
	code, out := verifyWith(t, vk, sinkPath)
	if code != 0 || !strings.Contains(out, "sealed to the end") {
		t.Fatalf("untouched sealed output: exit %d:\n%s", code, out)
	}
	lines := readLines(t, []string{sinkPath})
	firstSeal := -1 // the line of the first interval seal
	for i, r := range all {
		if r.Event.Action == "seal" && r.FSAudit.Seal.Reason == "interval" {
			firstSeal = i
			break
		}
	}
	if firstSeal < 3 {
		t.Fatalf("first interval seal at line %d: want records before it", firstSeal+1)
	}
	tamper := t.TempDir()

	// The key file now holds the key of the next epoch only: what an
	// attacker who takes the host after the stop can have.
	stolen := filepath.Join(tamper, "stolen.key")
	data, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	saveLines(t, stolen, []string{strings.TrimSuffix(string(data), "\n")})

	for _, tc := range []struct {
		name string
		ls   []string
		wait time.Duration // before verifying
		want string
	}{
		{"sealed tail cut", lines[:len(lines)-3], 7 * time.Second, "the seal due before"},
		{"head cut", lines[2:], 0, ":1: chain broken: the head is missing"},
		{"sequence gap", append(append([]string(nil), lines[:2]...), lines[3:]...), 0, ":3: chain broken: record 3 of the chain is missing"},
		{"empty file", nil, 0, "chain broken: no records: the input is empty"},
		{"rewritten with the current sealing key", forge(t, lines, 1, stolen), 0, "chain broken: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := saveLines(t, filepath.Join(tamper, strings.ReplaceAll(tc.name, " ", "-")+".jsonl"), tc.ls)
			time.Sleep(tc.wait)
			code, out := verifyWith(t, vk, path)
			if code != 1 || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want 1 and %q:\n%s", code, tc.want, out)
			}
		})
	}
	// A record sent twice (at-least-once delivery after a crash) is named,
	// not an error.
	again := append(append(append([]string(nil), lines[:4]...), lines[2:4]...), lines[4:]...)
	code, out = verifyWith(t, vk, saveLines(t, filepath.Join(tamper, "again.jsonl"), again))
	if code != 0 || !strings.Contains(out, "2 records sent again") || !strings.Contains(out, "again.jsonl:5: record 3 sent again") {
		t.Errorf("a resent record: exit %d:\n%s", code, out)
	}
}

// forge is what someone holding the host's current sealing key does:
// change record line i, make the chain whole again (it has no key of its
// own here), and seal every seal after it again with the only key it has.
func forge(t *testing.T, lines []string, i int, stolenKey string) []string {
	t.Helper()
	f, err := os.OpenFile(stolenKey, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	k, err := chain.OpenSealKey(f, stolenKey)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	out := append([]string(nil), lines...)
	var prev chain.State
	for j := range out {
		var r record.Record
		if err := record.ParseJSON([]byte(out[j]), &r); err != nil {
			t.Fatal(err)
		}
		if j == i {
			r.FSAudit.Bytes += 100
		}
		if j >= i && r.Action == record.ActionSeal {
			sl := r.FSAudit.Seal
			epoch, tokens, err := k.Round([]string{sl.Sink})
			if err != nil {
				t.Fatal(err)
			}
			cs := chain.Seal{Reason: sl.Reason, Sink: sl.Sink, Instance: sl.Instance, Seq: prev.Seq, Hash: prev.Hash,
				Time: r.Time, Epoch: epoch, KeyID: sl.KeyID, NextBefore: sl.NextBefore}
			mac := cs.MAC(tokens[0])
			sl.Sequence, sl.Hash, sl.Epoch, sl.MAC = prev.Seq, prev.Hash.String(), epoch, hex.EncodeToString(mac[:])
		}
		r.FSAudit.Chain = record.Chain{}
		c := chain.New(nil, prev)
		canonical := record.AppendJSON(nil, &r)
		_, own := c.Next(canonical)
		out[j] = string(record.AppendChained(nil, canonical, record.Chain{Seq: own.Seq, Prev: prev.Hash.String(), Hash: own.Hash.String()}))
		prev = own
	}
	return out
}

// TestChainRestartWithoutSpool: two runs of the agent into one file with
// no spool make two chains, which verify (the second named as a new start);
// sealing goes on across them, so a chain started again from zeros after
// a cut is found.
func TestChainRestartWithoutSpool(t *testing.T) {
	requireRoot(t)
	work := tmpDir(t, "fsaudit-restart-", 0)
	dir := t.TempDir()
	sinkPath := filepath.Join(dir, "out", "audit.jsonl")
	keyPath := filepath.Join(dir, "seal.key")
	var vk string
	for run := 0; run < 2; run++ {
		agent, v := sealedAgent(t, work, sinkPath, keyPath, "15m", AgentConfig{NoSpool: true})
		if run == 0 {
			vk = v
		}
		sh(t, nil, `i=0; while [ $i -lt 20 ]; do printf x > "$1/f$i"; i=$((i+1)); done`, work)
		agent.Stop()
	}
	code, out := verifyFiles(t, sinkPath)
	if code != 0 || !strings.Contains(out, "a new chain starts") {
		t.Fatalf("two runs without a spool: exit %d:\n%s", code, out)
	}
	if code, out := verifyWith(t, vk, sinkPath); code != 0 || !strings.Contains(out, "sealed to the end") {
		t.Fatalf("two runs without a spool, with the verification key: exit %d:\n%s", code, out)
	}
	// Cut the first run's end (its stop seal) and let the second run's
	// new chain follow: the epochs of the seals removed are missing.
	lines := readLines(t, []string{sinkPath})
	second := -1
	for i, l := range lines {
		if i > 0 && strings.Contains(l, `"seal":{"reason":"start"`) {
			second = i
		}
	}
	cut := append(append([]string(nil), lines[:second-1]...), lines[second:]...)
	path := saveLines(t, filepath.Join(t.TempDir(), "cut.jsonl"), cut)
	if code, out := verifyWith(t, vk, path); code != 1 || !strings.Contains(out, "the seal of epoch 1 is missing") {
		t.Errorf("a run's end cut before a new chain: exit %d:\n%s", code, out)
	}
}

// TestChainRetention: the file sink starts each file it rotates to with a
// seal record; when retention removed the oldest files, verify of what is
// left says where the chain starts and exits 0, while the same file with
// its first lines cut fails.
func TestChainRetention(t *testing.T) {
	requireRoot(t)
	work := tmpDir(t, "fsaudit-retention-", 0)
	dir := t.TempDir()
	sinkPath := filepath.Join(dir, "out", "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath, Extra: `
[[sink]]
name = "rotating"
type = "file"
path = "` + filepath.Join(dir, "rot", "audit.jsonl") + `"
max_size_mb = 1
max_backups = 1
`})
	sh(t, nil, `i=0; while [ $i -lt 4500 ]; do printf x > "$1/f$i"; i=$((i+1)); done`, work)
	agent.Stop()
	rot := filepath.Join(dir, "rot", "audit.jsonl")
	files := sinkFiles(t, rot)
	if len(files) != 2 {
		t.Fatalf("files %v: want the live file and one backup", files)
	}
	code, out := verifyFiles(t, files...)
	if code != 0 || !strings.Contains(out, "starts at sequence") || !strings.Contains(out, "earlier files not given") {
		t.Fatalf("files after retention: exit %d:\n%s", code, out)
	}
	lines := readLines(t, files[:1])
	path := saveLines(t, filepath.Join(t.TempDir(), "cut.jsonl"), lines[1:])
	if code, out := verifyFiles(t, path); code != 1 || !strings.Contains(out, "the head is missing") {
		t.Errorf("a rotated file with its first line cut: exit %d:\n%s", code, out)
	}
}

// TestSealAnchor: a file sink anchors its seals in a syslog sink (a real
// rsyslogd): the copies there verify the file, and find its cut tail and
// a rewrite of its records, which the plain chain alone cannot.
func TestSealAnchor(t *testing.T) {
	requireRoot(t)
	rs := startRsyslogd(t, writePKI(t, t.TempDir()))
	work := tmpDir(t, "fsaudit-anchor-", 0)
	dir := t.TempDir()
	sinkPath := filepath.Join(dir, "out", "audit.jsonl")
	agent, vk := sealedAgent(t, work, sinkPath, filepath.Join(dir, "seal.key"), "1s", AgentConfig{Extra: fmt.Sprintf(`seal_anchor = "siem"

[[sink]]
name = "siem"
type = "syslog"
address = "tcp://127.0.0.1:%d"
`, rs.ports["tcp"])})
	sh(t, nil, `i=0; while [ $i -lt 30 ]; do printf x > "$1/f$i"; i=$((i+1)); sleep 0.1; done`, work)
	agent.Stop()
	// What the SIEM keeps: the copies of the local sink's seals.
	var copies []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		copies = copies[:0]
		data, _ := os.ReadFile(rs.out("tcp"))
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var m received
			if json.Unmarshal([]byte(l), &m) == nil && strings.Contains(m.Msg, `"anchored":true`) {
				copies = append(copies, m.body())
			}
		}
		if len(copies) > 0 && strings.Contains(copies[len(copies)-1], `"reason":"stop"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(copies) < 4 || !strings.Contains(copies[0], `"sink":"local"`) {
		t.Fatalf("the syslog sink holds %d copies of the local sink's seals", len(copies))
	}
	seals := saveLines(t, filepath.Join(t.TempDir(), "seals.jsonl"), copies)
	code, stdout, stderr := runAgentCmd(t, "verify", "--verification-key", vk, "--seals", seals, sinkPath)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("anchored seals: %d of this sink's chain", len(copies))) {
		t.Fatalf("the file against its anchored seals: exit %d:\n%s%s", code, stdout, stderr)
	}
	lines := readLines(t, []string{sinkPath})
	tamper := t.TempDir()
	stolen := filepath.Join(tamper, "stolen.key")
	data, _ := os.ReadFile(filepath.Join(dir, "seal.key"))
	saveLines(t, stolen, []string{strings.TrimSuffix(string(data), "\n")})
	for _, tc := range []struct {
		name string
		ls   []string
		want string
	}{
		// Without a key, a cut tail is a shorter chain...
		{"tail cut", lines[:len(lines)-6], "their end was cut"},
		// ...and a rewrite with the chain made whole again verifies.
		{"rewritten", forge(t, lines, 1, stolen), "differs from the files' seal"},
	} {
		path := saveLines(t, filepath.Join(tamper, strings.ReplaceAll(tc.name, " ", "-")+".jsonl"), tc.ls)
		if code, out := verifyFiles(t, path); code != 0 {
			t.Errorf("%s: the plain chain alone should not see it: exit %d:\n%s", tc.name, code, out)
		}
		code, stdout, _ := runAgentCmd(t, "verify", "--seals", seals, path)
		if code != 1 || !strings.Contains(stdout, tc.want) {
			t.Errorf("%s: exit %d, want 1 and %q:\n%s", tc.name, code, tc.want, stdout)
		}
	}
}
