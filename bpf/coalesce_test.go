package bpf

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestSweepEvery(t *testing.T) {
	for _, tc := range []struct{ window, want time.Duration }{
		{time.Millisecond, 10 * time.Millisecond},
		{100 * time.Millisecond, 25 * time.Millisecond},
		{time.Second, 250 * time.Millisecond},
		{time.Hour, 250 * time.Millisecond},
	} {
		if got := sweepEvery(tc.window); got != tc.want {
			t.Errorf("sweepEvery(%s) = %s, want %s", tc.window, got, tc.want)
		}
	}
}

// TestCoalesceMapFull: when the kernel's map has no room for another
// window (eight here), writes to further files are reported one by one and counted;
// none is lost. The files that found room get their first write, a
// template and one coalesced event when closed.
func TestCoalesceMapFull(t *testing.T) {
	requireRoot(t)
	c, err := Open(Options{Hook: "tracepoint", AgentPID: 1, RegularOnly: true, Actions: []string{"write"},
		CoalesceWindow: time.Hour, CoalesceEntries: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Coalescing != nil || c.CloseHook != nil {
		t.Fatalf("coalescing: %v; close hook: %v", c.Coalescing, c.CloseHook)
	}
	dir := t.TempDir()
	inodes := map[uint64]string{}
	var files []*os.File
	for i := range 16 {
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		inodes[st.Ino] = f.Name()
		files = append(files, f)
	}
	for range 3 {
		for _, f := range files {
			if _, err := f.Write([]byte("abcd")); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range files {
		f.Close()
	}

	type tally struct{ plain, templates, coalesced, writes, bytes uint64 }
	got := map[string]*tally{}
	for name := range inodes {
		got[inodes[name]] = &tally{}
	}
	var ev Event
	deadline := time.Now().Add(30 * time.Second)
	total := func() (n uint64) {
		for _, g := range got {
			n += g.writes
		}
		return n
	}
	for total() < 48 && time.Now().Before(deadline) {
		if err := c.Read(&ev); err != nil {
			t.Fatal(err)
		}
		name, ok := inodes[ev.Inode]
		if !ok || ev.Op != OpWrite || ev.PID != uint32(os.Getpid()) {
			continue
		}
		g := got[name]
		switch {
		case ev.Flags&FlagTemplate != 0:
			g.templates++
		case ev.Flags&FlagCoalesced != 0:
			g.coalesced++
			g.writes += ev.Writes
			g.bytes += ev.Bytes
			if ev.EndTime < ev.KernelTime || ev.Offset != 4 {
				t.Errorf("%s: coalesced event from %d to %d at offset %d", name, ev.KernelTime, ev.EndTime, ev.Offset)
			}
		default:
			g.plain++
			g.writes++
			g.bytes += ev.Bytes
		}
	}
	merged, alone := 0, 0
	for name, g := range got {
		switch {
		case g.plain == 1 && g.templates == 1 && g.coalesced == 1 && g.writes == 3 && g.bytes == 12:
			merged++
		case g.plain == 3 && g.templates == 0 && g.coalesced == 0 && g.bytes == 12:
			alone++
		default:
			t.Errorf("%s: %+v", name, *g)
		}
	}
	// Other processes' writes on this machine may take entries too (a
	// busy machine can take them all): at most eight files find room, at
	// least eight do not, and each file's three writes are all reported.
	if merged+alone != 16 || merged > 8 {
		t.Errorf("%d files merged, %d reported write by write; want at most 8 of 16 merged", merged, alone)
	}
	t.Logf("%d files merged, %d reported write by write", merged, alone)
	if n, err := c.CoalesceFull(); err != nil || n < uint64(3*alone) {
		t.Errorf("writes reported alone for want of room: %d (%v), want at least %d", n, err, 3*alone)
	}
}
