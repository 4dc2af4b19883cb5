// Package filter owns the one decision of which records a path filter
// takes, for [filter], every sink and replay alike: a record is taken when
// any of its paths is, the writer's view and the host's of the file and,
// for a rename or a hard link, of the other end. A writer chooses its own
// view (a chroot inside an audited directory, a directory of its own named
// like an excluded one, a name through /proc); the host's view is where the
// file is.
package filter

import (
	"strings"

	"github.com/fsaudit/fsaudit/record"
)

// Path is one path of a record.
type Path struct {
	Full string // absolute, unless Truncated
	// Truncated: the kernel could not reach the path's top; Full is the
	// end that was resolved. Unresolved: Full is a string the writer gave
	// through /proc's magic links. Either way the file could be anywhere,
	// and every filter keeps it.
	Truncated, Unresolved bool
}

// Paths are the paths one record names.
type Paths struct {
	Own       Path
	Target    Path // a rename's new path, a hard link's existing file
	HasTarget bool
	// OwnHost and TargetHost are the host's views, when they differ from
	// the writer's (a chroot, a container).
	OwnHost, TargetHost string
	// Linked: the record changes the content or the attributes of a file
	// with more than one hard link. Its other names may lie anywhere (a
	// link outside an audited directory to a file inside it is a way in
	// by another name), and every filter keeps it.
	Linked bool
}

// LinkedChange says whether a record of action on a file with links hard
// links changes the file behind all of its names: its content or its
// attributes, not one name (a rename, a delete of one link).
func LinkedChange(action string, links uint32) bool {
	if links < 2 {
		return false
	}
	switch action {
	case record.ActionWrite, record.ActionTruncate, record.ActionChmod, record.ActionChown, record.ActionXattr,
		record.ActionMmapWrite, record.ActionUtimes:
		return true
	}
	return false
}

// Of returns the paths a record names.
func Of(r *record.Record) Paths {
	trunc, unres := r.FSAudit.PathTruncated, r.FSAudit.PathUnresolved
	ps := Paths{Own: Path{Full: r.File.Path, Truncated: trunc, Unresolved: unres}, OwnHost: r.FSAudit.HostPath,
		Linked: LinkedChange(r.Action, r.FSAudit.Links)}
	if r.Action == record.ActionRename || r.Action == record.ActionCreate && r.FSAudit.Via == "link" {
		ps.Target, ps.HasTarget, ps.TargetHost = Path{Full: r.File.TargetPath, Truncated: trunc, Unresolved: unres}, true, r.FSAudit.TargetHostPath
	}
	return ps
}

// Prefixes keeps paths under an include prefix and under no exclude
// prefix, compared on whole components.
type Prefixes struct {
	Include []string
	Exclude []string
}

// Keep applies the filter to one path. A truncated or unresolved path,
// whose place is unknown, is always kept: an audit trail errs on the side
// of reporting.
func (f Prefixes) Keep(p Path) bool {
	if p.Truncated || p.Unresolved {
		return true
	}
	for _, x := range f.Exclude {
		if Under(p.Full, x) {
			return false
		}
	}
	for _, in := range f.Include {
		if Under(p.Full, in) {
			return true
		}
	}
	return false
}

// KeepAny says whether the filter takes a record of these paths: when it
// takes any of them.
func (f Prefixes) KeepAny(ps Paths) bool {
	if ps.Linked || f.Keep(ps.Own) || ps.OwnHost != "" && f.Keep(Path{Full: ps.OwnHost}) {
		return true
	}
	return ps.HasTarget && (f.Keep(ps.Target) || ps.TargetHost != "" && f.Keep(Path{Full: ps.TargetHost}))
}

// KeepRecord is KeepAny of the record's paths.
func (f Prefixes) KeepRecord(r *record.Record) bool { return f.KeepAny(Of(r)) }

// Under reports whether path lies at or below prefix, compared on whole
// components: /home/ann is under /home, /homework is not.
func Under(path, prefix string) bool {
	if prefix == "/" {
		return strings.HasPrefix(path, "/")
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}
