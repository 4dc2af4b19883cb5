package e2e

import (
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
