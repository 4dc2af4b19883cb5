package enrich

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseIDFile(t *testing.T) {
	got := ParseIDFile([]byte("root:x:0:0:root:/root:/bin/bash\n# comment\n\nbroken\nann:x:1000:1000::/home/ann:/bin/sh\nnotanumber:x:abc:0\ndup:x:1000:1\nbig:x:4294967295:0\nhuge:x:4294967296:0\n"))
	want := map[uint32]string{0: "root", 1000: "ann", 4294967295: "big"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for id, name := range want {
		if got[id] != name {
			t.Errorf("id %d = %q, want %q", id, got[id], name)
		}
	}
}

func TestIDNamesReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte("ann:x:1000:1000::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := NewIDNames(path)
	n.interval = 0
	if got := n.Name(1000); got != "ann" {
		t.Fatalf("Name(1000) = %q", got)
	}
	if got := n.Name(1001); got != "" {
		t.Fatalf("unknown id has name %q", got)
	}
	if err := os.WriteFile(path, []byte("ann:x:1000:1000::/:/bin/sh\nbob:x:1001:1001::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if got := n.Name(1001); got != "bob" {
		t.Fatalf("after the file changed, Name(1001) = %q", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got := n.Name(1000); got != "" {
		t.Fatalf("after the file went away, Name(1000) = %q", got)
	}
}
