package record_test

import (
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/internal/specs"
	"github.com/fsaudit/fsaudit/record"
)

// full is a record of action with every field the json format can write
// set, so that ECS sees them all.
func full(action string) *record.Record {
	r := &record.Record{
		Time: time.Date(2026, 12, 8, 1, 2, 3, 4, time.UTC), End: time.Date(2026, 12, 8, 1, 2, 4, 0, time.UTC),
		Action: action, ID: "id-1", Sequence: 7, Created: time.Date(2026, 12, 8, 1, 2, 5, 0, time.UTC),
		Agent: record.Agent{Version: "1.0.0", ID: "a", EphemeralID: "e"},
		File: record.File{Path: "/srv/a.tar.gz", Name: "a.tar.gz", Directory: "/srv", Inode: 9, DevMajor: 8, DevMinor: 1,
			Mode: 0o010644, TargetPath: "/srv/b", HasUID: true, HasGID: true, UID: 1, GID: 2, Owner: "daemon", Group: "bin",
			HasSize: true, Size: 10, Mtime: time.Unix(1, 0), Accessed: time.Unix(2, 0)},
		Process: record.Process{PID: 1, TID: 2, PPID: 3, EntityID: "b-1-2", Name: "sh", Executable: "/bin/sh", Args: []string{"sh", "-c", "x"}},
		User: record.User{ID: 1000, Name: "ann", EffectiveID: 0, EffectiveName: "root", GroupID: 1000, GroupName: "ann",
			HasAudit: true, AuditID: 1001, AuditName: "bob"},
		Container:    record.Container{ID: "c1", Runtime: "containerd", Name: "web", ImageName: "nginx:1"},
		Orchestrator: record.Orchestrator{Namespace: "prod", ResourceName: "web-0", ResourceID: "uid"},
		Host:         record.Host{Name: "h", ID: "m", BootID: "b"},
		FSAudit: record.FSAudit{Hook: "kprobe", Bytes: 1, Writes: 1, HostPath: "/host/srv/a", TargetHostPath: "/host/srv/b",
			PathTruncated: true, PathUnresolved: true, Deleted: true, Links: 2, Incomplete: []string{"process"}, Via: "open",
			XattrName: "user.x", RenameFlags: []string{"exchange"}, ArgsTruncated: true,
			Replay: &record.Replay{Topic: "t", Partition: 1, Offset: 2}, Chain: record.Chain{Seq: 1, Prev: "00", Hash: "11"}},
	}
	switch action {
	case record.ActionLost:
		r.FSAudit.Lost = 3
	case record.ActionSeal:
		r.FSAudit.Seal = &record.Seal{Reason: "stop", Sink: "s", Instance: "i", Sequence: 6, Hash: "22", KeyID: "k", NextBefore: time.Unix(3, 0), MAC: "33"}
	}
	return r
}

// Every field of every action's record in the json format is one ECS
// defines, of its type and allowed values, or fsaudit's own; the
// required fields are there.
func TestJSONIsECS(t *testing.T) {
	ecs := specs.ECSForTest(t, record.ECSVersion)
	for _, a := range append([]string{record.ActionLost, record.ActionSeal}, record.FileActions...) {
		for _, mode := range []uint32{0o010644, 0o100644, 0o644, 0} {
			r := full(a)
			r.File.Mode = mode
			line := record.AppendJSON(nil, r)
			for _, err := range ecs.Check(line) {
				t.Errorf("%s (mode %o): %v\n%s", a, mode, err, line)
			}
		}
	}
}

// The check refuses what ECS refuses: a field it does not know, a value
// of another type, a category value it does not allow.
func TestECSCheckRefuses(t *testing.T) {
	ecs := specs.ECSForTest(t, record.ECSVersion)
	good := string(record.AppendJSON(nil, full(record.ActionWrite)))
	for _, tc := range []struct{ name, from, to string }{
		{"unknown field", `"file":{`, `"file":{"colour":"red",`},
		{"wrong type", `"sequence":7`, `"sequence":"7"`},
		{"category value", `"category":["file"]`, `"category":["files"]`},
		{"no ecs.version", `"ecs":{"version":"9.4.0"},`, ``},
		{"type the category does not expect", `"type":["change"]`, `"type":["connection"]`},
		{"empty category", `"category":["file"]`, `"category":[]`},
		{"another ecs.version", `"ecs":{"version":"9.4.0"}`, `"ecs":{"version":""}`},
		{"a fraction for a long", `"sequence":7`, `"sequence":7.5`},
	} {
		bad := []byte(replaceOnce(t, good, tc.from, tc.to))
		if errs := ecs.Check(bad); len(errs) == 0 {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func replaceOnce(t *testing.T, s, from, to string) string {
	t.Helper()
	for i := 0; i+len(from) <= len(s); i++ {
		if s[i:i+len(from)] == from {
			return s[:i] + to + s[i+len(from):]
		}
	}
	t.Fatalf("%q not in %s", from, s)
	return ""
}
