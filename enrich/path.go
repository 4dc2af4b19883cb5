// Package enrich owns turning a kernel event into who, what and where:
// path assembly from the components the kernel walked, user and group
// names, host identity and wall-clock time.
package enrich

import (
	"bytes"
	"strings"

	"github.com/fsaudit/fsaudit/bpf"
)

// Path is a file path assembled from the kernel's components.
type Path struct {
	Full      string // absolute; when Truncated, the part that could be resolved, without a leading '/'
	Name      string
	Directory string
	Truncated bool
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
	truncated := ev.Flags&bpf.FlagTruncated != 0
	if ev.Flags&bpf.FlagPassedRoot == 0 || ev.RootOff > len(ev.Components) {
		return AssemblePath(ev.Components, truncated), ""
	}
	own = AssemblePath(ev.Components[:ev.RootOff], false)
	if truncated {
		return own, "" // the walk stopped above the root: the host's view is incomplete
	}
	if full := AssemblePath(ev.Components, false); full.Full != own.Full {
		host = full.Full
	}
	return own, host
}

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

// PathFilter keeps paths under an include prefix and under no exclude prefix.
type PathFilter struct {
	Include []string
	Exclude []string
}

// Keep applies the filter. A truncated path, whose top is unknown, is
// always kept: an audit trail errs on the side of reporting.
func (f PathFilter) Keep(p Path) bool {
	if p.Truncated {
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
