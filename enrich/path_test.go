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

func TestPathFilter(t *testing.T) {
	f := PathFilter{Include: []string{"/home", "/etc/"}, Exclude: []string{"/home/ann/.cache"}}
	tests := []struct {
		path string
		keep bool
	}{
		{"/home/ann/notes", true},
		{"/home", true},
		{"/homework/x", false},
		{"/etc/passwd", true},
		{"/etcetera", false},
		{"/home/ann/.cache/x", false},
		{"/home/ann/.cache", false},
		{"/home/ann/.cachex", true},
		{"/var/log/x", false},
	}
	for _, tc := range tests {
		if got := f.Keep(Path{Full: tc.path}); got != tc.keep {
			t.Errorf("Keep(%q) = %v, want %v", tc.path, got, tc.keep)
		}
	}
	if !f.Keep(Path{Full: "x/y", Truncated: true}) {
		t.Error("a truncated path must be kept")
	}
	all := PathFilter{Include: []string{"/"}, Exclude: []string{"/proc"}}
	if !all.Keep(Path{Full: "/var/x"}) || all.Keep(Path{Full: "/proc/1/x"}) {
		t.Error("include / with exclude /proc")
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
