package bpf

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's coverage table from the model")

func TestCoverageFor(t *testing.T) {
	byWay := func(cells []Cell) map[string]Cell {
		out := map[string]Cell{}
		for i, c := range cells {
			out[Channels[i].Way] = c
		}
		return out
	}
	const (
		writes      = "write(2), pwrite64(2), writev(2), pwritev(2), pwritev2(2)"
		transfer    = "sendfile(2), splice(2), copy_file_range(2)"
		uring       = "io_uring writes"
		rename      = "rename(2), renameat(2), renameat2(2) (RENAME_EXCHANGE too)"
		uringRename = "io_uring renameat"
	)
	noFentry := []PointStatus{
		{Point: "write", Attempts: []Attempt{{ModeFentry, errors.New("EPERM")}, {ModeKprobe, nil}, {ModeTracepoint, nil}}},
		{Point: "syscalls", Attempts: []Attempt{{ModeTracepoint, nil}}},
	}
	vfsKprobe := append(noFentry, PointStatus{Point: "rename", Attempts: []Attempt{{ModeFentry, errors.New("EPERM")}, {ModeKprobe, nil}}})
	onlyTP := []PointStatus{
		{Point: "write", Attempts: []Attempt{{ModeFentry, errors.New("EPERM")}, {ModeKprobe, errors.New("no kprobes")}, {ModeTracepoint, nil}}},
		{Point: "syscalls", Attempts: []Attempt{{ModeTracepoint, nil}}},
	}
	tests := []struct {
		hook   string
		probed []PointStatus
		want   map[string]string // way -> mode seen in, "" not seen
	}{
		{"fentry", nil, map[string]string{writes: "fentry", transfer: "tracepoint", uring: "fentry", rename: "fentry", uringRename: "fentry"}},
		{"kprobe", nil, map[string]string{writes: "kprobe", transfer: "tracepoint", uring: "kprobe", rename: "kprobe", uringRename: "kprobe"}},
		{"tracepoint", nil, map[string]string{writes: "tracepoint", transfer: "tracepoint", uring: "", rename: "tracepoint", uringRename: ""}},
		{"auto", nil, map[string]string{writes: "fentry", transfer: "tracepoint", uring: "fentry", rename: "fentry"}},
		{"auto", vfsKprobe, map[string]string{writes: "kprobe", rename: "kprobe", uringRename: "kprobe"}},
		{"tracepoint", vfsKprobe, map[string]string{writes: "tracepoint", rename: "tracepoint", uringRename: ""}},
		{"auto", noFentry, map[string]string{writes: "kprobe", transfer: "tracepoint", uring: "kprobe", rename: "tracepoint"}},
		{"auto", onlyTP, map[string]string{writes: "tracepoint", transfer: "tracepoint", uring: "", rename: "tracepoint"}},
		{"fentry", noFentry, map[string]string{writes: "", transfer: "tracepoint", uring: "", rename: "tracepoint"}},
	}
	for _, tc := range tests {
		got := byWay(CoverageFor(tc.hook, tc.probed))
		for way, mode := range tc.want {
			c := got[way]
			if c.Seen != (mode != "") || c.Seen && string(c.By) != mode {
				t.Errorf("hook %s (probed %v): %s: %s, want %q", tc.hook, tc.probed != nil, way, c, mode)
			}
			if !c.Seen && c.Why == "" {
				t.Errorf("hook %s: %s not seen without a reason", tc.hook, way)
			}
		}
	}
	if c := byWay(CoverageFor("tracepoint", nil))[uring]; c.Why != whyAsync {
		t.Errorf("io_uring in tracepoint mode: %q", c.Why)
	}
	if c := byWay(CoverageFor("fentry", noFentry))[writes]; !strings.Contains(c.Why, "write does not attach in fentry mode") {
		t.Errorf("write with fentry refused: %q", c.Why)
	}
}

// TestREADMECoverage keeps the README's coverage table the model's, which
// the end-to-end tests (TestCoverage) prove on every kernel of the matrix.
func TestREADMECoverage(t *testing.T) {
	const begin, end = "<!-- coverage table: begin -->\n", "<!-- coverage table: end -->"
	modes := []string{"fentry", "kprobe", "tracepoint"}
	var cells [][]Cell
	for _, m := range modes {
		cells = append(cells, CoverageFor(m, nil))
	}
	want := CoverageTable([]string{"hook = fentry", "hook = kprobe", "hook = tracepoint"}, cells)
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q section", strings.TrimSpace(begin), end)
	}
	got := s[i+len(begin) : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile("../README.md", []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README's coverage table is not the model's; run go test ./bpf -run TestREADMECoverage -update. want:\n%s", want)
}
