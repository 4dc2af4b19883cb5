package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/chain"
	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
	"github.com/fsaudit/fsaudit/spool"
	"github.com/rs/zerolog"
)

// numbered is a write record of a path, numbered as the pipeline numbers
// them.
func numbered(seq uint64, path string) *record.Record {
	return &record.Record{Sequence: seq, Action: record.ActionWrite, File: record.File{Path: path}}
}

// sealRecord is a numbered record for a seal, as the pipeline makes them.
func sealRecord() *record.Record {
	return &record.Record{Time: time.Now(), ID: "seal", Host: record.Host{Name: "h"}}
}

// A file sink in the json format takes the router's one encoding of each
// chained record: every line verifies, and is what the record encodes to.
func TestRouterChainedFileSink(t *testing.T) {
	dir := t.TempDir()
	for _, format := range []string{"json", "cef"} {
		path := filepath.Join(dir, format+".log")
		f, err := record.NewFormat(format, record.Product{Name: "fsaudit"})
		if err != nil {
			t.Fatal(err)
		}
		fs, err := OpenSink(Options{Name: format, Path: path, Fsync: -1, Format: f})
		if err != nil {
			t.Fatal(err)
		}
		rt := sink.NewRouter(zerolog.Nop())
		rt.SetSealing(sink.Sealing{Instance: "run-1", Record: sealRecord})
		rt.Add(fs, sink.RouteOptions{BatchSize: 3, BatchTimeout: time.Millisecond, Chain: chain.New(nil, chain.State{})})
		rt.Start(context.Background())
		for i := 1; i <= 10; i++ {
			r := numbered(uint64(i), fmt.Sprintf("/d/f%d \"}}\n", i))
			r.Host.Name, r.ID = "h", fmt.Sprint("id-", i)
			rt.Publish(r)
		}
		rt.Close()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(lines) != 12 {
			t.Fatalf("%s: %d lines, want 10 and the start and stop seals", format, len(lines))
		}
		if format != "json" {
			continue
		}
		v := chain.NewVerifier(nil, nil)
		for i, line := range lines {
			if err := v.Line(fmt.Sprint("line ", i), []byte(line)); err != nil {
				t.Fatalf("line %d does not verify: %v\n%s", i, err, line)
			}
			var r record.Record
			if err := record.ParseJSON([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			if again := record.AppendJSON(nil, &r); string(again) != line {
				t.Errorf("line %d is not the record's encoding:\n%s\n%s", i, line, again)
			}
		}
	}
}

// TestRouterMarkedRotation: a chained file sink starts every file it
// rotates to (and reopens, after a log rotator moved the file) with a
// seal record, through a spool or not; each file verifies on its own as a
// chain that starts at a file's start, and all of them as one chain.
func TestRouterMarkedRotation(t *testing.T) {
	for _, spooled := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "out", "audit.jsonl")
		// A file waits for its mark up to twice MaxBytes: room for a
		// backlog of some 30 records when the machine is busy.
		const maxBytes = 12000
		fs, err := OpenSink(Options{Name: "local", Path: path, Fsync: -1, Format: record.JSON{}, MaxBytes: maxBytes, MaxBackups: 100, Marked: true})
		if err != nil {
			t.Fatal(err)
		}
		o := sink.RouteOptions{BatchSize: 4, BatchTimeout: time.Millisecond, Chain: chain.New(nil, chain.State{})}
		if spooled {
			if o.Spool, _, err = spool.Open(spool.Options{Dir: filepath.Join(dir, "spool")}); err != nil {
				t.Fatal(err)
			}
		}
		rt := sink.NewRouter(zerolog.Nop())
		rt.SetSealing(sink.Sealing{Instance: "run-1", Record: sealRecord})
		rt.Add(fs, o)
		rt.Start(context.Background())
		for i := 1; i <= 180; i++ {
			r := numbered(uint64(i), fmt.Sprintf("/d/f%d", i))
			r.Host.Name, r.ID = "h", fmt.Sprint("id-", i)
			rt.Publish(r)
			if i == 120 {
				// A log rotator moves the file away and signals.
				time.Sleep(50 * time.Millisecond)
				os.Rename(path, path+".moved")
				if err := fs.Reopen(); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(time.Millisecond)
		}
		rt.Close()
		names, _ := filepath.Glob(path + ".*")
		names = append(names, path)
		files := 0
		for _, n := range names {
			data, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if len(data) > 2*maxBytes {
				t.Errorf("spooled %v: %s holds %d bytes, past the limit", spooled, n, len(data))
			}
			var first record.Record
			if err := record.ParseJSON([]byte(lines[0]), &first); err != nil {
				t.Fatal(err)
			}
			if first.Action != record.ActionSeal || (first.FSAudit.Seal.Reason != chain.SealRotate && first.FSAudit.Seal.Reason != chain.SealStart) {
				t.Errorf("spooled %v: %s starts with %s", spooled, n, lines[0])
				continue
			}
			files++
			v := chain.NewVerifier(nil, nil)
			for i, l := range lines {
				if err := v.Line(fmt.Sprintf("%s:%d", n, i+1), []byte(l)); err != nil {
					t.Errorf("spooled %v: %v", spooled, err)
					break
				}
			}
			if first.FSAudit.Seal.Reason == chain.SealRotate && (len(v.Notes) == 0 || !strings.Contains(v.Notes[0], "earlier files not given")) {
				t.Errorf("spooled %v: %s: notes %q", spooled, n, v.Notes)
			}
			// Its first line cut, a file no longer verifies.
			if len(lines) > 2 {
				v := chain.NewVerifier(nil, nil)
				if err := v.Line("cut", []byte(lines[1])); err == nil || !strings.Contains(err.Error(), "the head is missing") {
					t.Errorf("spooled %v: %s without its first line: %v", spooled, n, err)
				}
			}
		}
		if files < 4 {
			t.Errorf("spooled %v: %d files, want the output rotated several times and moved once", spooled, files)
		}
	}
}
