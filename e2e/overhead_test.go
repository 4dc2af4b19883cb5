package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkSyscallOverhead: what the syscall point costs every system call
// on the machine, changing files or not (it runs on every entry and exit).
// none: no agent; agent: all actions audited, the calls' files outside the
// include path; writes-only: actions = ["write"], where the syscall point
// still watches sendfile, splice and copy_file_range.
func BenchmarkSyscallOverhead(b *testing.B) {
	requireRoot(b)
	work := tmpDir(b, "fsaudit-overhead-", 0)
	calls := []struct {
		name string
		call func()
	}{
		{"getppid", func() { unix.Getppid() }},
		{"fstat", func() {
			var st unix.Stat_t
			unix.Fstat(0, &st)
		}},
		{"chmod", func() { unix.Chmod(work, 0o700) }},
	}
	for _, tc := range []struct {
		name    string
		actions []string
	}{{"none", nil}, {"agent", allActions}, {"writes-only", []string{"write"}}} {
		var agent *Agent
		if tc.actions != nil {
			agent = StartAgent(b, AgentConfig{Include: []string{filepath.Join(work, "audited")}, Sink: filepath.Join(b.TempDir(), "audit.jsonl"), Actions: tc.actions})
		}
		for _, c := range calls {
			b.Run(tc.name+"/"+c.name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					c.call()
				}
			})
		}
		if agent != nil {
			agent.Stop()
		}
	}
}

// BenchmarkWriteOverhead: one 64-byte pwrite(2) into a file, with no agent,
// with the agent auditing it (coalescing on and off), and with the file
// outside the include path. The kernel matrix runs it in each hook mode
// (scripts/kernel-matrix --bench) to show what kprobe and fentry cost.
func BenchmarkWriteOverhead(b *testing.B) {
	requireRoot(b)
	work := tmpDir(b, "fsaudit-overhead-", 0o755)
	audited := filepath.Join(work, "audited")
	if err := os.Mkdir(audited, 0o755); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64)
	for _, tc := range []struct {
		name, include, window string
	}{
		{"none", "", ""},
		{"coalescing", audited, "1s"},
		{"one-record-per-write", audited, "0s"},
		{"outside-include", filepath.Join(work, "elsewhere"), "1s"},
	} {
		var agent *Agent
		if tc.include != "" {
			agent = StartAgent(b, AgentConfig{Include: []string{tc.include}, Sink: filepath.Join(b.TempDir(), "audit.jsonl"), Window: tc.window})
		}
		b.Run(tc.name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(audited, "f-"+tc.name))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			for b.Loop() {
				if _, err := f.WriteAt(buf, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		if agent != nil {
			agent.Stop()
		}
	}
}
