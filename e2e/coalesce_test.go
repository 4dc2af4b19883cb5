package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// lines is what the scripts below write: "line0\n", "line1\n", ...
func lineBytes(from, to int) (n uint64) {
	for i := from; i < to; i++ {
		n += uint64(len(fmt.Sprintf("line%d\n", i)))
	}
	return n
}

// writeLines is a shell loop writing line<from>..line<to-1> to fd 3, one
// write(2) each.
func writeLines(from, to int) string {
	return fmt.Sprintf(`i=%d; while [ $i -lt %d ]; do echo line$i >&3; i=$((i+1)); done`, from, to)
}

func dumpRecords(recs []Record) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%s pid=%d writes=%d bytes=%d offset=%d end=%q\n", r.File.Path, r.Process.PID, r.FSAudit.Writes, r.FSAudit.Bytes, r.FSAudit.Offset, r.Event.End)
	}
	return b.String()
}

// ofFile returns the write records of path by pid, in time order (a
// merged record's time is its first write's).
func ofFile(recs []Record, path string, pid int) []Record {
	var out []Record
	for _, r := range recs {
		if r.Event.Action == "write" && r.File.Path == path && (pid == 0 || r.Process.PID == pid) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Timestamp < out[j].Timestamp })
	return out
}

// wantWindow checks one window's records: the first write alone at once,
// then the rest merged in one record that says when the first and the
// last of them were.
func wantWindow(t *testing.T, what string, recs []Record, from, to int, offset uint64) {
	t.Helper()
	if len(recs) != 2 {
		t.Errorf("%s: %d records, want the first write and one of the %d merged:\n%s", what, len(recs), to-from-1, dumpRecords(recs))
		return
	}
	first, merged := recs[0], recs[1]
	if first.FSAudit.Writes != 1 || first.FSAudit.Bytes != lineBytes(from, from+1) || first.FSAudit.Offset != offset || first.Event.End != "" {
		t.Errorf("%s: first record writes=%d bytes=%d offset=%d end=%q, want 1, %d, %d, none",
			what, first.FSAudit.Writes, first.FSAudit.Bytes, first.FSAudit.Offset, first.Event.End, lineBytes(from, from+1), offset)
	}
	wantOff := offset + lineBytes(from, from+1)
	if merged.FSAudit.Writes != uint64(to-from-1) || merged.FSAudit.Bytes != lineBytes(from+1, to) || merged.FSAudit.Offset != wantOff {
		t.Errorf("%s: merged record writes=%d bytes=%d offset=%d, want %d, %d, %d",
			what, merged.FSAudit.Writes, merged.FSAudit.Bytes, merged.FSAudit.Offset, to-from-1, lineBytes(from+1, to), wantOff)
	}
	start, err1 := time.Parse(time.RFC3339Nano, merged.Event.Start)
	end, err2 := time.Parse(time.RFC3339Nano, merged.Event.End)
	ts, err3 := time.Parse(time.RFC3339Nano, merged.Timestamp)
	if err1 != nil || err2 != nil || err3 != nil || !start.Equal(ts) || end.Before(start) {
		t.Errorf("%s: merged record @timestamp %q, start %q, end %q: want start = @timestamp <= end", what, merged.Timestamp, merged.Event.Start, merged.Event.End)
	}
	if first.Process.Name != merged.Process.Name || first.User.ID != merged.User.ID || first.File.Inode != merged.File.Inode ||
		first.Process.Executable != merged.Process.Executable || first.FSAudit.Hook != merged.FSAudit.Hook {
		t.Errorf("%s: merged record names another writer or file:\n%s\n%s", what, first.Raw, merged.Raw)
	}
}

// TestCoalescing: with a window, a process's first write to a file is a
// record at once and its further writes within the window one record, sent
// when the file is closed, the process exits, the window ends, or the agent
// stops; an exec starts another record; every write is counted once.
func TestCoalescing(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	sink := filepath.Join(t.TempDir(), "audit.jsonl")
	// A window far longer than the test: whatever is merged and reported
	// before the agent stops was reported by close or exit.
	a := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sink, Window: "10m"})

	closed := filepath.Join(dir, "closed.log")
	closedPID := startSh(t, `exec 3>"$1"; `+writeLines(0, 20)+`; exec 3>&-; touch "$1.done"; sleep 600`, closed)
	waitFile(t, closed+".done")
	wantWindow(t, "closed", ofFile(waitRecords(t, sink, time.Minute, "merged writes of a closed file", func(r []Record) bool {
		return len(ofFile(r, closed, closedPID)) >= 2
	}), closed, closedPID), 0, 20, 0)

	exited := filepath.Join(dir, "exited.log")
	exitedPID := sh(t, nil, `exec 3>"$1"; `+writeLines(0, 15), exited)
	wantWindow(t, "exited", ofFile(waitRecords(t, sink, time.Minute, "merged writes of a process that exited", func(r []Record) bool {
		return len(ofFile(r, exited, exitedPID)) >= 2
	}), exited, exitedPID), 0, 15, 0)

	// An exec keeps the file open, but the writer is another program.
	execd := filepath.Join(dir, "exec.log")
	execPID := sh(t, nil, `exec 3>"$1"; `+writeLines(0, 4)+`; exec sh -c '`+writeLines(4, 9)+`'`, execd)
	execRecs := ofFile(waitRecords(t, sink, time.Minute, "the writes before and after an exec", func(r []Record) bool {
		return len(ofFile(r, execd, execPID)) >= 4
	}), execd, execPID)
	if len(execRecs) == 4 {
		wantWindow(t, "before exec", execRecs[:2], 0, 4, 0)
		wantWindow(t, "after exec", execRecs[2:], 4, 9, lineBytes(0, 4))
	} else {
		t.Errorf("exec: %d records, want 4:\n%s", len(execRecs), dumpRecords(execRecs))
	}

	// Two processes appending to one file: a window each.
	shared := filepath.Join(dir, "shared.log")
	p1 := startSh(t, `exec 3>>"$1"; `+writeLines(0, 30)+`; touch "$1.1"; sleep 600`, shared)
	p2 := startSh(t, `exec 3>>"$1"; `+writeLines(100, 130)+`; touch "$1.2"; sleep 600`, shared)
	waitFile(t, shared+".1")
	waitFile(t, shared+".2")

	// Open and idle: reported when the agent stops.
	idle := filepath.Join(dir, "idle.log")
	idlePID := startSh(t, `exec 3>"$1"; `+writeLines(0, 25)+`; touch "$1.done"; sleep 600`, idle)
	waitFile(t, idle+".done")

	recs := a.Stop()
	for _, p := range []struct {
		pid  int
		from int
	}{{p1, 0}, {p2, 100}} {
		rs := ofFile(recs, shared, p.pid)
		var writes, bytes uint64
		for _, r := range rs {
			writes += r.FSAudit.Writes
			bytes += r.FSAudit.Bytes
		}
		if len(rs) != 2 || writes != 30 || bytes != lineBytes(p.from, p.from+30) {
			t.Errorf("shared file, pid %d: %d records of %d writes, %d bytes; want 2 of 30, %d:\n%s", p.pid, len(rs), writes, bytes, lineBytes(p.from, p.from+30), dumpRecords(rs))
		}
	}
	wantWindow(t, "open at stop", ofFile(recs, idle, idlePID), 0, 25, 0)
	st, err := os.Stat(closed)
	if err != nil || uint64(st.Size()) != lineBytes(0, 20) {
		t.Errorf("closed.log: %v, size %d", err, st.Size())
	}
	if strings.Contains(a.Log(), "never named") {
		t.Errorf("merged writes without their template:\n%s", a.Log())
	}
}

// TestCoalescingWindowEnds: merged writes to a file that stays open are
// reported when the window ends, and the next write opens another window
// with a record of its own at once.
func TestCoalescingWindowEnds(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	sink := filepath.Join(t.TempDir(), "audit.jsonl")
	a := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sink, Window: "1s"})
	f := filepath.Join(dir, "open.log")
	pid := startSh(t, `exec 3>"$1"; `+writeLines(0, 10)+`; touch "$1.1"; while [ ! -e "$1.go" ]; do sleep 0.1; done; `+
		writeLines(10, 14)+`; touch "$1.2"; sleep 600`, f)
	waitFile(t, f+".1")
	wantWindow(t, "first window", ofFile(waitRecords(t, sink, time.Minute, "the merged writes of an ended window", func(r []Record) bool {
		return len(ofFile(r, f, pid)) >= 2
	}), f, pid), 0, 10, 0)
	if err := os.WriteFile(f+".go", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFile(t, f+".2")
	recs := ofFile(waitRecords(t, sink, time.Minute, "the second window", func(r []Record) bool {
		return len(ofFile(r, f, pid)) >= 4
	}), f, pid)
	if len(recs) == 4 {
		wantWindow(t, "second window", recs[2:], 10, 14, lineBytes(0, 10))
	} else {
		t.Errorf("%d records, want 4:\n%s", len(recs), dumpRecords(recs))
	}
	a.Stop()
}

// TestCoalescingInodeReused: a file closed without close(2) (dup2 over its
// descriptor) leaves its window open; once the file is deleted its inode's
// memory can be the next file's, whose writes must not be counted as the
// first's. Every file's records add up to its own writes.
func TestCoalescingInodeReused(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	sink := filepath.Join(t.TempDir(), "audit.jsonl")
	a := StartAgent(t, AgentConfig{Include: []string{dir}, Sink: sink, Window: "10m"})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 40
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "FSAUDIT_E2E_HELPER=reuse-inodes", "FSAUDIT_E2E_PATH="+dir, fmt.Sprintf("FSAUDIT_E2E_ROUNDS=%d", rounds))
	pid := runCmd(t, cmd)
	recs := a.Stop()
	for i := 0; i < rounds; i++ {
		for _, name := range []string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)} {
			rs := ofFile(recs, filepath.Join(dir, name), pid)
			var writes, bytes uint64
			for _, r := range rs {
				writes += r.FSAudit.Writes
				bytes += r.FSAudit.Bytes
			}
			if writes != 2 || bytes != 8 {
				t.Errorf("%s: records of %d writes, %d bytes; want 2 writes, 8 bytes:\n%s", name, writes, bytes, dumpRecords(rs))
			}
		}
	}
}

// reuseInodes is the workload of TestCoalescingInodeReused, run as a
// process of its own on one CPU (where a freed inode's memory is reused
// first): per round, two writes to a<i>, its deletion and a dup2 over its
// descriptor, then two writes to a new file b<i>, closed.
func reuseInodes() int {
	dir := os.Getenv("FSAUDIT_E2E_PATH")
	var rounds int
	if _, err := fmt.Sscan(os.Getenv("FSAUDIT_E2E_ROUNDS"), &rounds); err != nil {
		fmt.Fprintln(os.Stderr, "FSAUDIT_E2E_ROUNDS:", err)
		return 2
	}
	runtime.LockOSThread()
	var one unix.CPUSet
	one.Set(0)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		fmt.Fprintln(os.Stderr, "sched_setaffinity:", err)
		return 1
	}
	null, err := unix.Open("/dev/null", unix.O_WRONLY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; i < rounds; i++ {
		for _, name := range []string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)} {
			p := filepath.Join(dir, name)
			fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
			if err == nil {
				_, err = unix.Write(fd, []byte("four"))
			}
			if err == nil {
				_, err = unix.Write(fd, []byte("more"))
			}
			if err == nil && name[0] == 'a' {
				// Gone, and closed by dup2: no close(2).
				if err = unix.Unlink(p); err == nil {
					err = unix.Dup2(null, fd)
				}
			}
			if err == nil {
				err = unix.Close(fd)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, name, err)
				return 1
			}
			// Time for the deleted inode's memory to be freed (after an
			// RCU grace period).
			time.Sleep(20 * time.Millisecond)
		}
	}
	return 0
}

// startSh starts a shell script in the background with args $1.. and
// returns its pid; it is killed at cleanup.
func startSh(t *testing.T, script string, args ...string) int {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
