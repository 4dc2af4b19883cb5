package enrich

import "github.com/fsaudit/fsaudit/bpf"

// internMax bounds each of the caches below; a full cache starts over.
const internMax = 8192

// pathCache keeps the paths of plain events (resolved whole, not named by
// a string, the writer's view the same as the host's), by their
// components: a file written again is named without building its strings
// anew.
type pathCache map[string]Path

func (c *pathCache) views(ev *bpf.Event) (Path, string) {
	// A writer whose root is its namespace's top passes it at the walk's
	// end: both views are the whole path.
	sameViews := ev.Flags&bpf.FlagPassedRoot == 0 || ev.RootOff == len(ev.Components)
	if ev.Flags&(bpf.FlagTruncated|bpf.FlagGiven) != 0 || !sameViews {
		return Views(ev)
	}
	if p, ok := (*c)[string(ev.Components)]; ok {
		return p, ""
	}
	p, host := Views(ev)
	if len(*c) >= internMax || *c == nil {
		*c = make(pathCache, 256)
	}
	(*c)[string(ev.Components)] = p
	return p, host
}

// stringCache interns short strings that repeat from event to event
// (command names).
type stringCache map[string]string

func (c *stringCache) intern(b []byte) string {
	if s, ok := (*c)[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(*c) >= internMax || *c == nil {
		*c = make(stringCache, 256)
	}
	(*c)[s] = s
	return s
}
