package enrich

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/record"
)

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDockerFiles(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "containers", testID, "config.v2.json"),
		`{"ID":"`+testID+`","Name":"/web","Config":{"Image":"nginx:1.27","Labels":{"a":"b"}}}`)
	k8s := strings.Repeat("e", 64)
	writeFile(t, filepath.Join(root, "containers", k8s, "config.v2.json"),
		`{"Name":"/k8s_app_web-0_shop_uid_0","Config":{"Image":"shop/app:2","Labels":{
		"io.kubernetes.pod.name":"web-0","io.kubernetes.pod.namespace":"shop",
		"io.kubernetes.pod.uid":"11111111-2222-3333-4444-555555555555","io.kubernetes.container.name":"app"}}}`)
	bad := strings.Repeat("b", 64)
	writeFile(t, filepath.Join(root, "containers", bad, "config.v2.json"), `{"Name":`)
	d := DockerFiles{Root: root}
	for _, tc := range []struct {
		id      string
		want    Meta
		found   bool
		wantErr bool
	}{
		{testID, Meta{Runtime: "docker", Name: "web", Image: "nginx:1.27"}, true, false},
		{k8s, Meta{Runtime: "docker", Name: "app", Image: "shop/app:2", PodName: "web-0", PodNamespace: "shop", PodUID: "11111111-2222-3333-4444-555555555555"}, true, false},
		{strings.Repeat("c", 64), Meta{}, false, false},
		{"../../etc", Meta{}, false, false}, // never a path from an id
		{bad, Meta{}, false, true},
	} {
		m, found, err := d.Lookup(context.Background(), tc.id)
		if m != tc.want || found != tc.found || (err != nil) != tc.wantErr {
			t.Errorf("Lookup(%.12s) = %+v, %v, %v; want %+v, %v, error %v", tc.id, m, found, err, tc.want, tc.found, tc.wantErr)
		}
	}
}

func TestStorageFiles(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "overlay-containers", "containers.json"), `[
	{"id":"`+strings.Repeat("a", 64)+`","names":["other"],"image":"`+strings.Repeat("1", 64)+`","metadata":"{}"},
	{"id":"`+testID+`","names":["db"],"image":"`+strings.Repeat("2", 64)+`",
	 "metadata":"{\"image-name\":\"docker.io/library/postgres:17\",\"name\":\"db\"}"}]`)
	s := StorageFiles{Root: root}
	m, found, err := s.Lookup(context.Background(), testID)
	if want := (Meta{Runtime: "podman", Name: "db", Image: "docker.io/library/postgres:17"}); m != want || !found || err != nil {
		t.Errorf("Lookup = %+v, %v, %v; want %+v", m, found, err, want)
	}
	m, found, err = s.Lookup(context.Background(), strings.Repeat("a", 64))
	if m.Name != "other" || m.Image != strings.Repeat("1", 64) || !found || err != nil {
		t.Errorf("Lookup without metadata = %+v, %v, %v; want the name and the image id", m, found, err)
	}
	if _, found, err := s.Lookup(context.Background(), strings.Repeat("9", 64)); found || err != nil {
		t.Errorf("unknown id: found %v, error %v", found, err)
	}
	if _, found, err := (StorageFiles{Root: t.TempDir()}).Lookup(context.Background(), testID); found || err != nil {
		t.Errorf("no storage: found %v, error %v", found, err)
	}
}

func TestCRISocketAbsent(t *testing.T) {
	c := &CRISocket{Path: filepath.Join(t.TempDir(), "containerd.sock")}
	if _, found, err := c.Lookup(context.Background(), testID); found || err != nil {
		t.Errorf("absent socket: found %v, error %v; want a quiet miss", found, err)
	}
	// A path that is no socket is an error worth reporting.
	notSock := filepath.Join(t.TempDir(), "file")
	writeFile(t, notSock, "")
	c = &CRISocket{Path: notSock}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, _, err := c.Lookup(ctx, testID); err == nil {
		t.Error("a file that is not a socket: no error")
	}
}

// fakeSource counts lookups; answers come from a map.
type fakeSource struct {
	name    string
	serves  string
	answers map[string]Meta
	err     error
	calls   int
}

func (f *fakeSource) Name() string               { return f.name }
func (f *fakeSource) Serves(runtime string) bool { return runtime == f.serves }
func (f *fakeSource) Close() error               { return nil }
func (f *fakeSource) Lookup(_ context.Context, id string) (Meta, bool, error) {
	f.calls++
	if f.err != nil {
		return Meta{}, false, f.err
	}
	m, ok := f.answers[id]
	return m, ok, nil
}

func TestMetadataCache(t *testing.T) {
	docker := &fakeSource{name: "docker", serves: "docker", answers: map[string]Meta{"d1": {Runtime: "docker", Name: "web"}}}
	broken := &fakeSource{name: "broken", serves: "docker", err: errors.New("connection refused")}
	var reported []string
	md := NewMetadata(broken, docker)
	md.OnError = func(source string, err error) { reported = append(reported, source) }

	for range 3 {
		if m, ok := md.Lookup(Container{ID: "d1", Runtime: "docker"}); !ok || m.Name != "web" {
			t.Fatalf("Lookup = %+v, %v", m, ok)
		}
	}
	if docker.calls != 1 || broken.calls != 1 || len(reported) != 1 {
		t.Errorf("calls docker %d broken %d, reports %v: want one each (cached, failing source backed off)", docker.calls, broken.calls, reported)
	}
	// Unknown ids are asked again only after Retry.
	md.Retry = time.Hour
	md.Lookup(Container{ID: "x", Runtime: "docker"})
	md.Lookup(Container{ID: "x", Runtime: "docker"})
	if docker.calls != 2 {
		t.Errorf("docker asked %d times, want 2 (the miss is remembered)", docker.calls)
	}
	md.Retry = 0
	docker.answers["x"] = Meta{Name: "late"}
	if m, ok := md.Lookup(Container{ID: "x", Runtime: "docker"}); !ok || m.Name != "late" {
		t.Errorf("after Retry: %+v, %v; want the metadata written since", m, ok)
	}
	// A runtime no source serves is never asked.
	if _, ok := md.Lookup(Container{ID: "p", Runtime: "podman"}); ok || docker.calls != 3 {
		t.Errorf("podman container: found %v, docker asked %d times", ok, docker.calls)
	}
	// The bound holds.
	md.Max = 4
	for i := range 10 {
		md.Lookup(Container{ID: string(rune('a' + i)), Runtime: "docker"})
	}
	if n := len(md.entries); n > md.Max {
		t.Errorf("%d entries, bound %d", n, md.Max)
	}
	var none *Metadata
	if _, ok := none.Lookup(Container{ID: "d1"}); ok || none.Close() != nil {
		t.Error("a nil Metadata must answer nothing")
	}
}

func TestFillMeta(t *testing.T) {
	for _, tc := range []struct {
		name     string
		runtime  string // from the cgroup
		podUID   string // from the cgroup
		meta     Meta
		wantRT   string
		wantOrch record.Orchestrator
	}{
		{"cri id named by the socket", "cri", "u1", Meta{Runtime: "containerd", Name: "app", PodName: "p", PodNamespace: "ns", PodUID: "u1"}, "containerd", record.Orchestrator{Namespace: "ns", ResourceName: "p", ResourceID: "u1"}},
		{"cgroup runtime kept", "docker", "", Meta{Runtime: "docker", Name: "web"}, "docker", record.Orchestrator{}},
		{"pod uid from labels", "docker", "", Meta{Runtime: "docker", PodName: "p", PodNamespace: "ns", PodUID: "u2"}, "docker", record.Orchestrator{Namespace: "ns", ResourceName: "p", ResourceID: "u2"}},
		{"labels of another pod ignored", "cri", "u1", Meta{Runtime: "containerd", PodName: "p", PodNamespace: "ns", PodUID: "u9"}, "containerd", record.Orchestrator{ResourceID: "u1"}},
	} {
		r := record.Record{Container: record.Container{ID: testID, Runtime: tc.runtime}, Orchestrator: record.Orchestrator{ResourceID: tc.podUID}}
		fillMeta(&r, tc.meta)
		if r.Container.Runtime != tc.wantRT || r.Container.Name != tc.meta.Name || r.Orchestrator != tc.wantOrch {
			t.Errorf("%s: container %+v orchestrator %+v; want runtime %s, orchestrator %+v", tc.name, r.Container, r.Orchestrator, tc.wantRT, tc.wantOrch)
		}
	}
}
