package stdout

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
)

// The batch goes out whole, each record on its line, in the sink's
// format.
func TestStdout(t *testing.T) {
	var buf bytes.Buffer
	s := NewSink("out", &buf, record.JSON{})
	var enc []byte
	var batch []sink.Message
	for _, p := range []string{"/a", "/b\nc"} {
		var m sink.Message
		enc, m = s.Encode(enc, &record.Record{Time: time.Now(), ID: "id", Sequence: 1, Action: record.ActionWrite, File: record.File{Path: p}, Host: record.Host{Name: "h"}})
		batch = append(batch, m)
	}
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.Bytes())
	}
	for i, want := range []string{"/a", "/b\nc"} {
		var r record.Record
		if err := record.ParseJSON(lines[i], &r); err != nil || r.File.Path != want {
			t.Errorf("line %d: path %q (%v), want %q", i, r.File.Path, err, want)
		}
	}
}
