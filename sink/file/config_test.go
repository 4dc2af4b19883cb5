package file

import (
	"os"
	"path/filepath"
	"testing"
)

// Writable answers for the sink as it would open the path, and creates
// nothing.
func TestFileWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.jsonl")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "plain")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.jsonl")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		ok   bool
	}{
		{file, true},
		{link, false}, // the sink does not follow it
		{filepath.Join(dir, "new.jsonl"), true},
		{filepath.Join(dir, "a", "b", "new.jsonl"), true},
		{dir, false},
		{filepath.Join(notDir, "x.jsonl"), false},
	}
	for _, tc := range tests {
		err := Writable(tc.path)
		if (err == nil) != tc.ok {
			t.Errorf("Writable(%s) = %v, want ok=%v", tc.path, err, tc.ok)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Error("Writable created a directory")
	}
}
