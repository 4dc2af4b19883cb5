package filter

import (
	"testing"

	"github.com/fsaudit/fsaudit/record"
)

func TestPrefixes(t *testing.T) {
	f := Prefixes{Include: []string{"/home", "/etc/"}, Exclude: []string{"/home/ann/.cache"}}
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
	if !f.Keep(Path{Full: "x/y", Truncated: true}) || !f.Keep(Path{Full: "/proc/self/fd/3/x", Unresolved: true}) {
		t.Error("a truncated or unresolved path must be kept")
	}
	all := Prefixes{Include: []string{"/"}, Exclude: []string{"/proc"}}
	if !all.Keep(Path{Full: "/var/x"}) || all.Keep(Path{Full: "/proc/1/x"}) {
		t.Error("include / with exclude /proc")
	}
}

// A record is kept by any of its paths: either end of a rename or a hard
// link, in the writer's view or the host's; never by a symbolic link's
// text, which names no file.
func TestKeepRecord(t *testing.T) {
	f := Prefixes{Include: []string{"/etc", "/srv/jail"}, Exclude: []string{"/proc"}}
	rec := func(action, via, path, target, host, targetHost string) *record.Record {
		return &record.Record{Action: action, File: record.File{Path: path, TargetPath: target},
			FSAudit: record.FSAudit{Via: via, HostPath: host, TargetHostPath: targetHost}}
	}
	linked := func(action string, links uint32) *record.Record {
		r := rec(action, "", "/tmp/link", "", "", "")
		r.FSAudit.Links = links
		return r
	}
	tests := []struct {
		name string
		r    *record.Record
		keep bool
	}{
		{"write inside", rec("write", "", "/etc/x", "", "", ""), true},
		{"write outside", rec("write", "", "/tmp/x", "", "", ""), false},
		{"rename into", rec("rename", "", "/tmp/evil", "/etc/cron.d/evil", "", ""), true},
		{"rename out of", rec("rename", "", "/etc/shadow", "/tmp/s", "", ""), true},
		{"hard link to", rec("create", "link", "/tmp/l", "/etc/shadow", "", ""), true},
		{"symlink text", rec("create", "symlink", "/tmp/l", "/etc/shadow", "", ""), false},
		{"chroot inside, by the host's view", rec("write", "", "/tmp/x", "", "/srv/jail/tmp/x", ""), true},
		{"chroot's own /proc", rec("write", "", "/proc/x", "", "/srv/jail/proc/x", ""), true},
		{"rename in a chroot, target's host view", rec("rename", "", "/a", "/b", "/var/a", "/etc/b"), true},
		{"write through a second hard link outside", linked("write", 2), true},
		{"chmod through a second hard link outside", linked("chmod", 2), true},
		{"truncate through a second hard link", linked("truncate", 3), true},
		{"write to a file of one link outside", linked("write", 1), false},
		{"delete of one link outside", linked("delete", 2), false},
		{"rename of one link outside", linked("rename", 2), false},
	}
	for _, tc := range tests {
		if got := f.KeepRecord(tc.r); got != tc.keep {
			t.Errorf("%s: KeepRecord = %v, want %v", tc.name, got, tc.keep)
		}
	}
}
