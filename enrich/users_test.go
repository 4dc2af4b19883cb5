package enrich

import (
	"testing"
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
