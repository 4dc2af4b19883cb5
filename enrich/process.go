package enrich

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/fsaudit/fsaudit/bpf"
)

// Proc is what a record says of the writing process beyond the kernel event.
type Proc struct {
	Executable string
	Args       []string
	// ArgsTruncated: the argv was longer than the bound, and Args holds
	// its start.
	ArgsTruncated bool
}

type procKey struct {
	pid   uint32
	start uint64 // the process's start, CLOCK_MONOTONIC ns: pid reuse cannot match it
}

// Processes remembers each process's executable and arguments, from the
// kernel's exec events, keyed by pid and start time, and forgets them at the
// process's exit event. Processes that started before the agent are read
// from /proc once, beside the event path (reading a process's cmdline
// takes its memory map's lock, which the process can keep busy).
type Processes struct {
	mu      sync.Mutex
	m       map[procKey]*procEntry
	max     int
	proc    string // where procfs is mounted
	beside  *beside
	maxArgs int // bytes of arguments read from /proc
}

// procEntry is a cache entry: proc is nil when nothing is known, busy while
// /proc is read.
type procEntry struct {
	proc *Proc
	busy bool
}

// NewProcesses returns an empty cache bounded to max entries.
func NewProcesses(max int, b *beside) *Processes { return newProcesses(max, b, 0) }

// newProcesses is NewProcesses reading at most maxArgs bytes of a
// process's arguments from /proc (0: bpf.MaxArgsBytes).
func newProcesses(max int, b *beside, maxArgs int) *Processes {
	if maxArgs <= 0 || maxArgs > bpf.MaxArgsBytes {
		maxArgs = bpf.MaxArgsBytes
	}
	return &Processes{m: map[procKey]*procEntry{}, max: max, proc: "/proc", beside: b, maxArgs: maxArgs}
}

// Observe takes an exec or exit event.
func (p *Processes) Observe(ev *bpf.Event) {
	key := procKey{ev.PID, ev.StartTime}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Op {
	case bpf.OpExec:
		exe, _ := Views(ev)
		p.m[key] = &procEntry{proc: &Proc{Executable: exe.Full, Args: splitArgs(ev.Args), ArgsTruncated: ev.Flags&bpf.FlagArgsTrunc != 0}}
		p.bound()
	case bpf.OpExit:
		delete(p.m, key)
	}
}

// bound drops entries beyond max; exits normally keep the map small, so
// this only runs when exit events were lost.
func (p *Processes) bound() {
	if len(p.m) <= p.max {
		return
	}
	drop := len(p.m) - p.max + p.max/8
	for k := range p.m {
		if drop == 0 {
			break
		}
		delete(p.m, k)
		drop--
	}
}

// Lookup returns what is known of process (pid, start); nil when nothing
// is, or when /proc is still being read for it: pending says which.
func (p *Processes) Lookup(pid uint32, start uint64) (pr *Proc, pending bool) {
	key := procKey{pid, start}
	p.mu.Lock()
	if e, ok := p.m[key]; ok {
		pr, busy := e.proc, e.busy // read under the lock: the lookup writes them
		p.mu.Unlock()
		return pr, busy
	}
	e := &procEntry{busy: true} // /proc is read once per process
	p.m[key] = e
	p.bound()
	p.mu.Unlock()
	l, _ := p.beside.run(func() {
		pr := p.fromProc(pid, start)
		p.mu.Lock()
		e.proc, e.busy = pr, false
		p.mu.Unlock()
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	if l == nil {
		// Every lookup slot is taken: the next event tries again.
		if p.m[key] == e {
			delete(p.m, key)
		}
		return nil, true
	}
	return e.proc, e.busy
}

// fromProc reads a process that started before the agent, if pid still is
// that process.
func (p *Processes) fromProc(pid uint32, start uint64) *Proc {
	dir := fmt.Sprintf("%s/%d/", p.proc, pid)
	stat, err := readBounded(dir+"stat", 4096)
	if err != nil || !sameStart(stat, start) {
		return nil
	}
	pr := &Proc{}
	if exe, err := os.Readlink(dir + "exe"); err == nil {
		pr.Executable = strings.TrimSuffix(exe, " (deleted)")
	}
	// As much as the kernel's exec event carries, no more: a record stays
	// far below what any sink takes in one message.
	if cmdline, err := readBounded(dir+"cmdline", int64(p.maxArgs)+1); err == nil {
		if len(cmdline) > p.maxArgs {
			cmdline, pr.ArgsTruncated = cmdline[:p.maxArgs], true
		}
		pr.Args = splitArgs(cmdline)
	}
	return pr
}

// readBounded reads at most max bytes of a file of /proc.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's start time.
const clockTicks = 100

// sameStart compares /proc/PID/stat's start time (field 22, in clock ticks
// since boot) with the kernel's start time in nanoseconds, within a tick.
func sameStart(stat []byte, startNs uint64) bool {
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted after its last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return false
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return false
	}
	want := startNs / (1e9 / clockTicks)
	return ticks+1 >= want && ticks <= want+1
}

// splitArgs splits NUL-terminated arguments.
func splitArgs(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, a := range parts {
		out[i] = string(a)
	}
	return out
}
