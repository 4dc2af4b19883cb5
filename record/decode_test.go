package record

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func roundTrip(t *testing.T, r *Record) {
	t.Helper()
	first := AppendJSON(nil, r)
	var back Record
	if err := ParseJSON(first, &back); err != nil {
		t.Fatalf("ParseJSON(%s): %v", first, err)
	}
	if second := AppendJSON(nil, &back); string(second) != string(first) {
		t.Errorf("round trip changed the record:\n%s\n%s", first, second)
	}
}

func TestParseJSONRoundTrip(t *testing.T) {
	full := sample()
	full.Process.Executable, full.Process.Args = "/usr/bin/vim", []string{"vim", "a b", ""}
	full.Container = Container{ID: strings.Repeat("c", 64), Runtime: "containerd", Name: "app", ImageName: "shop/app:2"}
	full.Orchestrator = Orchestrator{Namespace: "shop", ResourceName: "web-0", ResourceID: "u1"}
	full.FSAudit.HostPath, full.FSAudit.Deleted, full.FSAudit.PathTruncated = "/var/lib/x/diff/home/ann/notes.txt", true, true
	full.File.TargetPath = "/home/ann/new.txt"
	full.FSAudit.Incomplete = []string{"user_names", "process"}
	full.FSAudit.PathUnresolved = true
	full.FSAudit.Links = 3
	utimes := sample()
	utimes.Action, utimes.File.Mtime, utimes.File.Accessed = ActionUtimes, time.Unix(946684800, 5).UTC(), time.Unix(1, 0).UTC()
	podOnly := sample()
	podOnly.Container = Container{ID: "c2", Runtime: "cri"}
	podOnly.Orchestrator = Orchestrator{ResourceID: "u2"}
	noAudit := sample()
	noAudit.User.HasAudit = false
	noAudit.Process.Args = []string{}
	hostile := sample()
	hostile.File.Path, hostile.File.Name, hostile.Process.Name = "/d/\x00\n\"\\\xff", "\x00\n\"\\\xff", "\u2028"
	dir := sample()
	dir.File.Mode = 0o040755
	lost := &Record{Time: sample().Time, Action: ActionLost, ID: "x", Sequence: 9, Host: Host{Name: "h"}, FSAudit: FSAudit{Lost: 17}}
	chained := sample()
	chained.FSAudit.Chain = Chain{Prev: strings.Repeat("0", 64), Hash: strings.Repeat("ab", 32)}
	chainedLost := *lost
	chainedLost.FSAudit.Chain = chained.FSAudit.Chain
	rename := sample()
	rename.Action, rename.File.Inode, rename.File.DevMajor, rename.File.DevMinor, rename.File.Mode = ActionRename, 0, 0, 0, 0
	rename.File.TargetPath, rename.FSAudit.TargetHostPath = "/home/ann/b", "/host/home/ann/b"
	rename.FSAudit.RenameFlags = []string{"noreplace", "exchange"}
	chown := sample()
	chown.Action, chown.File.HasUID, chown.File.UID, chown.File.Owner = ActionChown, true, 65534, "nobody"
	chown.File.HasGID, chown.File.GID = true, 7
	truncate := sample()
	truncate.Action, truncate.File.HasSize, truncate.File.Size = ActionTruncate, true, 0
	xattr := sample()
	xattr.Action, xattr.FSAudit.XattrName, xattr.FSAudit.Via = ActionXattr, "user.\\\n\"", "remove"
	mmap := sample()
	mmap.Action, mmap.FSAudit.Bytes, mmap.FSAudit.Offset = ActionMmapWrite, 8192, 4096
	symlink := sample()
	symlink.Action, symlink.File.Mode, symlink.File.TargetPath, symlink.FSAudit.Via = ActionCreate, 0o120777, "../x\n", "symlink"
	merged := sample()
	merged.End = merged.Time.Add(900*time.Millisecond + 7)
	merged.FSAudit.Writes, merged.FSAudit.Bytes = 41, 4100
	for _, r := range []*Record{sample(), full, podOnly, noAudit, hostile, dir, lost, chained, &chainedLost,
		rename, chown, truncate, xattr, mmap, symlink, merged, utimes} {
		roundTrip(t, r)
	}
}

func TestParseJSONRefuses(t *testing.T) {
	good := string(AppendJSON(nil, sample()))
	for _, tc := range []struct{ name, data string }{
		{"not JSON", "hello"},
		{"truncated", good[:len(good)/2]},
		{"another JSON", `{"message":"hi"}`},
		{"no sequence", strings.Replace(good, `"sequence":1`, `"seq":1`, 1)},
		{"bad time", strings.Replace(good, `"@timestamp":"2026`, `"@timestamp":"x2026`, 1)},
		{"bad inode", strings.Replace(good, `"inode":"42"`, `"inode":"forty"`, 1)},
		{"bad mode", strings.Replace(good, `"mode":"0640"`, `"mode":"0999"`, 1)},
		{"bad user", strings.Replace(good, `"user":{"id":"1000"`, `"user":{"id":"ann"`, 1)},
		{"no file", strings.Replace(good, `"file":`, `"nofile":`, 1)},
	} {
		var r Record
		if err := ParseJSON([]byte(tc.data), &r); !errors.Is(err, ErrNotARecord) {
			t.Errorf("%s: error %v, want ErrNotARecord", tc.name, err)
		}
	}
}

// FuzzParseJSON: any input either is refused or reads into a record that
// writes back as valid JSON that reads again to the same record.
func FuzzParseJSON(f *testing.F) {
	f.Add(string(AppendJSON(nil, sample())))
	f.Add(`{"@timestamp":"2026-01-01T00:00:00Z","event":{"action":"lost","id":"x","sequence":1},"host":{"name":"h"},"fsaudit":{"lost":1}}`)
	f.Fuzz(func(t *testing.T, data string) {
		var r Record
		if ParseJSON([]byte(data), &r) != nil {
			return
		}
		out := AppendJSON(nil, &r)
		var again Record
		if err := ParseJSON(out, &again); err != nil {
			t.Fatalf("a record read back is refused: %v\n%s", err, out)
		}
		if string(AppendJSON(nil, &again)) != string(out) {
			t.Fatalf("unstable: %s", out)
		}
	})
}
