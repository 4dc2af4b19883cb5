package bpf

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The i386 call numbers of compatKinds, against the kernel's own header
// (linux-libc-dev, which gcc brings); calls newer than the header are
// listed and skipped.
func TestCompatNumbers(t *testing.T) {
	const header = "/usr/include/x86_64-linux-gnu/asm/unistd_32.h"
	f, err := os.Open(header)
	if err != nil {
		t.Skipf("no %s (Debian's linux-libc-dev) to check the i386 numbers against: %v", header, err)
	}
	defer f.Close()
	nrs := map[string]uint32{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 3 && fs[0] == "#define" && strings.HasPrefix(fs[1], "__NR_") {
			if n, err := strconv.ParseUint(fs[2], 10, 32); err == nil {
				nrs[strings.TrimPrefix(fs[1], "__NR_")] = uint32(n)
			}
		}
	}
	for nr, k := range compatKinds {
		want, ok := nrs[k.name]
		if !ok {
			t.Logf("%s (%d) is newer than %s", k.name, nr, header)
			continue
		}
		if nr != want {
			t.Errorf("%s: compatKinds has %d, the header %d", k.name, nr, want)
		}
	}
}
