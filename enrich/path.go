// Package enrich owns turning a kernel event into who, what and where:
// path assembly from the components the kernel walked, user and group
// names, host identity and wall-clock time.
package enrich

import (
	"bytes"
	"path"
	"strings"

	"github.com/fsaudit/fsaudit/bpf"
)

// Path is a file path assembled from the kernel's components.
type Path struct {
	Full      string // absolute; when Truncated, the part that could be resolved, without a leading '/'
	Name      string
	Directory string
	Truncated bool
	// Unresolved says Full is the string the process gave, through a magic
	// link of /proc that could not be followed as the process would.
	Unresolved bool
	// given is, for a path the process named by a string, the string joined
	// to its directory before "." and ".." were cleaned away.
	given string
}

// AssemblePath joins components (names leaf first, each ending in a NUL, as
// the kernel sends them) into a path. truncated says the kernel could not
// reach the root: the result then lacks its leading part and is relative.
func AssemblePath(components []byte, truncated bool) Path {
	var names [][]byte
	for len(components) > 0 {
		i := bytes.IndexByte(components, 0)
		if i < 0 {
			// A name without its NUL: the buffer ended inside it.
			truncated = true
			break
		}
		names = append(names, components[:i])
		components = components[i+1:]
	}
	var b strings.Builder
	n := 0
	for _, c := range names {
		n += len(c) + 1
	}
	b.Grow(n)
	for i := len(names) - 1; i >= 0; i-- {
		if i < len(names)-1 || !truncated {
			b.WriteByte('/')
		}
		b.Write(names[i])
	}
	p := Path{Full: b.String(), Truncated: truncated}
	if p.Full == "" && !truncated {
		p.Full = "/"
	}
	switch i := strings.LastIndexByte(p.Full, '/'); {
	case len(names) == 0:
		p.Directory = p.Full
	case i < 0:
		p.Name = p.Full
	case i == 0:
		p.Name = p.Full[1:]
		p.Directory = "/"
	default:
		p.Name = p.Full[i+1:]
		p.Directory = p.Full[:i]
	}
	return p
}

// Views assembles an event's path in the writer's own view and, when it
// differs and is whole, in the view of the writer's mount namespace's top
// (the host's, for a chroot or a namespace copied from the host's).
func Views(ev *bpf.Event) (own Path, host string) {
	return views(ev.Components, ev.Flags, ev.RootOff)
}

// TargetViews does the same for the event's target path (a rename's new
// name, a hard link's existing file); ok is false when it has none.
func TargetViews(ev *bpf.Event) (own Path, host string, ok bool) {
	if ev.Target == nil || ev.TargetFlags&bpf.FlagRaw != 0 {
		return Path{}, "", false
	}
	own, host = views(ev.Target, ev.TargetFlags, ev.TargetRootOff)
	return own, host, true
}

// RawTarget is the event's target string (a symlink's text, an
// attribute's name), without its NUL.
func RawTarget(ev *bpf.Event) string {
	if ev.TargetFlags&bpf.FlagRaw == 0 {
		return ""
	}
	t := ev.Target
	if i := bytes.IndexByte(t, 0); i >= 0 {
		t = t[:i]
	}
	return string(t)
}

func views(components []byte, flags bpf.Flags, rootOff int) (own Path, host string) {
	truncated := flags&bpf.FlagTruncated != 0
	if flags&bpf.FlagGiven != 0 {
		return givenViews(components, flags, rootOff)
	}
	if flags&bpf.FlagPassedRoot == 0 || rootOff > len(components) {
		return AssemblePath(components, truncated), ""
	}
	own = AssemblePath(components[:rootOff], false)
	if truncated {
		return own, "" // the walk stopped above the root: the host's view is incomplete
	}
	if full := AssemblePath(components, false); full.Full != own.Full {
		host = full.Full
	}
	return own, host
}

// givenViews handles a path whose first component is the string the
// process gave, relative to the directory the other components name: the
// two are joined and cleaned of "." and ".." as the kernel would walk them
// (symbolic links among the given string's directories are not followed).
func givenViews(components []byte, flags bpf.Flags, rootOff int) (own Path, host string) {
	i := bytes.IndexByte(components, 0)
	if i < 0 {
		return Path{Full: string(components), Name: path.Base(string(components)), Truncated: true}, ""
	}
	given := string(components[:i])
	rest := components[i+1:]
	rootOff -= i + 1
	if rootOff < 0 {
		rootOff = 0
	}
	dirOwn, dirHost := views(rest, flags&^bpf.FlagGiven, rootOff)
	own = joinGiven(dirOwn.Full, given, dirOwn.Truncated)
	if dirHost != "" && !own.Truncated {
		// ".." stops at the writer's root, as the kernel's walk does: the
		// host's view is the root's place there, then the own view.
		prefix := dirHost
		if dirOwn.Full != "/" {
			prefix = strings.TrimSuffix(dirHost, dirOwn.Full)
		}
		host = prefix + own.Full
		if own.Full == "/" {
			host = prefix
		}
	}
	return own, host
}

// joinGiven joins a path string a process gave to the directory it is
// relative to (the process's root for an absolute one) and cleans it.
func joinGiven(dir, given string, truncated bool) Path {
	var raw string
	switch {
	case strings.HasPrefix(given, "/"), dir == "":
		raw = given
	default:
		raw = dir + "/" + given
	}
	full := path.Clean(raw)
	if truncated {
		full = strings.TrimPrefix(full, "/")
	}
	p := Path{Full: full, Truncated: truncated, given: raw}
	switch j := strings.LastIndexByte(full, '/'); {
	case full == "/":
		p.Directory = "/"
	case j < 0:
		p.Name = full
	case j == 0:
		p.Name, p.Directory = full[1:], "/"
	default:
		p.Name, p.Directory = full[j+1:], full[:j]
	}
	return p
}
