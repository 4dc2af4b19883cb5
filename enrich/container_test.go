package enrich

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCgroupPath(t *testing.T) {
	id := strings.Repeat("ab", 32)
	uid := "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	uidu := strings.ReplaceAll(uid, "-", "_")
	tests := []struct {
		path string
		want Container
		ok   bool
	}{
		{"/system.slice/docker-" + id + ".scope", Container{ID: id, Runtime: "docker"}, true},
		{"/docker/" + id, Container{ID: id, Runtime: "docker"}, true},
		{"/system.slice/cri-containerd-" + id + ".scope", Container{ID: id, Runtime: "containerd"}, true},
		{"/machine.slice/libpod-" + id + ".scope", Container{ID: id, Runtime: "podman"}, true},
		{"/machine.slice/libpod-" + id + ".scope/container", Container{ID: id, Runtime: "podman"}, true},
		{"/libpod_parent/libpod-" + id, Container{ID: id, Runtime: "podman"}, true},
		{"/system.slice/crio-" + id + ".scope", Container{ID: id, Runtime: "cri-o"}, true},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidu + ".slice/cri-containerd-" + id + ".scope",
			Container{ID: id, Runtime: "containerd", PodUID: uid, QoS: "burstable"}, true},
		{"/kubepods.slice/kubepods-pod" + uidu + ".slice/crio-" + id + ".scope",
			Container{ID: id, Runtime: "cri-o", PodUID: uid, QoS: "guaranteed"}, true},
		{"/kubepods/besteffort/pod" + uid + "/" + id, Container{ID: id, Runtime: "cri", PodUID: uid, QoS: "besteffort"}, true},
		{"/kubepods/pod" + uid + "/" + id, Container{ID: id, Runtime: "cri", PodUID: uid, QoS: "guaranteed"}, true},
		{"/kubepods/burstable/pod" + uid, Container{PodUID: uid, QoS: "burstable"}, false},
		{"/user.slice/user-1000.slice/session-3.scope", Container{}, false},
		{"/", Container{}, false},
		{"/system.slice/docker-" + id[:60] + ".scope", Container{}, false},
		{"/" + id, Container{}, false},
	}
	for _, tc := range tests {
		got, ok := ParseCgroupPath(tc.path)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseCgroupPath(%q) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCgroup2Mount(t *testing.T) {
	mi := filepath.Join(t.TempDir(), "mountinfo")
	text := "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n" +
		"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
		"41 31 0:38 / /sys/fs/cgroup/uni\\040fied rw,relatime shared:9 - cgroup2 cgroup2 rw\n"
	if err := os.WriteFile(mi, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := cgroup2Mount(mi)
	if err != nil || got != "/sys/fs/cgroup/uni fied" {
		t.Errorf("cgroup2Mount = %q, %v", got, err)
	}
}

func TestCgroupsPath(t *testing.T) {
	root := t.TempDir()
	mk := func(rel string) uint64 {
		t.Helper()
		dir := filepath.Join(root, rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		return inode(st)
	}
	g := newCgroups(root)
	first := mk("system.slice/docker-x.scope")
	if got := g.Path(first); got != "/system.slice/docker-x.scope" {
		t.Errorf("Path = %q", got)
	}
	// A cgroup made right after a scan is found at its first event.
	second := mk("system.slice/docker-y.scope")
	if got := g.Path(second); got != "/system.slice/docker-y.scope" {
		t.Errorf("a new cgroup right after a scan: Path = %q", got)
	}
	// An id no scan finds waits Retry before it scans again.
	if got := g.Path(1 << 60); got != "" {
		t.Errorf("unknown id has path %q", got)
	}
	n := len(g.scans)
	g.Path(1 << 60)
	if len(g.scans) != n {
		t.Error("an id just found missing scanned again")
	}
	// At most MaxScans a second, whatever the ids.
	g.MaxScans = len(g.scans) + 2
	for i := uint64(1); i <= 10; i++ {
		g.Path(1<<61 + i)
	}
	if len(g.scans) != g.MaxScans {
		t.Errorf("%d scans within a second, want the bound %d", len(g.scans), g.MaxScans)
	}
}

// On the real cgroup2 file system, an id is opened by its handle: no scan,
// whatever the tree holds.
func TestCgroupsByHandle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_DAC_READ_SEARCH) to open cgroups by handle")
	}
	g, err := NewCgroups("/proc/self/mountinfo")
	if err != nil || g.Root() == "" {
		t.Skipf("no cgroup2 mount: %v", err)
	}
	if g.noHandles {
		t.Fatal("the kernel refused to open the cgroup2 root by its handle")
	}
	dir, err := os.MkdirTemp(g.Root(), "fsaudit-handle-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.Path(inode(st)), strings.TrimPrefix(dir, g.Root()); got != want || len(g.scans) != 0 {
		t.Errorf("Path = %q after %d scans, want %q and none", got, len(g.scans), want)
	}
	if got := g.Path(1 << 62); got != "" || len(g.scans) != 0 {
		t.Errorf("an unknown id: %q after %d scans, want none", got, len(g.scans))
	}
}
