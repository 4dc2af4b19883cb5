package enrich

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fsaudit/fsaudit/bpf"
)

func leafFirst(names ...string) []byte {
	var b []byte
	for _, n := range names {
		b = append(append(b, n...), 0)
	}
	return b
}

func TestFSPath(t *testing.T) {
	for _, tc := range []struct {
		name       string
		components []byte
		flags      bpf.Flags
		m          bpf.MountView
		want       string
		ok         bool
	}{
		{"bind of a directory", leafFirst("f", "x", "shm", "dev"), 0,
			bpf.MountView{Off: 2, Alias: leafFirst("audited", "etc")}, "/etc/audited/f", true},
		{"whole file system", leafFirst("f", "home"), 0, bpf.MountView{Off: 2}, "/f", true},
		{"file bound alone", leafFirst("file", "f", "x"), 0,
			bpf.MountView{Off: 0, Alias: leafFirst("passwd", "etc")}, "/etc/passwd", true},
		{"given relative", leafFirst("cron.d/evil", "x", "shm"), bpf.FlagGiven,
			bpf.MountView{Off: len("cron.d/evil") + 1, Alias: leafFirst("etc")}, "/etc/cron.d/evil", true},
		{"given with ..", leafFirst("../y/evil", "x"), bpf.FlagGiven,
			bpf.MountView{Off: len("../y/evil") + 1, Alias: leafFirst("etc")}, "", false},
		{"given absolute", leafFirst("/etc/evil"), bpf.FlagGiven, bpf.MountView{Off: len("/etc/evil") + 1}, "", false},
		{"no mount crossed", leafFirst("f"), 0, bpf.MountView{Off: -1}, "", false},
		{"names lost", leafFirst("f"), 0, bpf.MountView{Off: 1, AliasLost: true}, "", false},
		{"truncated", leafFirst("f"), bpf.FlagTruncated, bpf.MountView{Off: 2}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := fsPath(tc.components, tc.flags, tc.m)
			if got != tc.want || ok != tc.ok {
				t.Errorf("fsPath = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestHostMountsPath(t *testing.T) {
	info := filepath.Join(t.TempDir(), "mountinfo")
	lines := "" +
		"22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" +
		"30 22 8:1 /srv/data /data rw - ext4 /dev/sda1 rw\n" +
		"31 22 8:2 / /home rw - ext4 /dev/sda2 rw\n" +
		"32 22 8:3 /vol /var/lib/x rw - xfs /dev/sdb rw\n" +
		"33 22 0:40 / /dev/shm rw - tmpfs tmpfs rw\n"
	if err := os.WriteFile(info, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHostMounts(info)
	dev := func(maj, min uint32) uint32 { return maj<<20 | min }
	for _, tc := range []struct {
		dev  uint32
		fs   string
		want string
		ok   bool
	}{
		{dev(8, 1), "/etc/audited/f", "/etc/audited/f", true},
		{dev(8, 1), "/srv/data/x", "/srv/data/x", true}, // the whole file system's mount wins
		{dev(8, 2), "/ann/f", "/home/ann/f", true},
		{dev(8, 2), "/", "/home", true},
		{dev(8, 3), "/vol/a", "/var/lib/x/a", true},
		{dev(8, 3), "/volume/a", "", false}, // /vol is not a directory above /volume
		{dev(0, 40), "/f", "/dev/shm/f", true},
		{dev(9, 9), "/f", "", false}, // never mounted on the host
	} {
		got, ok := h.hostPath(tc.dev, tc.fs)
		if got != tc.want || ok != tc.ok {
			t.Errorf("hostPath(%d:%d, %q) = %q, %v; want %q, %v", tc.dev>>20, tc.dev&(1<<20-1), tc.fs, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHostMountsCanonical(t *testing.T) {
	info := filepath.Join(t.TempDir(), "mountinfo")
	lines := "" +
		"22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" +
		"30 22 8:1 /etc /srv/etc rw - ext4 /dev/sda1 rw\n" +
		"31 22 8:2 / /home rw - ext4 /dev/sda2 rw\n" +
		"32 22 8:2 / /mnt/home rw - ext4 /dev/sda2 rw\n" +
		"33 22 0:40 / /srv/over rw - tmpfs tmpfs rw\n" +
		"34 33 8:1 /var/lib /srv/over rw - ext4 /dev/sda1 rw\n"
	if err := os.WriteFile(info, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHostMounts(info)
	for _, tc := range []struct{ p, want string }{
		{"/srv/etc/cron.d/x", "/etc/cron.d/x"},
		{"/srv/etc", "/etc"},
		{"/etc/cron.d/x", ""},                   // the file system's own mount
		{"/mnt/home/ann/f", ""},                 // a whole file system, mounted twice: left as it is
		{"/srv/over/dpkg/x", "/var/lib/dpkg/x"}, // the mount on top
		{"/srv/etcetera/x", ""},
	} {
		if got := h.canonical(tc.p); got != tc.want {
			t.Errorf("canonical(%q) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestHardLinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   bpf.Event
		want uint32
	}{
		{"second link", bpf.Event{Links: 2, Mode: 0o100644}, 2},
		{"one link", bpf.Event{Links: 1, Mode: 0o100644}, 0},
		{"directory", bpf.Event{Links: 5, Mode: 0o040755}, 0},
		{"inode unknown", bpf.Event{Links: 3, Mode: 0o100644, Flags: bpf.FlagNoInode}, 0},
	} {
		if got := hardLinks(&tc.ev); got != tc.want {
			t.Errorf("%s: hardLinks = %d, want %d", tc.name, got, tc.want)
		}
	}
}
