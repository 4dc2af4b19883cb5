package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Meta is what a container runtime says about one of its containers. Empty
// fields are facts the runtime did not give.
type Meta struct {
	Runtime      string // the runtime that answered: docker, containerd, cri-o, podman
	Name         string
	Image        string
	PodName      string
	PodNamespace string
	PodUID       string
}

// Kubernetes labels that the kubelet sets on every container, through any
// CRI runtime (and through cri-dockerd on Docker containers).
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"
)

func (m *Meta) fromLabels(labels map[string]string) {
	if v := labels[labelContainerName]; v != "" {
		m.Name = v
	}
	m.PodName = labels[labelPodName]
	m.PodNamespace = labels[labelPodNamespace]
	m.PodUID = labels[labelPodUID]
}

// MetaSource answers for the containers of one runtime. Lookup returns
// found=false, and no error, for an id the runtime does not know.
type MetaSource interface {
	Name() string
	// Serves tells whether the source may know containers that a cgroup
	// path attributes to runtime ("cri" for a bare id below a pod).
	Serves(runtime string) bool
	Lookup(ctx context.Context, id string) (m Meta, found bool, err error)
	Close() error
}

// DockerFiles reads Docker's per-container config
// (<root>/containers/<id>/config.v2.json); root is Docker's data root.
type DockerFiles struct{ Root string }

// Name implements MetaSource.
func (d DockerFiles) Name() string { return "docker " + d.Root }

// Serves implements MetaSource: Docker runs its own containers and, through
// cri-dockerd, Kubernetes pods.
func (d DockerFiles) Serves(runtime string) bool { return runtime == "docker" || runtime == "cri" }

// Lookup implements MetaSource.
func (d DockerFiles) Lookup(_ context.Context, id string) (Meta, bool, error) {
	if !validID(id) {
		return Meta{}, false, nil
	}
	path := filepath.Join(d.Root, "containers", id, "config.v2.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Meta{}, false, nil
	}
	if err != nil {
		return Meta{}, false, fmt.Errorf("reading %s: %w", path, err)
	}
	var doc struct {
		Name   string
		Config struct {
			Image  string
			Labels map[string]string
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return Meta{}, false, fmt.Errorf("decoding %s: %w", path, err)
	}
	m := Meta{Runtime: "docker", Name: strings.TrimPrefix(doc.Name, "/"), Image: doc.Config.Image}
	m.fromLabels(doc.Config.Labels)
	return m, true, nil
}

// Close implements MetaSource.
func (DockerFiles) Close() error { return nil }

// StorageFiles reads the container list that Podman and CRI-O keep in
// containers/storage (<root>/<driver>-containers/containers.json) for
// names and images. CRI-O's pods are better answered by its CRI socket;
// this names Podman's containers.
type StorageFiles struct{ Root string }

// Name implements MetaSource.
func (s StorageFiles) Name() string { return "containers-storage " + s.Root }

// Serves implements MetaSource.
func (s StorageFiles) Serves(runtime string) bool { return runtime == "podman" || runtime == "cri-o" }

// Lookup implements MetaSource.
func (s StorageFiles) Lookup(_ context.Context, id string) (Meta, bool, error) {
	lists, _ := filepath.Glob(filepath.Join(s.Root, "*-containers", "containers.json"))
	for _, list := range lists {
		var containers []struct {
			ID       string   `json:"id"`
			Names    []string `json:"names"`
			Image    string   `json:"image"` // the image's id
			Metadata string   `json:"metadata"`
		}
		if err := readJSON(list, &containers); err != nil {
			return Meta{}, false, err
		}
		for _, c := range containers {
			if c.ID != id {
				continue
			}
			m := Meta{Runtime: "podman", Image: c.Image}
			if len(c.Names) > 0 {
				m.Name = c.Names[0]
			}
			// Podman keeps the name and the image's name in metadata.
			var md struct {
				Name      string `json:"name"`
				ImageName string `json:"image-name"`
			}
			if json.Unmarshal([]byte(c.Metadata), &md) == nil {
				if md.Name != "" {
					m.Name = md.Name
				}
				if md.ImageName != "" {
					m.Image = md.ImageName
				}
			}
			return m, true, nil
		}
	}
	return Meta{}, false, nil
}

// Close implements MetaSource.
func (StorageFiles) Close() error { return nil }

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}

// CRISocket asks a Container Runtime Interface endpoint (containerd's or
// CRI-O's socket) for a container's status. The endpoint is asked what it is
// on the first lookup; the HTTP/2 connection is kept between lookups.
type CRISocket struct {
	Path string

	mu      sync.Mutex
	client  *criClient
	runtime string // what the endpoint calls itself (RuntimeName)
}

// Name implements MetaSource.
func (c *CRISocket) Name() string { return "cri " + c.Path }

// Serves implements MetaSource.
func (c *CRISocket) Serves(runtime string) bool {
	return runtime == "containerd" || runtime == "cri-o" || runtime == "cri"
}

func (c *CRISocket) connect(ctx context.Context) (*criClient, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, c.runtime, nil
	}
	if _, err := os.Stat(c.Path); err != nil {
		return nil, "", fmt.Errorf("CRI socket: %w", err)
	}
	client := newCRIClient(c.Path)
	name, err := client.runtimeName(ctx)
	if err != nil {
		client.http.CloseIdleConnections()
		return nil, "", fmt.Errorf("CRI socket %s: version: %w", c.Path, err)
	}
	c.client, c.runtime = client, runtimeName(name)
	return client, c.runtime, nil
}

// runtimeName maps a CRI RuntimeName to container.runtime.
func runtimeName(n string) string {
	switch strings.ToLower(n) {
	case "cri-o", "crio":
		return "cri-o"
	case "":
		return "cri"
	}
	return strings.ToLower(n)
}

// Lookup implements MetaSource.
func (c *CRISocket) Lookup(ctx context.Context, id string) (Meta, bool, error) {
	client, runtime, err := c.connect(ctx)
	if errors.Is(err, os.ErrNotExist) {
		return Meta{}, false, nil // no such runtime on this host
	}
	if err != nil {
		return Meta{}, false, err
	}
	st, err := client.containerStatus(ctx, id)
	if isNotFound(err) {
		return Meta{}, false, nil
	}
	if err != nil {
		return Meta{}, false, fmt.Errorf("CRI socket %s: container status: %w", c.Path, err)
	}
	if st.id != id {
		return Meta{}, false, nil
	}
	m := Meta{Runtime: runtime, Name: st.name, Image: st.image}
	if strings.HasPrefix(m.Image, "sha256:") && st.imageRef != "" {
		m.Image = st.imageRef
	}
	m.fromLabels(st.labels)
	return m, true, nil
}

// Close implements MetaSource.
func (c *CRISocket) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		c.client.http.CloseIdleConnections()
		c.client = nil
	}
	return nil
}

func validID(id string) bool {
	return len(id) == 64 && strings.Trim(id, "0123456789abcdef") == ""
}

// Metadata asks the runtimes about each container once and keeps the
// answer, so the hot path only reads a map. An id no runtime knows is asked
// again after Retry (its metadata may not be written yet), then after twice
// as long each time, up to 5 minutes; a source that failed is left alone
// for Backoff. Lookups run beside the event path (see beside.go), each
// bounded by Timeout. Entries not used for Expiry go when the cache is full.
type Metadata struct {
	Sources []MetaSource
	Timeout time.Duration // per lookup
	Retry   time.Duration
	Backoff time.Duration
	Expiry  time.Duration
	Max     int
	// OnError hears of a failing source, once per backoff.
	OnError func(source string, err error)

	// beside runs the lookups; nil: on the caller's goroutine.
	beside *beside

	mu      sync.Mutex
	entries map[string]*metaEntry
	failed  map[string]time.Time // source name -> when it last failed
}

type metaEntry struct {
	meta   Meta
	found  bool
	busy   bool // a lookup runs
	asked  time.Time
	used   time.Time
	misses int // lookups that found nothing: each doubles the wait before the next
}

// NewMetadata prepares a cache over sources, with production bounds.
func NewMetadata(sources ...MetaSource) *Metadata {
	return &Metadata{
		Sources: sources, Timeout: time.Second, Retry: 5 * time.Second,
		Backoff: 30 * time.Second, Expiry: time.Hour, Max: 1 << 14,
		entries: map[string]*metaEntry{}, failed: map[string]time.Time{},
	}
}

// Lookup returns what the runtimes say about container c, or found=false.
func (md *Metadata) Lookup(c Container) (Meta, bool) {
	m, found, _ := md.lookup(c)
	return m, found
}

// lookup is Lookup that also says whether a lookup of c still runs.
func (md *Metadata) lookup(c Container) (m Meta, found, pending bool) {
	if md == nil || len(md.Sources) == 0 || c.ID == "" {
		return Meta{}, false, false
	}
	md.mu.Lock()
	now := time.Now()
	e := md.entries[c.ID]
	if e != nil && (e.found || e.busy || now.Sub(e.asked) < min(md.Retry<<min(e.misses, 6), 5*time.Minute)) {
		e.used = now
		m, found, busy := e.meta, e.found, e.busy // read under the lock: the lookup writes them
		md.mu.Unlock()
		return m, found, busy
	}
	if e == nil {
		md.evict(now)
		e = &metaEntry{}
		md.entries[c.ID] = e
	}
	e.asked, e.used, e.busy = now, now, true
	md.mu.Unlock()
	ask := func() { md.ask(e, c, now) }
	if md.beside == nil {
		ask()
	} else if l, _ := md.beside.run(ask); l == nil {
		md.mu.Lock()
		e.busy, e.asked = false, time.Time{} // no slot: the next event asks
		md.mu.Unlock()
		return Meta{}, false, true
	}
	md.mu.Lock()
	defer md.mu.Unlock()
	return e.meta, e.found, e.busy
}

// ask asks the sources that serve c's runtime, in turn, and fills e.
func (md *Metadata) ask(e *metaEntry, c Container, now time.Time) {
	var meta Meta
	found := false
	for _, s := range md.Sources {
		if !s.Serves(c.Runtime) {
			continue
		}
		md.mu.Lock()
		t, failed := md.failed[s.Name()]
		md.mu.Unlock()
		if failed && now.Sub(t) < md.Backoff {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), md.Timeout)
		m, ok, err := s.Lookup(ctx, c.ID)
		cancel()
		if err != nil {
			md.mu.Lock()
			md.failed[s.Name()] = now
			md.mu.Unlock()
			if md.OnError != nil {
				md.OnError(s.Name(), err)
			}
			continue
		}
		if ok {
			meta, found = m, true
			break
		}
	}
	md.mu.Lock()
	e.meta, e.found, e.busy = meta, found, false
	if !found {
		e.misses++
	}
	md.mu.Unlock()
}

// evict makes room for one entry: first those unused for Expiry, then all.
func (md *Metadata) evict(now time.Time) {
	if len(md.entries) < md.Max {
		return
	}
	for id, e := range md.entries {
		if now.Sub(e.used) >= md.Expiry {
			delete(md.entries, id)
		}
	}
	if len(md.entries) >= md.Max {
		md.entries = map[string]*metaEntry{}
	}
}

// Close releases the sources' connections.
func (md *Metadata) Close() error {
	if md == nil {
		return nil
	}
	var errs []error
	for _, s := range md.Sources {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
