package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func sample() *Record {
	return &Record{
		Time:     time.Date(2026, 11, 25, 21, 0, 0, 5, time.FixedZone("x", 3600)),
		Action:   ActionWrite,
		ID:       "0011223344556677-0000000000000001",
		Sequence: 1,
		Created:  time.Date(2026, 11, 25, 20, 0, 0, 9, time.UTC),
		File: File{
			Path: "/home/ann/notes.txt", Name: "notes.txt", Directory: "/home/ann",
			Inode: 42, DevMajor: 254, DevMinor: 1, Mode: 0o100640,
		},
		Process: Process{PID: 100, TID: 101, PPID: 1, EntityID: "b00t-100-77", Name: "vim"},
		User: User{
			ID: 1000, Name: "ann", EffectiveID: 0, EffectiveName: "root", GroupID: 1000, GroupName: "ann",
			HasAudit: true, AuditID: 1000, AuditName: "ann",
		},
		Host:    Host{Name: "web-1", ID: "m1", BootID: "b00t"},
		Agent:   Agent{Version: "1.2.3", ID: "a1", EphemeralID: "0011223344556677"},
		FSAudit: FSAudit{Hook: "tracepoint", Bytes: 12, Writes: 1, Offset: 7},
	}
}

func TestAppendJSONGolden(t *testing.T) {
	got := string(AppendJSON(nil, sample()))
	want := `{"@timestamp":"2026-11-25T20:00:00.000000005Z","ecs":{"version":"9.4.0"},` +
		`"event":{"action":"write","category":["file"],"type":["change"],"kind":"event","outcome":"success","module":"fsaudit","dataset":"fsaudit.file","id":"0011223344556677-0000000000000001","sequence":1,"created":"2026-11-25T20:00:00.000000009Z"},` +
		`"file":{"path":"/home/ann/notes.txt","name":"notes.txt","directory":"/home/ann","extension":"txt","inode":"42","device":"254:1","mode":"0640","type":"file"},` +
		`"process":{"pid":100,"entity_id":"b00t-100-77","thread":{"id":101},"name":"vim","parent":{"pid":1}},` +
		`"user":{"id":"1000","name":"ann","effective":{"id":"0","name":"root"},"group":{"id":"1000","name":"ann"},"audit":{"id":"1000","name":"ann"}},` +
		`"host":{"name":"web-1","id":"m1","boot":{"id":"b00t"}},"agent":{"type":"fsaudit","version":"1.2.3","id":"a1","ephemeral_id":"0011223344556677"},` +
		`"related":{"user":["ann","root"],"hosts":["web-1"]},` +
		`"fsaudit":{"hook":"tracepoint","bytes":12,"writes":1,"offset":7}}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAppendJSONOptionalFields(t *testing.T) {
	r := sample()
	r.User = User{ID: 4242, EffectiveID: 4242, GroupID: 4242} // no names, no login uid
	r.FSAudit.PathTruncated = true
	r.FSAudit.Deleted = true
	r.FSAudit.Links = 2
	r.FSAudit.HostPath = "/var/lib/x/notes.txt"
	r.FSAudit.Incomplete = []string{"user_names", "process"}
	var m map[string]any
	if err := json.Unmarshal(AppendJSON(nil, r), &m); err != nil {
		t.Fatal(err)
	}
	user := m["user"].(map[string]any)
	if _, ok := user["name"]; ok {
		t.Error("user.name present for an unknown id")
	}
	if _, ok := user["audit"]; ok {
		t.Error("user.audit present without a login uid")
	}
	fs := m["fsaudit"].(map[string]any)
	if fs["path_truncated"] != true || fs["deleted"] != true || fs["links"] != 2.0 || fs["host_path"] != "/var/lib/x/notes.txt" ||
		fmt.Sprint(fs["incomplete"]) != "[user_names process]" {
		t.Errorf("fsaudit = %v", fs)
	}
}

func TestAppendJSONLost(t *testing.T) {
	r := &Record{Time: time.Unix(0, 0), Action: ActionLost, ID: "x", Sequence: 9, Host: Host{Name: "h"}, FSAudit: FSAudit{Lost: 17}}
	got := string(AppendJSON(nil, r))
	want := `{"@timestamp":"1970-01-01T00:00:00.000000000Z","ecs":{"version":"9.4.0"},"event":{"action":"lost","category":["file"],"type":["info"],"kind":"event","outcome":"unknown","module":"fsaudit","dataset":"fsaudit.file","id":"x","sequence":9},"host":{"name":"h"},"agent":{"type":"fsaudit"},"related":{"hosts":["h"]},"fsaudit":{"lost":17}}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`quo"te`, `"quo\"te"`},
		{`back\slash`, `"back\\slash"`},
		{"new\nline", `"new\nline"`},
		{"cr\rtab\t", `"cr\rtab\t"`},
		{"nul\x00esc\x1bdel\x7f", `"nul\u0000esc\u001bdel\u007f"`},
		{"ünïcødé ☃", `"ünïcødé ☃"`},
		{"line\u2028para\u2029", `"line\u2028para\u2029"`},
		{"bad\xffutf8\xc3", "\"bad\uFFFDutf8\uFFFD\""},
		{`"}` + "\n" + `{"event":{"action":"forged"}}`, `"\"}\n{\"event\":{\"action\":\"forged\"}}"`},
	}
	for _, tc := range tests {
		if got := string(appendString(nil, tc.in)); got != tc.want {
			t.Errorf("appendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzAppendJSON: whatever the file and command names, the output is one
// line of valid JSON whose strings decode to the input (when it is UTF-8).
func FuzzAppendJSON(f *testing.F) {
	f.Add("notes.txt", "vim")
	f.Add("a\nb\"c\\", "x\x00y")
	f.Add("\xff\xfe", "\u2028")
	f.Fuzz(func(t *testing.T, name, comm string) {
		r := sample()
		r.File.Name = name
		r.File.Path = "/d/" + name
		r.Process.Name = comm
		out := AppendJSON(nil, r)
		if bytes.ContainsAny(out, "\r\n") {
			t.Fatalf("record is not one line: %q", out)
		}
		var m struct {
			File struct {
				Name string `json:"name"`
			} `json:"file"`
			Process struct {
				Name string `json:"name"`
			} `json:"process"`
		}
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		if utf8.ValidString(name) && m.File.Name != name {
			t.Errorf("file.name = %q, want %q", m.File.Name, name)
		}
		if utf8.ValidString(comm) && m.Process.Name != comm {
			t.Errorf("process.name = %q, want %q", m.Process.Name, comm)
		}
		if !utf8.ValidString(name) && !strings.Contains(m.File.Name, "\ufffd") {
			t.Errorf("invalid UTF-8 %q not marked: %q", name, m.File.Name)
		}
		// The exact bytes come back: no two names make one record.
		var back Record
		if err := ParseJSON(out, &back); err != nil {
			t.Fatalf("read back: %v: %s", err, out)
		}
		if back.File.Name != name || back.File.Path != "/d/"+name || back.Process.Name != comm {
			t.Errorf("read back %q %q, want %q %q", back.File.Name, back.Process.Name, name, comm)
		}
	})
}

func TestRawBytesAndQuotedArgs(t *testing.T) {
	a, b := sample(), sample()
	a.File.Path, b.File.Path = "/d/\xff", "/d/\xfe"
	a.Process.Args, b.Process.Args = []string{"cp", "x\xff"}, []string{"cp", "x\xfe"}
	ja, jb := AppendJSON(nil, a), AppendJSON(nil, b)
	if bytes.Equal(ja, jb) {
		t.Fatal("two names that are not UTF-8 make one record")
	}
	if !bytes.Contains(ja, []byte(`"raw_bytes":{"file.path":"L2Qv/w==","process.args.1":"eP8="}`)) {
		t.Errorf("raw_bytes: %s", ja)
	}
	// raw_bytes that do not match the field they keep are refused.
	for _, bad := range [][]byte{
		bytes.Replace(ja, []byte(`"raw_bytes":{"file.path":"L2Qv/w=="`), []byte(`"raw_bytes":{"file.path":"L2Uv/w=="`), 1),
		bytes.Replace(ja, []byte(`"raw_bytes":{`), []byte(`"raw_bytes":{"fsaudit.xattr.name":"/w==",`), 1),
		bytes.Replace(ja, []byte(`"raw_bytes":{"file.path":"L2Qv/w=="`), []byte(`"raw_bytes":{"file.path":"L2Qv"`), 1),
	} {
		var r Record
		if err := ParseJSON(bad, &r); err == nil {
			t.Errorf("inconsistent raw_bytes read: %s", bad)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"a b"}, `'a b'`},
		{[]string{"a", "b"}, `a b`},
		{[]string{"rm", "-rf", "it's", ""}, `rm -rf 'it'\''s' ''`},
		{[]string{"--x=/a/b,c:d@e%f+g"}, `--x=/a/b,c:d@e%f+g`},
		{[]string{"$(id)", "a;b"}, `'$(id)' 'a;b'`},
	} {
		if got := QuoteArgs(tc.args); got != tc.want {
			t.Errorf("QuoteArgs(%q) = %s, want %s", tc.args, got, tc.want)
		}
	}
	o := sample()
	o.Process.Args = []string{"a b"}
	one := string(OCSF{}.Append(nil, o))
	o.Process.Args = []string{"a", "b"}
	two := string(OCSF{}.Append(nil, o))
	if one == two || !strings.Contains(one, `"cmd_line":"'a b'"`) {
		t.Errorf("OCSF cmd_line does not tell [\"a b\"] from [\"a\",\"b\"]:\n%s\n%s", one, two)
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	r := sample()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendJSON(buf[:0], r)
	}
	b.SetBytes(int64(len(buf)))
}

func TestAppendJSONContainer(t *testing.T) {
	r := sample()
	r.Container = Container{ID: "abc", Runtime: "containerd", Name: "web", ImageName: "nginx:1"}
	r.Orchestrator = Orchestrator{Namespace: "prod", ResourceName: "web-0", ResourceID: "uid-1"}
	out := string(AppendJSON(nil, r))
	want := `"container":{"id":"abc","runtime":"containerd","name":"web","image":{"name":"nginx:1"}},"orchestrator":{"namespace":"prod","resource":{"type":"pod","name":"web-0","id":"uid-1"}},"host":`
	if !strings.Contains(out, want) {
		t.Errorf("got %s\nwant it to contain %s", out, want)
	}
	r.Container = Container{ID: "abc"}
	r.Orchestrator = Orchestrator{}
	out = string(AppendJSON(nil, r))
	if !strings.Contains(out, `"container":{"id":"abc"},"host":`) || strings.Contains(out, "orchestrator") {
		t.Errorf("minimal container: %s", out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
}

// A record of writes merged in the kernel spans a time: every format says
// when the first and the last were.
func TestCoalescedTimes(t *testing.T) {
	r := sample()
	r.End = r.Time.Add(1500 * time.Millisecond)
	r.FSAudit.Writes, r.FSAudit.Bytes = 3, 30
	start, end := r.Time.UnixMilli(), r.End.UnixMilli()
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"json", []string{`"start":"` + r.Time.UTC().Format("2006-01-02T15:04:05.000000000Z") + `"`,
			`"end":"` + r.End.UTC().Format("2006-01-02T15:04:05.000000000Z") + `"`, `"writes":3`}},
		{"ocsf", []string{fmt.Sprintf(`"start_time":%d,"end_time":%d`, start, end)}},
		{"cef", []string{fmt.Sprintf(" start=%d end=%d ", start, end)}},
	} {
		f, err := NewFormat(tc.format, Product{Name: "fsaudit"})
		if err != nil {
			t.Fatal(err)
		}
		got := string(f.Append(nil, r))
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %s lacks %s", tc.format, got, w)
			}
		}
	}
	one := sample()
	if got := string(AppendJSON(nil, one)); strings.Contains(got, `"end"`) {
		t.Errorf("a record of one write has an end: %s", got)
	}
}

// AppendChained makes, from a record's canonical encoding and a chain,
// exactly what AppendJSON makes of the record with that chain.
func TestAppendChained(t *testing.T) {
	lost := &Record{Time: sample().Time, Action: ActionLost, ID: "x", Sequence: 9, Host: Host{Name: "h"}, FSAudit: FSAudit{Lost: 17}}
	merged := sample()
	merged.End = merged.Time.Add(time.Second)
	hostile := sample()
	hostile.File.Path, hostile.Process.Name = "/d/\"}}\n\\", "}}"
	c := Chain{Prev: strings.Repeat("0", 64), Hash: strings.Repeat("ab", 32)}
	for _, r := range []*Record{sample(), lost, merged, hostile} {
		canonical := AppendJSON(nil, r)
		withChain := *r
		withChain.FSAudit.Chain = c
		if got, want := AppendChained([]byte("x"), canonical, c), append([]byte("x"), AppendJSON(nil, &withChain)...); !bytes.Equal(got, want) {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	}
}
