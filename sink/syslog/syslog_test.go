package syslog

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
)

func syslogRecord() *record.Record {
	return &record.Record{
		Time: time.Date(2026, 11, 26, 1, 2, 3, 456789123, time.UTC), Action: "write", ID: "id-1", Sequence: 7,
		File:    record.File{Path: `/srv/a "b"]\c`, Name: `a "b"]\c`, Directory: "/srv", Mode: 0o100644},
		Process: record.Process{PID: 42, TID: 42, Name: "sh", Executable: "/bin/sh"},
		User:    record.User{ID: 1000, Name: "ann"},
		Host:    record.Host{Name: "web 1"},
		FSAudit: record.FSAudit{Hook: "tracepoint", Bytes: 3, Writes: 1},
	}
}

func TestSyslogEncode(t *testing.T) {
	s := NewSink(Options{Name: "s", Network: "tcp", Protocol: "rfc5424", Facility: 16, Severity: 5, Format: record.JSON{}})
	s.pid = 99
	_, m := s.Encode(nil, syslogRecord())
	want := `<133>1 2026-11-26T01:02:03.456789Z web?1 fsaudit 99 write [fsaudit@32473 id="id-1" seq="7" path="/srv/a \"b\"\]\\c" pid="42" comm="sh" exe="/bin/sh" uid="1000" user="ann"] {"@timestamp"`
	if !strings.HasPrefix(string(m.Value), want) {
		t.Errorf("got\n%s\nwant prefix\n%s", m.Value, want)
	}
	s3164 := NewSink(Options{Name: "s", Network: "udp", Protocol: "rfc3164", Facility: 13, Severity: 6, Format: record.CEF{Product: record.Product{Name: "fsaudit", Version: "1"}}})
	s3164.pid = 99
	_, m = s3164.Encode(nil, syslogRecord())
	if want := `<110>Nov 26 01:02:03 web?1 fsaudit[99]: CEF:0|fsaudit|fsaudit|1|write|`; !strings.HasPrefix(string(m.Value), want) {
		t.Errorf("got\n%s\nwant prefix\n%s", m.Value, want)
	}
	lost := &record.Record{Time: time.Unix(0, 0), Action: record.ActionLost, ID: "x", Sequence: 1, Host: record.Host{Name: "h"}, FSAudit: record.FSAudit{Lost: 3}}
	_, m = s.Encode(nil, lost)
	if want := `<132>1 1970-01-01T00:00:00.000000Z h fsaudit 99 lost [fsaudit@32473 id="x" seq="1" lost="3"] `; !strings.HasPrefix(string(m.Value), want) {
		t.Errorf("lost record: got\n%s\nwant prefix (at warning)\n%s", m.Value, want)
	}
}

func TestSyslogTruncates(t *testing.T) {
	for _, proto := range []string{"rfc5424", "rfc3164"} {
		s := NewSink(Options{Name: "s", Network: "udp", Protocol: proto, Facility: 16, Severity: 5, MaxMessageBytes: 1100, Format: record.JSON{}})
		r := syslogRecord()
		r.File.Path = "/" + strings.Repeat("ż", 2000)
		_, m := s.Encode(nil, r)
		if len(m.Value) > 1100 || len(m.Value) < 1000 {
			t.Errorf("%s: %d bytes, want at most 1100 and not much less", proto, len(m.Value))
		}
		if !utf8Valid(m.Value) {
			t.Errorf("%s: cut inside a character", proto)
		}
		switch proto {
		case "rfc5424":
			if !strings.Contains(string(m.Value), ` truncated="`) {
				t.Errorf("rfc5424: no truncated parameter: %s", m.Value)
			}
		case "rfc3164":
			if !strings.HasSuffix(string(m.Value), truncMark) {
				t.Errorf("rfc3164: no truncation mark: %s", m.Value)
			}
		}
	}
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "\x00") == string(b) }

// streamReceiver accepts connections and collects octet-counted frames.
type streamReceiver struct {
	l     net.Listener
	mu    sync.Mutex
	msgs  []string
	conns []net.Conn
}

// stop closes the listener and every accepted connection, as a receiver
// that goes down does.
func (r *streamReceiver) stop() {
	r.l.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
}

func newStreamReceiver(t *testing.T, addr string) *streamReceiver {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &streamReceiver{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			go r.serve(c)
		}
	}()
	return r
}

func (r *streamReceiver) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		n, err := br.ReadString(' ')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil {
			return
		}
		msg := make([]byte, size)
		if _, err := io.ReadFull(br, msg); err != nil {
			return
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, string(msg))
		r.mu.Unlock()
	}
}

func (r *streamReceiver) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.msgs) }

// A receiver that restarts: the sink finds the closed connection, says so,
// and the next write reconnects; nothing is lost once it is back.
func TestSyslogReconnects(t *testing.T) {
	recv := newStreamReceiver(t, "127.0.0.1:0")
	addr := recv.l.Addr().String()
	s := NewSink(Options{Name: "s", Network: "tcp", Address: addr, Protocol: "rfc5424", Facility: 16, Severity: 5, Format: record.JSON{}})
	defer s.Close()
	ctx := context.Background()
	send := func() error {
		_, m := s.Encode(nil, syslogRecord())
		return s.Write(ctx, []sink.Message{m})
	}
	if err := send(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return recv.count() == 1 })
	recv.stop()
	time.Sleep(50 * time.Millisecond)
	// Down: the sink sees the closed connection and cannot dial.
	if err := send(); err == nil {
		t.Error("write to a stopped receiver reported success")
	}
	recv2 := newStreamReceiver(t, addr)
	defer recv2.stop()
	var err error
	for range 20 {
		if err = send(); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no reconnect: %v", err)
	}
	waitFor(t, func() bool { return recv2.count() == 1 })
	if recv.count() != 1 {
		t.Errorf("the first receiver got %d messages, want 1", recv.count())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSyslogDeadReceiver(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := NewSink(Options{Name: "s", Network: "tcp", Address: addr, Protocol: "rfc5424", Format: record.JSON{}})
	_, m := s.Encode(nil, syslogRecord())
	err = s.Write(context.Background(), []sink.Message{m})
	if err == nil || !strings.Contains(err.Error(), "connecting to tcp://"+addr) {
		t.Errorf("error %v, want one naming the connection", err)
	}
}

// RFC 5424: a MSG in UTF-8 starts with a BOM, one in US-ASCII needs none,
// and RFC 3164 has no such thing; a message cut to fit keeps it. The
// SD-ID carries the configured enterprise number.
func TestSyslogBOMAndSDID(t *testing.T) {
	ascii := syslogRecord()
	utf := syslogRecord()
	utf.File.Path, utf.File.Name = "/srv/café", "café"
	for _, tc := range []struct {
		name     string
		o        Options
		r        *record.Record
		bom, cut bool
	}{
		{"ascii", Options{Protocol: "rfc5424"}, ascii, false, false},
		{"utf-8", Options{Protocol: "rfc5424"}, utf, true, false},
		{"utf-8 cut", Options{Protocol: "rfc5424", MaxMessageBytes: 1024}, withArgs(utf, 2000), true, true},
		{"rfc3164", Options{Protocol: "rfc3164"}, utf, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Name, tc.o.Network, tc.o.Format, tc.o.EnterpriseNumber = "s", "tcp", record.JSON{}, 4711
			_, m := NewSink(tc.o).Encode(nil, tc.r)
			v := string(m.Value)
			_, msg, _ := strings.Cut(v, "] ")
			if tc.o.Protocol == "rfc3164" {
				_, msg, _ = strings.Cut(v, "]: ")
			}
			if got := strings.HasPrefix(msg, bom); got != tc.bom {
				t.Errorf("BOM %v, want %v: %q", got, tc.bom, v[:min(len(v), 200)])
			}
			if strings.Count(v, bom) > 1 {
				t.Errorf("more than one BOM")
			}
			if tc.cut != strings.Contains(v, ` truncated="`) || len(v) > max(tc.o.MaxMessageBytes, 1024) && tc.cut {
				t.Errorf("cut %v, %d bytes", tc.cut, len(v))
			}
			if tc.o.Protocol == "rfc5424" && !strings.Contains(v, " [fsaudit@4711 id=") {
				t.Errorf("SD-ID: %q", v[:min(len(v), 200)])
			}
		})
	}
}

// withArgs gives r an argv of n bytes, to make its record long.
func withArgs(r *record.Record, n int) *record.Record {
	c := *r
	c.Process.Args = []string{strings.Repeat("a", n)}
	return &c
}
