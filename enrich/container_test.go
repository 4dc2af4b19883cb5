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
	dir := filepath.Join(root, "system.slice", "docker-x.scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := &Cgroups{root: root, paths: map[uint64]string{}, maxPaths: 100}
	if got := g.Path(inode(st)); got != "/system.slice/docker-x.scope" {
		t.Errorf("Path = %q", got)
	}
	if got := g.Path(1 << 60); got != "" {
		t.Errorf("unknown id has path %q", got)
	}
}
