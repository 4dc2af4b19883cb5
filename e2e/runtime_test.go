package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// daemon runs a daemon for one test, its output kept in a file shown when
// the test fails, and stops it with SIGTERM at cleanup. It returns once the
// daemon accepts connections on socket (a unix socket path).
func daemon(t *testing.T, socket string, name string, args ...string) {
	t.Helper()
	startDaemon(t, "unix", socket, name, args...)
}

// daemonTCP is daemon for a daemon listening on a TCP address; it returns
// a function that stops the daemon before the test ends.
func daemonTCP(t *testing.T, addr string, name string, args ...string) (stop func()) {
	t.Helper()
	return startDaemon(t, "tcp", addr, name, args...)
}

func startDaemon(t *testing.T, network, socket string, name string, args ...string) (stop func()) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), filepath.Base(name)+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, tail(out, 4000))
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		if c, err := net.Dial(network, socket); err == nil {
			c.Close()
			return stop
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited at start:\n%s", name, tail(out, 4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within a minute", name, socket)
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// tarDir writes the tree at root as an uncompressed tar.
func tarDir(t *testing.T, root string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatalf("packing the image root: %v", err)
	}
	return buf.Bytes()
}

// ociArchive packs a one-layer OCI image (image layout in a tar) named name,
// whose default command is entrypoint.
func ociArchive(t *testing.T, layer []byte, name string, entrypoint []string) []byte {
	t.Helper()
	blobs := map[string][]byte{}
	add := func(b []byte) (string, int) {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs[d] = b
		return d, len(b)
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	layerDigest, layerSize := add(layer)
	cfgDigest, cfgSize := add(mustJSON(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": entrypoint},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDigest}},
	}))
	manDigest, manSize := add(mustJSON(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfgDigest, "size": cfgSize},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layerDigest, "size": layerSize}},
	}))
	index := mustJSON(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manDigest, "size": manSize,
			"annotations": map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name[strings.LastIndexByte(name, ':')+1:]},
		}},
	})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	put := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	put("index.json", index)
	for d, b := range blobs {
		put("blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func runIn(t *testing.T, stdin []byte, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// checkContainerRecord asserts what a record from a real runtime's
// container says about its writer.
func checkContainerRecord(t *testing.T, records []Record, path string, want Record) {
	t.Helper()
	var got []Record
	for _, r := range records {
		if r.File.Path == path {
			got = append(got, r)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d records of %s, want 1; all records:\n%s", len(got), path, rawLines(records))
	}
	r := got[0]
	if r.Container != want.Container {
		t.Errorf("container %+v, want %+v\n%s", r.Container, want.Container, r.Raw)
	}
	if r.Orchestrator != want.Orchestrator {
		t.Errorf("orchestrator %+v, want %+v\n%s", r.Orchestrator, want.Orchestrator, r.Raw)
	}
	if r.User.ID != want.User.ID || r.User.Name != want.User.Name {
		t.Errorf("user %s (%s), want %s (%s): names come from the container's /etc/passwd\n%s", r.User.ID, r.User.Name, want.User.ID, want.User.Name, r.Raw)
	}
	if r.Process.Executable != "/bin/busybox" {
		t.Errorf("process.executable %q, want the container's /bin/busybox\n%s", r.Process.Executable, r.Raw)
	}
	if r.FSAudit.HostPath == "" || r.FSAudit.HostPath == r.File.Path || !strings.HasSuffix(r.FSAudit.HostPath, path) {
		t.Errorf("fsaudit.host_path %q: want the host's view of %s\n%s", r.FSAudit.HostPath, path, r.Raw)
	}
}

// waitForHostFiles waits until the file sink holds a record of each path
// (a container's view) and checks that the record's fsaudit.host_path
// holds what the container wrote.
func waitForHostFiles(t *testing.T, sinkPath string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(sinkPath)
		missing := ""
		for p := range want {
			if !bytes.Contains(data, []byte(`"path":`+strconv.Quote(p))) {
				missing = p
				break
			}
		}
		if missing == "" {
			for _, r := range ReadRecords(t, sinkPath) {
				content, ok := want[r.File.Path]
				if !ok {
					continue
				}
				if got, err := os.ReadFile(r.FSAudit.HostPath); err != nil || string(got) != content {
					t.Errorf("%s: fsaudit.host_path %q holds %q (%v), want %q", r.File.Path, r.FSAudit.HostPath, got, err, content)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record of %s within 30 s; the sink holds:\n%s", missing, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func rawLines(records []Record) string {
	var b strings.Builder
	for _, r := range records {
		b.WriteString(r.Raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestDockerContainer runs a real Docker engine (its own data root and
// socket), imports an image built here, and runs a container as Kubernetes'
// cri-dockerd would label it. Its write names the container, the image and
// the pod from Docker's own config files, the container's user, and both
// views of the path.
func TestDockerContainer(t *testing.T) {
	requireRoot(t)
	requireTool(t, "dockerd")
	docker := requireTool(t, "docker")
	const uid = 54321
	dir, err := os.MkdirTemp("", "fsaudit-docker-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "docker.sock")
	dataRoot := filepath.Join(dir, "data")
	daemon(t, sock, "dockerd", "--host", "unix://"+sock, "--data-root", dataRoot, "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "--iptables=false", "--ip6tables=false", "--bridge=none")
	dk := func(stdin []byte, args ...string) string {
		return runIn(t, stdin, docker, append([]string{"--host", "unix://" + sock}, args...)...)
	}
	image := "fsaudit-e2e/busybox:" + randHex(t, 3)
	dk(tarDir(t, containerRoot(t, uid)), "import", "-", image)

	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{"/data"}, Sink: sinkPath, Extra: fmt.Sprintf(`[containers]
docker_root = %q
storage_root = ""
cri_sockets = []
`, dataRoot)})

	name := "fsaudit-e2e-" + randHex(t, 3)
	podUID := fmt.Sprintf("%s-%s-%s-%s-%s", randHex(t, 4), randHex(t, 2), randHex(t, 2), randHex(t, 2), randHex(t, 6))
	// A plain container, and one labelled as the kubelet labels pods' containers.
	id := dk(nil, "run", "--detach", "--network", "none", "--name", name, "--user", fmt.Sprint(uid), image,
		"/bin/sh", "-c", "echo plain > /data/docker.txt")
	podID := dk(nil, "run", "--detach", "--network", "none", "--name", name+"-pod", "--user", fmt.Sprint(uid),
		"--label", "io.kubernetes.pod.name=web-0", "--label", "io.kubernetes.pod.namespace=shop",
		"--label", "io.kubernetes.pod.uid="+podUID, "--label", "io.kubernetes.container.name=app",
		image, "/bin/sh", "-c", "echo pod > /data/docker-pod.txt")
	for _, c := range []string{id, podID} {
		if code := dk(nil, "wait", c); code != "0" {
			t.Fatalf("container %s exited with %s: %s", c, code, dk(nil, "logs", c))
		}
	}
	// The agent read both roots; it must not keep them busy: the runtime
	// removes the containers (and unmounts their roots) while it runs.
	waitForHostFiles(t, sinkPath, map[string]string{"/data/docker.txt": "plain\n", "/data/docker-pod.txt": "pod\n"})
	dk(nil, "rm", id, podID)
	records := agent.Stop()

	var want Record
	want.Container.ID, want.Container.Runtime, want.Container.Name, want.Container.Image.Name = id, "docker", name, image
	want.User.ID, want.User.Name = fmt.Sprint(uid), "appuser"
	checkContainerRecord(t, records, "/data/docker.txt", want)
	want.Container.ID, want.Container.Name = podID, "app"
	want.Orchestrator.Namespace, want.Orchestrator.Resource.Type, want.Orchestrator.Resource.Name, want.Orchestrator.Resource.ID = "shop", "pod", "web-0", podUID
	checkContainerRecord(t, records, "/data/docker-pod.txt", want)
}

// TestContainerdCRI runs a real containerd with its CRI plugin, acts as the
// kubelet (a pod sandbox below a kubepods cgroup, a container in it, the
// kubelet's labels), and checks that the write names the pod and container
// by asking containerd over the CRI socket.
func TestContainerdCRI(t *testing.T) {
	requireRoot(t)
	requireTool(t, "containerd")
	ctr := requireTool(t, "ctr")
	requireTool(t, "runc")
	const uid = 54321
	dir, err := os.MkdirTemp("", "fsaudit-cri-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "containerd.sock")
	image := "fsaudit.test/busybox:" + randHex(t, 3)
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # Where the test runs without the right to lower OOM scores.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, image, filepath.Join(dir, "cni-bin"), filepath.Join(dir, "cni-conf"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	daemon(t, sock, "containerd", "--config", filepath.Join(dir, "config.toml"))
	// One image serves as the pod's sandbox (its entry point sleeps) and
	// as the container's image.
	archive := ociArchive(t, tarDir(t, containerRoot(t, uid)), image, []string{"/bin/sleep", "3600"})
	runIn(t, archive, ctr, "--address", sock, "--namespace", "k8s.io", "images", "import", "-")

	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rt := cri.NewRuntimeServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{"/data"}, Sink: sinkPath, Extra: fmt.Sprintf(`[containers]
docker_root = ""
storage_root = ""
cri_sockets = ["/nonexistent/crio.sock", %q]
`, sock)})

	podUID := fmt.Sprintf("%s-%s-%s-%s-%s", randHex(t, 4), randHex(t, 2), randHex(t, 2), randHex(t, 2), randHex(t, 6))
	podName, namespace := "ledger-"+randHex(t, 2), "payments"
	podCfg := &cri.PodSandboxConfig{
		Metadata: &cri.PodSandboxMetadata{Name: podName, Namespace: namespace, Uid: podUID},
		Labels:   map[string]string{"io.kubernetes.pod.name": podName, "io.kubernetes.pod.namespace": namespace, "io.kubernetes.pod.uid": podUID},
		Linux: &cri.LinuxPodSandboxConfig{
			CgroupParent: "/kubepods/besteffort/pod" + podUID,
			SecurityContext: &cri.LinuxSandboxSecurityContext{
				NamespaceOptions: &cri.NamespaceOption{Network: cri.NamespaceMode_NODE},
			},
		},
	}
	pod, err := rt.RunPodSandbox(ctx, &cri.RunPodSandboxRequest{Config: podCfg})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	removed := false
	defer func() {
		if !removed {
			rt.StopPodSandbox(context.Background(), &cri.StopPodSandboxRequest{PodSandboxId: pod.PodSandboxId})
			rt.RemovePodSandbox(context.Background(), &cri.RemovePodSandboxRequest{PodSandboxId: pod.PodSandboxId})
		}
	}()
	created, err := rt.CreateContainer(ctx, &cri.CreateContainerRequest{
		PodSandboxId: pod.PodSandboxId,
		Config: &cri.ContainerConfig{
			Metadata: &cri.ContainerMetadata{Name: "ledger-writer"},
			Image:    &cri.ImageSpec{Image: image},
			Command:  []string{"/bin/sh", "-c", "echo cri > /data/cri.txt"},
			Labels: map[string]string{"io.kubernetes.pod.name": podName, "io.kubernetes.pod.namespace": namespace,
				"io.kubernetes.pod.uid": podUID, "io.kubernetes.container.name": "ledger-writer"},
			Linux: &cri.LinuxContainerConfig{SecurityContext: &cri.LinuxContainerSecurityContext{
				RunAsUser:        &cri.Int64Value{Value: uid},
				NamespaceOptions: &cri.NamespaceOption{Network: cri.NamespaceMode_NODE},
			}},
		},
		SandboxConfig: podCfg,
	})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := rt.StartContainer(ctx, &cri.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	for {
		st, err := rt.ContainerStatus(ctx, &cri.ContainerStatusRequest{ContainerId: created.ContainerId})
		if err != nil {
			t.Fatalf("ContainerStatus: %v", err)
		}
		if st.Status.State == cri.ContainerState_CONTAINER_EXITED {
			if st.Status.ExitCode != 0 {
				t.Fatalf("the container exited with %d: %s", st.Status.ExitCode, st.Status.Message)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the container did not finish")
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The agent read the container's root; it must not keep it busy: the
	// runtime removes the container and the pod while the agent runs.
	waitForHostFiles(t, sinkPath, map[string]string{"/data/cri.txt": "cri\n"})
	if _, err := rt.RemoveContainer(ctx, &cri.RemoveContainerRequest{ContainerId: created.ContainerId}); err != nil {
		t.Errorf("removing the container while the agent runs: %v", err)
	}
	if _, err := rt.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: pod.PodSandboxId}); err != nil {
		t.Errorf("stopping the pod while the agent runs: %v", err)
	}
	if _, err := rt.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: pod.PodSandboxId}); err != nil {
		t.Errorf("removing the pod while the agent runs: %v", err)
	}
	removed = true
	records := agent.Stop()

	var want Record
	want.Container.ID, want.Container.Runtime, want.Container.Name, want.Container.Image.Name = created.ContainerId, "containerd", "ledger-writer", image
	want.Orchestrator.Namespace, want.Orchestrator.Resource.Type, want.Orchestrator.Resource.Name, want.Orchestrator.Resource.ID = namespace, "pod", podName, podUID
	want.User.ID, want.User.Name = fmt.Sprint(uid), "appuser"
	checkContainerRecord(t, records, "/data/cri.txt", want)
}

// TestPodmanContainer runs a real Podman (its own storage), imports an
// image built here and runs a container; the write names the container and
// its image from Podman's containers/storage files.
func TestPodmanContainer(t *testing.T) {
	requireRoot(t)
	podman := requireTool(t, "podman")
	const uid = 54321
	dir, err := os.MkdirTemp("", "fsaudit-podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	storage := filepath.Join(dir, "storage")
	pm := func(stdin []byte, args ...string) string {
		return runIn(t, stdin, podman, append([]string{"--root", storage, "--runroot", filepath.Join(dir, "run"),
			"--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}, args...)...)
	}
	image := "localhost/fsaudit-e2e/busybox:" + randHex(t, 3)
	pm(tarDir(t, containerRoot(t, uid)), "import", "-", image)

	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	agent := StartAgent(t, AgentConfig{Include: []string{"/data"}, Sink: sinkPath, Extra: fmt.Sprintf(`[containers]
docker_root = ""
storage_root = %q
cri_sockets = []
`, storage)})
	name := "fsaudit-e2e-" + randHex(t, 3)
	// Limits no higher than the test's own: raising them needs a
	// capability that sandboxes running the tests may lack.
	pm(nil, "run", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--name", name, "--user", fmt.Sprint(uid), image, "/bin/sh", "-c", "echo podman > /data/podman.txt")
	id := pm(nil, "inspect", "--format", "{{.Id}}", name)
	waitForHostFiles(t, sinkPath, map[string]string{"/data/podman.txt": "podman\n"})
	pm(nil, "rm", name)
	records := agent.Stop()

	var want Record
	want.Container.ID, want.Container.Runtime, want.Container.Name, want.Container.Image.Name = id, "podman", name, image
	want.User.ID, want.User.Name = fmt.Sprint(uid), "appuser"
	checkContainerRecord(t, records, "/data/podman.txt", want)
}
