package enrich

import "github.com/fsaudit/fsaudit/bpf"

// internMax bounds each of the caches below; a full cache starts over.
const internMax = 8192

// pathCache keeps the paths of plain events (resolved whole, inside the
// writer's root, not named by a string), by their components: a file
// written again is named without building its strings anew.
type pathCache map[string]Path

func (c *pathCache) views(ev *bpf.Event) (Path, string) {
	if ev.Flags&(bpf.FlagTruncated|bpf.FlagGiven|bpf.FlagPassedRoot) != 0 {
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
