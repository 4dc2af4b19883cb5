package enrich

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// runtimeServer answers like a CRI runtime, through grpc-go's own server:
// the client must speak the real protocol.
type runtimeServer struct {
	cri.UnimplementedRuntimeServiceServer
	containers map[string]*cri.ContainerStatus
}

func (s *runtimeServer) Version(context.Context, *cri.VersionRequest) (*cri.VersionResponse, error) {
	return &cri.VersionResponse{Version: "0.1.0", RuntimeName: "containerd", RuntimeVersion: "v1.7.0", RuntimeApiVersion: "v1"}, nil
}

func (s *runtimeServer) ContainerStatus(_ context.Context, req *cri.ContainerStatusRequest) (*cri.ContainerStatusResponse, error) {
	st, ok := s.containers[req.ContainerId]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "an error occurred when try to find container %q: not found", req.ContainerId)
	}
	return &cri.ContainerStatusResponse{Status: st, Info: map[string]string{"info": "{}"}}, nil
}

func podStatus(id string) *cri.ContainerStatus {
	return &cri.ContainerStatus{
		Id: id, Metadata: &cri.ContainerMetadata{Name: "app", Attempt: 3},
		State: cri.ContainerState_CONTAINER_RUNNING, CreatedAt: time.Now().UnixNano(),
		Image:    &cri.ImageSpec{Image: "sha256:" + testID, UserSpecifiedImage: "registry.example/shop/app:2"},
		ImageRef: "registry.example/shop/app@sha256:" + testID,
		Labels: map[string]string{
			"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop",
			"io.kubernetes.pod.uid": "11111111-2222-3333-4444-555555555555", "io.kubernetes.container.name": "app",
		},
		Annotations: map[string]string{"io.kubernetes.container.hash": "abc"},
		Mounts:      []*cri.Mount{{ContainerPath: "/data", HostPath: "/srv/data"}},
		LogPath:     "/var/log/pods/x.log",
	}
}

func serveCRI(t *testing.T, srv *runtimeServer) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "cri.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	cri.RegisterRuntimeServiceServer(g, srv)
	go g.Serve(l)
	t.Cleanup(g.Stop)
	return sock
}

func TestCRISocketAgainstGRPCServer(t *testing.T) {
	other := "f" + testID[1:]
	sock := serveCRI(t, &runtimeServer{containers: map[string]*cri.ContainerStatus{testID: podStatus(testID), other: {Id: other, Metadata: &cri.ContainerMetadata{Name: "plain"}, Image: &cri.ImageSpec{Image: "sha256:" + testID}, ImageRef: "docker.io/library/busybox@sha256:" + testID}}})
	c := &CRISocket{Path: sock}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		id    string
		want  Meta
		found bool
	}{
		{testID, Meta{Runtime: "containerd", Name: "app", Image: "registry.example/shop/app:2", PodName: "web-0", PodNamespace: "shop", PodUID: "11111111-2222-3333-4444-555555555555"}, true},
		{other, Meta{Runtime: "containerd", Name: "plain", Image: "docker.io/library/busybox@sha256:" + testID}, true},
		{"9" + testID[1:], Meta{}, false}, // NotFound is a miss, not an error
	} {
		m, found, err := c.Lookup(ctx, tc.id)
		if err != nil || found != tc.found || m != tc.want {
			t.Errorf("Lookup(%.12s) = %+v, %v, %v; want %+v, %v", tc.id, m, found, err, tc.want, tc.found)
		}
	}
}

func TestCRISocketNotGRPC(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "http.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			conn.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := (&CRISocket{Path: sock}).Lookup(ctx, testID); err == nil {
		t.Error("a socket that speaks no HTTP/2: no error")
	}
}

// TestDecodeContainerStatus checks the hand decoder against protobuf's own
// encoding, and that truncated or corrupt answers are errors, never panics.
func TestDecodeContainerStatus(t *testing.T) {
	b, err := proto.Marshal(&cri.ContainerStatusResponse{Status: podStatus(testID), Info: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeContainerStatus(b)
	if err != nil || got.id != testID || got.name != "app" || got.image != "registry.example/shop/app:2" || got.labels["io.kubernetes.pod.uid"] != "11111111-2222-3333-4444-555555555555" || len(got.labels) != 4 {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	for i := range b {
		decodeContainerStatus(b[:i]) // must not panic
		bad := append([]byte(nil), b...)
		bad[i] ^= 0xff
		decodeContainerStatus(bad)
	}
	if _, err := decodeContainerStatus(b[:len(b)-1]); err == nil {
		t.Error("a truncated answer decoded without error")
	}
}
