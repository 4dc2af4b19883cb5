package enrich

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/bpf"
	"golang.org/x/sys/unix"
)

// TestResolveGiven: a path named by a string is followed through symbolic
// links among its directories, ".." going up from where a link leads; the
// last component only when the call followed it; and a writer in another
// root or mount namespace keeps the path as given.
func TestResolveGiven(t *testing.T) {
	x, err := New(Options{HostName: "h"})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"real/deep", "other"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("real/deep", dir+"/l"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/other/f", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("other/f", dir+"/flink"); err != nil {
		t.Fatal(err)
	}
	// A writer's own way into /proc: followed by the agent, it would name
	// the agent's descriptors.
	if err := os.Symlink("/proc/self", dir+"/plink"); err != nil {
		t.Fatal(err)
	}
	var root unix.Stat_t
	if err := unix.Stat("/", &root); err != nil {
		t.Fatal(err)
	}
	self := bpf.Event{MntNS: x.mntNS, RootDev: unix.Major(root.Dev)<<20 | unix.Minor(root.Dev), RootIno: root.Ino}
	tests := []struct {
		name  string
		given string
		flags bpf.Flags
		other bool // another mount namespace
		want  string
	}{
		{"link among the directories", "l/x", 0, false, dir + "/real/deep/x"},
		{"dot-dot after a link", "l/../x", 0, false, dir + "/real/x"},
		{"last component not followed", "flink", 0, false, dir + "/flink"},
		{"last component followed", "flink", bpf.FlagFollow, false, dir + "/other/f"},
		{"gone directory", "nowhere/x", 0, false, dir + "/nowhere/x"},
		{"another mount namespace", "l/x", 0, true, dir + "/l/x"},
		{"a link into /proc", "plink/fd/0/x", 0, false, dir + "/plink/fd/0/x"},
		{"/dev/fd", "/dev/fd/0/x", 0, false, "/dev/fd/0/x"},
		{"/proc through a dot", "/proc/./self/cwd/x", 0, false, "/proc/./self/cwd/x"},
	}
	for _, tc := range tests {
		ev := self
		if tc.other {
			ev.MntNS++
		}
		p := joinGiven(dir, tc.given, false)
		got := x.resolveGiven(&ev, p, bpf.FlagGiven|tc.flags)
		if got.Full != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got.Full, tc.want)
		}
		if intoProc := strings.Contains(tc.name, "/proc") || tc.name == "/dev/fd"; got.Unresolved != intoProc {
			t.Errorf("%s: unresolved %v, want %v", tc.name, got.Unresolved, intoProc)
		}
	}
}

// TestResolverBounded: a resolution that hangs is given up after the
// timeout, and once every slot is taken by hung ones, callers go on at once
// (with a timeout of an hour, a caller that waited would hang the test).
func TestResolverBounded(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	eval := func(p string) (string, error) {
		if p == "/hung" {
			<-release
		}
		return p + "!", nil
	}
	r := newResolver(eval, 2, 20*time.Millisecond)
	if s, err := r.resolve("/a"); err != nil || s != "/a!" {
		t.Fatalf("resolve(/a) = %q %v", s, err)
	}
	if _, err := r.resolve("/hung"); err == nil {
		t.Fatal("a hung resolution returned")
	}

	full := newResolver(eval, 1, time.Hour)
	go full.resolve("/hung")
	for len(full.slots) == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := full.resolve("/b"); err == nil {
		t.Error("resolved with every slot held by a hung call")
	}
}

// The path cache gives what Views gives, for every kind of event.
func TestPathCache(t *testing.T) {
	comps := []byte("f\x00d\x00root\x00x\x00")
	for _, ev := range []bpf.Event{
		{Components: comps},
		{Components: comps, Flags: bpf.FlagPassedRoot, RootOff: len(comps)},
		{Components: comps, Flags: bpf.FlagPassedRoot, RootOff: 4}, // a chroot at /x/root
		{Components: comps, Flags: bpf.FlagTruncated},
		{Components: []byte("f\x00"), Flags: bpf.FlagGiven},
	} {
		var c pathCache
		for range 2 { // a miss, then a hit
			p, host := c.views(&ev)
			wp, whost := Views(&ev)
			if p != wp || host != whost {
				t.Errorf("flags %b root_off %d: %+v %q, want %+v %q", ev.Flags, ev.RootOff, p, host, wp, whost)
			}
		}
	}
}

// TestClockWall: a monotonic reading converts to the wall-clock time it was
// taken at (to well within the tolerance here, which only catches a wrong
// sign or unit), and the offset is measured from a bracketed pair.
func TestClockWall(t *testing.T) {
	var c Clock
	for range 50 {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if d := c.Wall(uint64(ts.Nano())).Sub(now); d < -100*time.Millisecond || d > 100*time.Millisecond {
			t.Fatalf("Wall of a monotonic reading is %s from the time it was taken", d)
		}
	}
	off, uncertainty, ok := measureOffset()
	if !ok || uncertainty < 0 {
		t.Fatalf("measureOffset = %d, %d, %v", off, uncertainty, ok)
	}
	if d := off - c.offset; d < -int64(100*time.Millisecond) || d > int64(100*time.Millisecond) {
		t.Errorf("two measurements of the offset differ by %d ns", d)
	}
}
