package enrich

import (
	"strings"
	"testing"

	"github.com/fsaudit/fsaudit/bpf"
)

// pack builds kernel components (leaf first, NUL-terminated) from a path.
func pack(path string) []byte {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var b []byte
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i] == "" {
			continue
		}
		b = append(b, parts[i]...)
		b = append(b, 0)
	}
	return b
}

func TestAssemblePath(t *testing.T) {
	deep := strings.Repeat("/d", 128) + "/leaf"
	tests := []struct {
		name      string
		comps     []byte
		truncated bool
		want      Path
	}{
		{"file", pack("/etc/passwd"), false, Path{Full: "/etc/passwd", Name: "passwd", Directory: "/etc"}},
		{"top level", pack("/vmlinuz"), false, Path{Full: "/vmlinuz", Name: "vmlinuz", Directory: "/"}},
		{"root", nil, false, Path{Full: "/", Directory: "/"}},
		{"spaces quotes newline", []byte("a \"b\"\nc\x00dir\x00"), false, Path{Full: "/dir/a \"b\"\nc", Name: "a \"b\"\nc", Directory: "/dir"}},
		{"non-ASCII", pack("/tmp/żółw/ünï"), false, Path{Full: "/tmp/żółw/ünï", Name: "ünï", Directory: "/tmp/żółw"}},
		{"deep", pack(deep), false, Path{Full: deep, Name: "leaf", Directory: strings.Repeat("/d", 128)}},
		{"truncated", pack("/c/d/leaf"), true, Path{Full: "c/d/leaf", Name: "leaf", Directory: "c/d", Truncated: true}},
		{"truncated single", pack("/leaf"), true, Path{Full: "leaf", Name: "leaf", Truncated: true}},
		{"missing NUL", []byte("leaf\x00di"), false, Path{Full: "leaf", Name: "leaf", Truncated: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := AssemblePath(tc.comps, tc.truncated); got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func FuzzAssemblePath(f *testing.F) {
	f.Add([]byte("a\x00b\x00"), false)
	f.Add([]byte("\x00\x00"), true)
	f.Fuzz(func(t *testing.T, comps []byte, truncated bool) {
		p := AssemblePath(comps, truncated)
		if !p.Truncated && !strings.HasPrefix(p.Full, "/") {
			t.Fatalf("untruncated path %q is not absolute", p.Full)
		}
		if p.Name != "" && !strings.HasSuffix(p.Full, p.Name) {
			t.Fatalf("name %q is not the end of %q", p.Name, p.Full)
		}
	})
}

func TestViews(t *testing.T) {
	// A chroot at /srv/root: the walk passes the root after "data/f.txt".
	comps := pack("/srv/root/data/f.txt")
	below := len(pack("/data/f.txt"))
	tests := []struct {
		name     string
		ev       bpf.Event
		own      string
		host     string
		ownTrunc bool
	}{
		{"host process", bpf.Event{Components: pack("/etc/passwd"), Flags: bpf.FlagPassedRoot, RootOff: len(pack("/etc/passwd"))}, "/etc/passwd", "", false},
		{"chroot", bpf.Event{Components: comps, Flags: bpf.FlagPassedRoot, RootOff: below}, "/data/f.txt", "/srv/root/data/f.txt", false},
		{"truncated above the root", bpf.Event{Components: comps, Flags: bpf.FlagPassedRoot | bpf.FlagTruncated, RootOff: below}, "/data/f.txt", "", false},
		{"truncated below the root", bpf.Event{Components: pack("/a/b"), Flags: bpf.FlagTruncated}, "a/b", "", true},
		{"outside the root", bpf.Event{Components: pack("/old/f"), Flags: bpf.FlagOutsideRoot}, "/old/f", "", false},
		{"the root itself", bpf.Event{Components: pack("/srv/root"), Flags: bpf.FlagPassedRoot, RootOff: 0}, "/", "/srv/root", false},
	}
	for _, tc := range tests {
		own, host := Views(&tc.ev)
		if own.Full != tc.own || host != tc.host || own.Truncated != tc.ownTrunc {
			t.Errorf("%s: own %q (truncated %v) host %q; want %q (%v) %q", tc.name, own.Full, own.Truncated, host, tc.own, tc.ownTrunc, tc.host)
		}
	}
}

// given packs a path string the process gave in front of the walked
// components of the directory it is relative to.
func given(s string, dir []byte) []byte {
	return append(append([]byte(s), 0), dir...)
}

func TestGivenViews(t *testing.T) {
	cwd := pack("/home/ann")
	chrootCwd := pack("/srv/root/data")
	tests := []struct {
		name       string
		ev         bpf.Event
		own, host  string
		dir, base  string
		truncated  bool
		wantTarget string
	}{
		{"relative", bpf.Event{Components: given("notes.txt", cwd), Flags: bpf.FlagGiven | bpf.FlagPassedRoot, RootOff: len(given("notes.txt", cwd))},
			"/home/ann/notes.txt", "", "/home/ann", "notes.txt", false, ""},
		{"dot-dot and dots", bpf.Event{Components: given("../bob/./x//y", cwd), Flags: bpf.FlagGiven | bpf.FlagPassedRoot, RootOff: len(given("../bob/./x//y", cwd))},
			"/home/bob/x/y", "", "/home/bob/x", "y", false, ""},
		{"absolute from the root", bpf.Event{Components: given("/etc/shadow", nil), Flags: bpf.FlagGiven | bpf.FlagPassedRoot, RootOff: len("/etc/shadow") + 1},
			"/etc/shadow", "", "/etc", "shadow", false, ""},
		{"absolute in a chroot", bpf.Event{Components: given("/etc/shadow", pack("/srv/root")), Flags: bpf.FlagGiven | bpf.FlagPassedRoot, RootOff: len("/etc/shadow") + 1},
			"/etc/shadow", "/srv/root/etc/shadow", "/etc", "shadow", false, ""},
		{"relative in a chroot", bpf.Event{Components: given("f", chrootCwd), Flags: bpf.FlagGiven | bpf.FlagPassedRoot, RootOff: len("f") + 1 + len(pack("/data"))},
			"/data/f", "/srv/root/data/f", "/data", "f", false, ""},
		{"dot-dot cannot leave a chroot", bpf.Event{Components: given("../../../etc/passwd", chrootCwd), Flags: bpf.FlagGiven | bpf.FlagPassedRoot, RootOff: len("../../../etc/passwd") + 1 + len(pack("/data"))},
			"/etc/passwd", "/srv/root/etc/passwd", "/etc", "passwd", false, ""},
		{"absolute dot-dot in a chroot", bpf.Event{Components: given("/../etc", pack("/srv/root")), Flags: bpf.FlagGiven | bpf.FlagPassedRoot, RootOff: len("/../etc") + 1},
			"/etc", "/srv/root/etc", "/", "etc", false, ""},
		{"past the root with dot-dot", bpf.Event{Components: given("../../../x", cwd), Flags: bpf.FlagGiven | bpf.FlagPassedRoot, RootOff: len(given("../../../x", cwd))},
			"/x", "", "/", "x", false, ""},
		{"directory walk truncated", bpf.Event{Components: given("f", pack("/deep/er")), Flags: bpf.FlagGiven | bpf.FlagTruncated},
			"deep/er/f", "", "deep/er", "f", true, ""},
	}
	for _, tc := range tests {
		own, host := Views(&tc.ev)
		if own.Full != tc.own || host != tc.host || own.Directory != tc.dir || own.Name != tc.base || own.Truncated != tc.truncated {
			t.Errorf("%s: own %+v host %q; want %q in %q named %q (truncated %v), host %q", tc.name, own, host, tc.own, tc.dir, tc.base, tc.truncated, tc.host)
		}
	}
}

func TestTargetViews(t *testing.T) {
	ev := bpf.Event{
		Target:        given("new name", pack("/tmp")),
		TargetFlags:   bpf.FlagGiven | bpf.FlagPassedRoot,
		TargetRootOff: len(given("new name", pack("/tmp"))),
	}
	own, host, ok := TargetViews(&ev)
	if !ok || own.Full != "/tmp/new name" || host != "" {
		t.Errorf("target: %+v %q %v", own, host, ok)
	}
	raw := bpf.Event{Target: []byte("../relative/text\x00"), TargetFlags: bpf.FlagRaw}
	if _, _, ok := TargetViews(&raw); ok {
		t.Error("a raw target read as a path")
	}
	if got := RawTarget(&raw); got != "../relative/text" {
		t.Errorf("RawTarget %q", got)
	}
	if got := RawTarget(&bpf.Event{}); got != "" {
		t.Errorf("RawTarget of nothing %q", got)
	}
}

func TestProcMagic(t *testing.T) {
	tests := []struct {
		given, want string
		magic       bool
	}{
		{"/proc/self/fd/99/x", "/proc/self/fd/99/x", true},
		{"//proc///self/cwd/x", "/proc/self/cwd/x", true},
		{"/proc/thread-self/root/etc/x", "/proc/thread-self/root/etc/x", true},
		{"/proc/42/task/43/fd/3", "/proc/42/task/43/fd/3", true},
		{"/proc/self/map_files/1000-2000", "/proc/self/map_files/1000-2000", true},
		{"/proc/sys/kernel/x", "", false},
		{"/proc/self/status", "", false},
		{"/procx/self/fd/1/x", "", false},
		{"/tmp/proc/self/fd/1/x", "", false},
	}
	for _, tc := range tests {
		got, ok := procMagic(tc.given)
		if ok != tc.magic || (ok && got != tc.want) {
			t.Errorf("procMagic(%q) = %q, %v; want %q, %v", tc.given, got, ok, tc.want, tc.magic)
		}
	}
}
