package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNothingCutSilently: as nobody, beside a control, a command line
// longer than max_args_bytes is cut and flagged (the control's is whole
// and not flagged), and two file names that differ only in bytes that are
// not UTF-8 make two records whose exact names come back from
// fsaudit.raw_bytes.
func TestNothingCutSilently(t *testing.T) {
	requireRoot(t)
	work := tmpDir(t, "fsaudit-fidelity-", 0o777)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath, Agent: "max_args_bytes = 128\n"})
	long := strings.Repeat("A", 300)
	sh(t, nobody, `exec sh -c 'printf x > "$1"' sh "$1/short" short-arg`, work)
	sh(t, nobody, `exec sh -c 'printf x > "$1"' sh "$1/long" "$2"`, work, long)
	names := []string{"n\xff.txt", "n\xfe.txt"}
	for _, n := range names {
		sh(t, nobody, `printf x > "$1"`, filepath.Join(work, n))
	}
	records := agent.Stop()
	byPath := map[string][]Record{}
	for _, r := range records {
		byPath[r.File.Path] = append(byPath[r.File.Path], r)
	}
	short, longRecs := byPath[filepath.Join(work, "short")], byPath[filepath.Join(work, "long")]
	if len(short) != 1 || len(longRecs) != 1 {
		t.Fatalf("%d records of the control, %d of the long command line, want 1 each", len(short), len(longRecs))
	}
	if r := short[0]; r.FSAudit.ArgsTruncated || strings.Join(r.Process.Args, " ") != `sh -c printf x > "$1" sh `+filepath.Join(work, "short")+` short-arg` {
		t.Errorf("the control: args %q truncated %v", r.Process.Args, r.FSAudit.ArgsTruncated)
	}
	r := longRecs[0]
	n := -1 // the NULs between the arguments: the cut one has none after it
	for _, a := range r.Process.Args {
		n += len(a) + 1
	}
	if !r.FSAudit.ArgsTruncated || n > 128 || !strings.HasPrefix(r.Process.Args[len(r.Process.Args)-1], "A") {
		t.Errorf("the long command line: %d bytes of args %q, truncated %v; want at most 128, flagged", n, r.Process.Args, r.FSAudit.ArgsTruncated)
	}
	// Two names, one displayed path: the exact bytes tell them apart.
	shown := filepath.Join(work, "n\ufffd.txt")
	got := map[string]bool{}
	for _, r := range byPath[shown] {
		raw, err := base64.StdEncoding.DecodeString(r.FSAudit.RawBytes["file.path"])
		if err != nil {
			t.Fatalf("raw_bytes %q: %v", r.FSAudit.RawBytes, err)
		}
		got[string(raw)] = true
		if name, _ := base64.StdEncoding.DecodeString(r.FSAudit.RawBytes["file.name"]); filepath.Join(work, string(name)) != string(raw) {
			t.Errorf("file.name's bytes %q do not end file.path's %q", name, raw)
		}
	}
	for _, n := range names {
		if !got[filepath.Join(work, n)] {
			t.Errorf("no record keeps the exact name %q (records of %q: %d)", n, shown, len(byPath[shown]))
		}
	}
	if _, err := os.Stat(sinkPath); err != nil {
		t.Fatal(err)
	}
}
