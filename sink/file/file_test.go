package file

import (
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
	"github.com/fsaudit/fsaudit/sink"
)

func recs(from, n int) []sink.Message {
	var out []sink.Message
	for i := from; i < from+n; i++ {
		out = append(out, sink.Message{Value: []byte(fmt.Sprintf("{\"n\":%03d}\n", i))}) // 10 bytes each
	}
	return out
}

func joined(ms []sink.Message) string {
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
		batches    [][]sink.Message
		want       map[string]string // file suffix -> content; absent means must not exist
	}{
		{
			name:       "no rotation below the limit",
			maxBackups: 2,
			batches:    [][]sink.Message{recs(0, 3)},
			want:       map[string]string{"": joined(recs(0, 3)), ".1": ""},
		},
		{
			name:       "rotates inside one batch and keeps two backups",
			maxBackups: 2,
			batches:    [][]sink.Message{recs(0, 4), recs(4, 4), recs(8, 3)},
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
			batches:    [][]sink.Message{recs(0, 4)},
			want:       map[string]string{"": joined(recs(3, 1)), ".1": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "audit.jsonl")
			s, err := OpenSink(Options{Name: "t", Path: path, MaxBytes: 30, MaxBackups: tc.maxBackups})
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
	s, err := OpenSink(Options{Name: "t", Path: path})
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
	_, err := OpenSink(Options{Name: "t", Path: dir})
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
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8k,mode=0700"); err != nil {
		t.Fatalf("mounting tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	path := filepath.Join(dir, "audit.jsonl")
	s, err := OpenSink(Options{Name: "local", Path: path})
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

// plantVictim makes a file the agent must never write, in a directory of
// its own, and returns its path and content.
func plantVictim(t *testing.T) (string, string) {
	t.Helper()
	victim := filepath.Join(t.TempDir(), "victim")
	const content = "root's own file\n"
	if err := os.WriteFile(victim, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return victim, content
}

// TestFileSymlinkAtPath: a link planted at the sink's path, before the
// start or before a reopen, is refused, and its target left as it was.
func TestFileSymlinkAtPath(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reopen bool // plant after the first open, then Reopen
	}{{"at open", false}, {"at reopen", true}} {
		t.Run(tc.name, func(t *testing.T) {
			victim, content := plantVictim(t)
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			var s *Sink
			if tc.reopen {
				var err error
				if s, err = OpenSink(Options{Name: "t", Path: path}); err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if err := os.Rename(path, path+".old"); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(victim, path); err != nil {
				t.Fatal(err)
			}
			var err error
			if tc.reopen {
				err = s.Reopen()
			} else {
				s, err = OpenSink(Options{Name: "t", Path: path})
				if err == nil {
					s.Write(context.Background(), recs(0, 1))
					s.Close()
				}
			}
			if err == nil || !strings.Contains(err.Error(), path+" is a symbolic link") {
				t.Errorf("err = %v, want one naming %s as a symbolic link", err, path)
			}
			if got := read(t, victim); got != content {
				t.Errorf("the link's target now holds %q", got)
			}
		})
	}
}

// TestFileRotationPlantedLinks: a link planted at a name rotation creates,
// removes or writes through (the compressor's temporary file included)
// never changes its target.
func TestFileRotationPlantedLinks(t *testing.T) {
	for _, tc := range []struct {
		planted    string // suffix of Path
		compress   bool
		maxBackups int
		want       map[string]string // suffix -> content after the rotation
	}{
		{".1.gz.tmp", true, 2, map[string]string{".1.gz": joined(recs(0, 3))}},
		{".1.gz", true, 2, map[string]string{".1.gz": joined(recs(0, 3))}},
		{".1", false, 2, map[string]string{".1": joined(recs(0, 3))}},
		{".2", false, 2, map[string]string{".1": joined(recs(0, 3))}},
	} {
		t.Run(tc.planted, func(t *testing.T) {
			victim, content := plantVictim(t)
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			if err := os.Symlink(victim, path+tc.planted); err != nil {
				t.Fatal(err)
			}
			s, err := OpenSink(Options{Name: "t", Path: path, MaxBytes: 30, MaxBackups: tc.maxBackups, Compress: tc.compress})
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range [][]sink.Message{recs(0, 3), recs(3, 1)} { // the second rotates
				if err := s.Write(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := read(t, victim); got != content {
				t.Errorf("the link's target now holds %q", got)
			}
			for suffix, want := range tc.want {
				st, err := os.Lstat(path + suffix)
				if err != nil || !st.Mode().IsRegular() {
					t.Fatalf("%s: %v, mode %v: want a regular file", path+suffix, err, st.Mode())
				}
				got := ""
				if tc.compress {
					got = gunzip(t, path+suffix)
				} else {
					got = read(t, path+suffix)
				}
				if got != want {
					t.Errorf("%s holds %q, want %q", path+suffix, got, want)
				}
			}
		})
	}
}

// TestCheckFileDir: a directory others can plant names in is refused, by
// CheckFileDir and by OpenSink, which then creates nothing in it.
func TestCheckFileDir(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		owner int // 0: the test's own user
		err   string
	}{
		{"0755 own", 0o755, 0, ""},
		{"0700 own", 0o700, 0, ""},
		{"0750 own", 0o750, 0, ""},
		{"0777", 0o777, 0, "is writable by group or others (mode 0777): insecure permissions"},
		{"1777 like /tmp", os.ModeSticky | 0o777, 0, "is writable by group or others (mode 1777): insecure permissions"},
		{"0775", 0o775, 0, "is writable by group or others (mode 0775)"},
		{"0757", 0o757, 0, "is writable by group or others (mode 0757)"},
		{"0755 another user's", 0o755, 65534, "is owned by uid 65534, neither root nor the agent's user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner != 0 {
				if os.Geteuid() != 0 {
					t.Skip("needs root to give the directory to another user")
				}
				if err := os.Chown(dir, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			err := CheckFileDir(dir)
			path := filepath.Join(dir, "audit.jsonl")
			s, oerr := OpenSink(Options{Name: "local", Path: path})
			if tc.err == "" {
				if err != nil || oerr != nil {
					t.Fatalf("refused: %v; OpenSink: %v", err, oerr)
				}
				s.Close()
				return
			}
			if s != nil {
				s.Close()
			}
			want := "directory " + dir + " " + tc.err
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("CheckFileDir: %v, want %q", err, want)
			}
			if oerr == nil || !strings.HasPrefix(oerr.Error(), "file sink local: "+want) || strings.Contains(oerr.Error(), "\n") {
				t.Errorf("OpenSink: %v, want one line starting %q", oerr, "file sink local: "+want)
			}
			if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("OpenSink created %s in a refused directory", path)
			}
		})
	}
	// A directory that is not there yet passes, and OpenSink makes it 0750.
	dir := filepath.Join(t.TempDir(), "new", "log")
	if err := CheckFileDir(dir); err != nil {
		t.Errorf("missing directory: %v", err)
	}
	s, err := OpenSink(Options{Name: "local", Path: filepath.Join(dir, "audit.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm()&0o027 != 0 {
		t.Errorf("created directory: %v, mode %v; want at most 0750", err, st.Mode())
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
	s, err := OpenSink(Options{Name: "t", Path: path, MaxBytes: 30, MaxBackups: 2, Compress: true, Format: record.JSON{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]sink.Message{recs(0, 3), recs(3, 3), recs(6, 3), recs(9, 1)} {
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
	s, err := OpenSink(Options{Name: "t", Path: path, MaxAge: 50 * time.Millisecond, MaxBackups: 3, Format: record.JSON{}})
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
			s, err := OpenSink(Options{Name: "t", Path: path, Fsync: tc.fsync, Format: record.JSON{}})
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
	s, err := OpenSink(Options{Name: "t", Path: path, Fsync: 10 * time.Millisecond, Format: record.JSON{}})
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
