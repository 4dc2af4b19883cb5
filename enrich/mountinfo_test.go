package enrich

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHostPrefix(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "host")
	os.WriteFile(host, []byte(
		"22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"+
			"40 22 254:16 / /srv rw,relatime shared:2 - ext4 /dev/vdb rw\n"), 0o644)
	tests := []struct {
		name, proc, want string
	}{
		{"overlay root", "600 550 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/var/lib/c/a\\040b/diff,workdir=/var/lib/c/work\n" +
			"601 600 0:5 / /proc rw - proc proc rw\n", "/var/lib/c/a b/diff"},
		{"bind of a host directory", "700 650 254:16 /containers/x/rootfs / rw - ext4 /dev/vdb rw\n", "/srv/containers/x/rootfs"},
		{"bind of a directory on the host's root", "700 650 254:0 /var/lib/x / rw - ext4 /dev/vda rw\n", "/var/lib/x"},
		{"the host's own root", "800 750 254:0 / / rw - ext4 /dev/vda rw\n", ""},
		{"chroot: no root mount of its own", "601 600 0:5 / /proc rw - proc proc rw\n", ""},
		{"unknown device", "700 650 9:9 /x / rw - ext4 /dev/md0 rw\n", ""},
	}
	for _, tc := range tests {
		proc := filepath.Join(dir, "proc")
		os.WriteFile(proc, []byte(tc.proc), 0o644)
		if got := hostPrefix(proc, host); got != tc.want {
			t.Errorf("%s: hostPrefix = %q, want %q", tc.name, got, tc.want)
		}
	}
}
