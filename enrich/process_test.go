package enrich

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
)

func TestProcessesExecExit(t *testing.T) {
	p := NewProcesses(10, testBeside())
	p.proc = t.TempDir() // no /proc entries: a miss must come back empty
	exec := bpf.Event{Op: bpf.OpExec, PID: 42, StartTime: 7, Components: []byte("dash\x00bin\x00usr\x00"), Args: []byte("sh\x00-c\x00echo hi\x00")}
	p.Observe(&exec)
	got := lookupProc(p, 42, 7)
	if got == nil || got.Executable != "/usr/bin/dash" || strings.Join(got.Args, "|") != "sh|-c|echo hi" {
		t.Fatalf("after exec: %+v", got)
	}
	if lookupProc(p, 42, 8) != nil {
		t.Error("a reused pid with another start time matched")
	}
	p.Observe(&bpf.Event{Op: bpf.OpExit, PID: 42, StartTime: 7})
	if lookupProc(p, 42, 7) != nil {
		t.Error("an exited process is still known")
	}
}

func TestProcessesBound(t *testing.T) {
	p := NewProcesses(8, testBeside())
	p.proc = t.TempDir()
	for i := uint32(0); i < 100; i++ {
		p.Observe(&bpf.Event{Op: bpf.OpExec, PID: i, StartTime: 1, Components: []byte("x\x00")})
	}
	if len(p.m) > 8 {
		t.Errorf("cache holds %d entries, bound 8", len(p.m))
	}
}

func TestProcessesFromProc(t *testing.T) {
	dir := t.TempDir()
	pdir := filepath.Join(dir, "123")
	if err := os.Mkdir(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	// starttime (field 22) is 500 ticks = 5 s; the comm holds ") (" to trip naive parsing.
	stat := "123 (a) (b) S 1 123 123 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 500 1000 10"
	os.WriteFile(filepath.Join(pdir, "stat"), []byte(stat), 0o644)
	os.WriteFile(filepath.Join(pdir, "cmdline"), []byte("daemon\x00--flag\x00"), 0o644)
	os.Symlink("/usr/sbin/daemon", filepath.Join(pdir, "exe"))
	p := NewProcesses(10, testBeside())
	p.proc = dir
	got := lookupProc(p, 123, 5_000_000_000)
	if got == nil || got.Executable != "/usr/sbin/daemon" || strings.Join(got.Args, "|") != "daemon|--flag" {
		t.Fatalf("from /proc: %+v", got)
	}
	if lookupProc(p, 123, 9_000_000_000) != nil {
		t.Error("a process with another start time was taken for this one")
	}
}

// testBeside waits for every lookup, however slow the machine.
func testBeside() *beside { return newBeside(time.Minute, time.Minute, 8) }

func lookupProc(p *Processes, pid uint32, start uint64) *Proc {
	pr, _ := p.Lookup(pid, start)
	return pr
}
