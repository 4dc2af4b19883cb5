package enrich

import (
	"os"
	"testing"
)

func TestRoots(t *testing.T) {
	r, err := NewRoots("")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.For(r.self.dev, r.self.ino, uint32(os.Getpid())); got != r.Host() {
		t.Error("the agent's own root does not serve the host's names")
	}
	// A root no process has: no names, and no retry within the interval.
	ghost := rootKey{dev: r.self.dev, ino: r.self.ino + 1<<40}
	if got := r.For(ghost.dev, ghost.ino, uint32(os.Getpid())); got != nil {
		t.Errorf("names for a root no process has: %+v", got)
	}
	if len(r.m) != 1 {
		t.Errorf("cache holds %d entries, want the one negative entry", len(r.m))
	}
	var n *Names
	if n.user(0) != "" || n.group(0) != "" {
		t.Error("a nil Names must name nothing")
	}
}

func TestRootsEvict(t *testing.T) {
	r, err := NewRoots("")
	if err != nil {
		t.Fatal(err)
	}
	r.max = 3
	for i := uint64(1); i <= 5; i++ {
		r.For(1, i, 0)
	}
	if len(r.m) != 3 {
		t.Errorf("cache holds %d entries, want the bound 3", len(r.m))
	}
}
