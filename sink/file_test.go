package sink

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/record"
)

func recs(from, n int) []Message {
	var out []Message
	for i := from; i < from+n; i++ {
		out = append(out, Message{Value: []byte(fmt.Sprintf("{\"n\":%03d}\n", i))}) // 10 bytes each
	}
	return out
}

func joined(ms []Message) string {
	var b strings.Builder
	for _, m := range ms {
		b.Write(m.Value)
	}
	return b.String()
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFileRotation(t *testing.T) {
	tests := []struct {
		name       string
		maxBackups int
		batches    [][]Message
		want       map[string]string // file suffix -> content; absent means must not exist
	}{
		{
			name:       "no rotation below the limit",
			maxBackups: 2,
			batches:    [][]Message{recs(0, 3)},
			want:       map[string]string{"": joined(recs(0, 3)), ".1": ""},
		},
		{
			name:       "rotates inside one batch and keeps two backups",
			maxBackups: 2,
			batches:    [][]Message{recs(0, 4), recs(4, 4), recs(8, 3)},
			want: map[string]string{
				"":   joined(recs(9, 2)),
				".1": joined(recs(6, 3)),
				".2": joined(recs(3, 3)),
				".3": "",
			},
		},
		{
			name:       "no backups: the old file is dropped",
			maxBackups: 0,
			batches:    [][]Message{recs(0, 4)},
			want:       map[string]string{"": joined(recs(3, 1)), ".1": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "audit.jsonl")
			s, err := OpenFile(FileOptions{Name: "t", Path: path, MaxBytes: 30, MaxBackups: tc.maxBackups})
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range tc.batches {
				if err := s.Write(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for suffix, want := range tc.want {
				b, err := os.ReadFile(path + suffix)
				if want == "" {
					if !errors.Is(err, os.ErrNotExist) {
						t.Errorf("%s exists: %q", path+suffix, b)
					}
					continue
				}
				if string(b) != want {
					t.Errorf("%s = %q, want %q", path+suffix, b, want)
				}
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode = %v, want 0600", st.Mode().Perm())
			}
		})
	}
}

func TestFileReopenAfterMove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := OpenFile(FileOptions{Name: "t", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Write(ctx, recs(0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, recs(1, 1)); err != nil { // still into the moved file
		t.Fatal(err)
	}
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, recs(2, 1)); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path+".old"), joined(recs(0, 2)); got != want {
		t.Errorf("moved file = %q, want %q", got, want)
	}
	if got, want := read(t, path), string(recs(2, 1)[0].Value); got != want {
		t.Errorf("reopened file = %q, want %q", got, want)
	}
}

func TestFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenFile(FileOptions{Name: "t", Path: dir})
	if err == nil {
		t.Fatal("opened a directory as the sink file")
	}
}

// TestFileFullDisk writes into a tiny tmpfs: the error names the sink and
// ENOSPC, and every record that fit is in the file whole.
func TestFileFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8k"); err != nil {
		t.Fatalf("mounting tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	path := filepath.Join(dir, "audit.jsonl")
	s, err := OpenFile(FileOptions{Name: "local", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var werr error
	for i := 0; i < 2000 && werr == nil; i += 10 {
		werr = s.Write(context.Background(), recs(i, 10))
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", werr)
	}
	if !strings.Contains(werr.Error(), "file sink local") || strings.Contains(werr.Error(), "\n") {
		t.Errorf("error is not one line naming the sink: %q", werr)
	}
	got := read(t, path)
	if len(got) == 0 || len(got)%10 != 0 || !strings.HasSuffix(got, "}\n") {
		t.Errorf("file after ENOSPC holds a torn record: %d bytes, ends %q", len(got), got[max(0, len(got)-12):])
	}
}

func TestStdout(t *testing.T) {
	var buf bytes.Buffer
	s := NewStdout("out", &buf, record.JSON{})
	if err := s.Write(context.Background(), recs(0, 2)); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), joined(recs(0, 2)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}

func TestFileCompressedRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := OpenFile(FileOptions{Name: "t", Path: path, MaxBytes: 30, MaxBackups: 2, Compress: true, Format: record.JSON{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]Message{recs(0, 3), recs(3, 3), recs(6, 3), recs(9, 1)} {
		if err := s.Write(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path), joined(recs(9, 1)); got != want {
		t.Errorf("current file %q, want %q", got, want)
	}
	if got, want := gunzip(t, path+".1.gz"), joined(recs(6, 3)); got != want {
		t.Errorf(".1.gz holds %q, want %q", got, want)
	}
	if got, want := gunzip(t, path+".2.gz"), joined(recs(3, 3)); got != want {
		t.Errorf(".2.gz holds %q, want %q", got, want)
	}
	for _, gone := range []string{".3.gz", ".1", ".1.gz.tmp"} {
		if _, err := os.Stat(path + gone); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists", path+gone)
		}
	}
	if st, err := os.Stat(path + ".1.gz"); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("rotated file mode %v (%v), want 0600", st.Mode(), err)
	}
}

func TestFileRotationByAge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := OpenFile(FileOptions{Name: "t", Path: path, MaxAge: 50 * time.Millisecond, MaxBackups: 3, Format: record.JSON{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Write(ctx, recs(0, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, recs(2, 1)); err != nil { // young: same file
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if err := s.Write(ctx, recs(3, 1)); err != nil { // old: a new file first
		t.Fatal(err)
	}
	if got, want := read(t, path+".1"), joined(recs(0, 3)); got != want {
		t.Errorf(".1 holds %q, want %q", got, want)
	}
	if got, want := read(t, path), joined(recs(3, 1)); got != want {
		t.Errorf("current file holds %q, want %q", got, want)
	}
}

func TestFileFsyncPolicies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fsync time.Duration
		dirty bool // right after a write
	}{{"batch", 0, false}, {"interval", time.Hour, true}, {"never", -1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			s, err := OpenFile(FileOptions{Name: "t", Path: path, Fsync: tc.fsync, Format: record.JSON{}})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Write(context.Background(), recs(0, 2)); err != nil {
				t.Fatal(err)
			}
			if s.dirty != tc.dirty {
				t.Errorf("unsynced data after a write: %v, want %v", s.dirty, tc.dirty)
			}
			if err := s.Close(); err != nil || s.dirty {
				t.Errorf("close: %v, unsynced %v", err, s.dirty)
			}
		})
	}
	// An interval sync happens without further writes.
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := OpenFile(FileOptions{Name: "t", Path: path, Fsync: 10 * time.Millisecond, Format: record.JSON{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(context.Background(), recs(0, 1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		dirty := s.dirty
		s.mu.Unlock()
		if !dirty {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no sync within 5 s of a write with fsync every 10 ms")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
