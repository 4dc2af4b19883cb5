package record

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fsaudit/fsaudit/internal/cef"
)

var product = Product{Name: "fsaudit", Version: "1.2.3"}

// hostile names: each tries to end a record, open a second one, or break
// a field of some format.
var hostile = []string{
	"plain.txt",
	"new\nline", "cr\rreturn", "nul\x00byte", "tab\tbed",
	`quote"d`, `back\slash`, `pipe|d`, `eq=uals`, `brack]et`, `[sd@1 x="y"]`,
	"\xff\xfeinvalid", "\u2028sep", "\x1b[31mred",
	"x\n{\"event\":{\"action\":\"forged\"}}",
	"a\\nb", "x act=delete filePath=/etc/shadow",
	"CEF:0|evil|evil|1|x|y|10|",
}

// sanitized is what a format without escapes for control characters keeps.
// sanitized is what a CEF value reads as once parsed: every character as
// it is (CR and LF come back from their escapes), but C0 controls, DEL and
// bytes that are not UTF-8, which become U+FFFD.
func sanitized(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteRune(utf8.RuneError)
		case r == '\n' || r == '\r':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestFormatsNeverBreakFraming(t *testing.T) {
	for _, name := range Formats {
		f, err := NewFormat(name, product)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hostile {
			r := sample()
			r.File.Path, r.File.Name = "/d/"+h, h
			r.Process.Name, r.Process.Args, r.Process.Executable = h, []string{h, h}, "/bin/"+h
			r.Container = Container{ID: strings.Repeat("a", 64), Runtime: "docker", Name: h, ImageName: h}
			r.Orchestrator = Orchestrator{Namespace: h, ResourceName: h, ResourceID: "u"}
			out := f.Append(nil, r)
			if bytes.ContainsAny(out, "\r\n\x00") {
				t.Errorf("%s: %q: raw CR, LF or NUL in %q", name, h, out)
			}
			if !utf8.Valid(out) {
				t.Errorf("%s: %q: output is not UTF-8", name, h)
			}
			switch name {
			case "json", "ocsf":
				var m map[string]any
				if err := json.Unmarshal(out, &m); err != nil {
					t.Errorf("%s: %q: invalid JSON: %v", name, h, err)
				}
			case "cef":
				ext := parseCEF(t, string(out))
				if want := sanitized("/d/" + h); ext["filePath"] != want {
					t.Errorf("cef: %q: filePath %q, want %q", h, ext["filePath"], want)
				}
				if ext["act"] != "write" || ext["fname"] != sanitized(h) || ext["sproc"] != sanitized(h) {
					t.Errorf("cef: %q: act %q fname %q sproc %q", h, ext["act"], ext["fname"], ext["sproc"])
				}
			}
		}
	}
}

func parseCEF(t *testing.T, line string) map[string]string {
	t.Helper()
	_, ext, err := cef.Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	return ext
}

func TestOCSFGolden(t *testing.T) {
	r := sample()
	r.Container = Container{ID: "c1", Runtime: "containerd", Name: "app", ImageName: "shop/app:2"}
	r.Orchestrator = Orchestrator{Namespace: "shop", ResourceName: "web-0", ResourceID: "u1"}
	r.Process.Executable, r.Process.Args = "/usr/bin/vim", []string{"vim", "notes.txt"}
	got := string(OCSF{Product: product}.Append(nil, r))
	want := `{"class_uid":1001,"class_name":"File System Activity","category_uid":1,"category_name":"System Activity","activity_id":3,"activity_name":"Update","type_uid":100103,"type_name":"File System Activity: Update","severity_id":1,"severity":"Informational","status_id":1,"status":"Success","time":1795636800000,"time_dt":"2026-11-25T20:00:00.000000005Z",` +
		`"metadata":{"version":"1.3.0","profiles":["datetime"],"uid":"0011223344556677-0000000000000001","sequence":1,"product":{"name":"fsaudit","vendor_name":"fsaudit","version":"1.2.3"}},` +
		`"device":{"hostname":"web-1","type_id":0,"type":"Unknown"},` +
		`"actor":{"process":{"pid":100,"tid":101,"name":"vim","file":{"path":"/usr/bin/vim","name":"vim","parent_folder":"/usr/bin","type_id":1,"type":"Regular File"},"cmd_line":"vim notes.txt","parent_process":{"pid":1},"user":{"uid":"0","name":"root"},"container":{"uid":"c1","name":"app","image":{"name":"shop/app:2"},"runtime":"containerd","orchestrator":"kubernetes","pod_uuid":"u1"}},"user":{"uid":"1000","name":"ann"}},` +
		`"file":{"path":"/home/ann/notes.txt","name":"notes.txt","parent_folder":"/home/ann","type_id":1,"type":"Regular File","uid":"254:1:42"},` +
		`"unmapped":{"fsaudit":{"hook":"tracepoint","bytes":12,"writes":1,"offset":7,"event_action":"write"},"host":{"boot":{"id":"b00t"}},"user":{"audit":{"id":"1000","name":"ann"}},"orchestrator":{"namespace":"shop","resource":{"type":"pod","name":"web-0"}}}}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	r = &Record{Time: sample().Time, Action: ActionLost, ID: "x", Sequence: 9, Host: Host{Name: "h"}, FSAudit: FSAudit{Lost: 17}}
	var m map[string]any
	out := OCSF{Product: product}.Append(nil, r)
	if err := json.Unmarshal(out, &m); err != nil || m["activity_name"] != "Lost" || m["type_name"] != "File System Activity: Other" || m["type_uid"] != float64(100199) || m["actor"] != nil {
		t.Errorf("lost record: %s (%v)", out, err)
	}
}

func TestCEFGolden(t *testing.T) {
	r := sample()
	r.File.Path = `/srv/a=b|c\d`
	r.File.Name = `a=b|c\d`
	got := string(CEF{Product: product}.Append(nil, r))
	want := `CEF:0|fsaudit|fsaudit|1.2.3|write|File written|3|rt=1795636800000 externalId=0011223344556677-0000000000000001 cn2=1 cn2Label=sequence dvchost=web-1 act=write outcome=success cat=file ` +
		`filePath=/srv/a\=b|c\\d fname=a\=b|c\\d fileId=42 fileType=file filePermission=640 spid=100 sproc=vim suid=1000 suser=ann cn1=12 cn1Label=bytes cn3=1 cn3Label=writes cs6=1000 ann cs6Label=loginUser`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	lost := string(CEF{Product: product}.Append(nil, &Record{Time: sample().Time, Action: ActionLost, ID: "x", Sequence: 9, Host: Host{Name: "h"}, FSAudit: FSAudit{Lost: 17}}))
	if want := `CEF:0|fsaudit|fsaudit|1.2.3|lost|Audit events lost|7|rt=1795636800000 externalId=x cn2=9 cn2Label=sequence dvchost=h act=lost outcome=unknown cat=audit cn1=17 cn1Label=lost`; lost != want {
		t.Errorf("lost: got\n%s\nwant\n%s", lost, want)
	}
}

// FuzzFormats: whatever the names, no format writes a raw line break or
// NUL, JSON-based ones stay valid JSON, and CEF parses back to the name.
func FuzzFormats(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, h)
	}
	f.Fuzz(func(t *testing.T, name, comm string) {
		r := sample()
		r.File.Path, r.File.Name, r.Process.Name = "/d/"+name, name, comm
		for _, fname := range Formats {
			fm, _ := NewFormat(fname, product)
			out := fm.Append(nil, r)
			if bytes.ContainsAny(out, "\r\n\x00") || !utf8.Valid(out) {
				t.Fatalf("%s: raw break or invalid UTF-8: %q", fname, out)
			}
			if fname == "cef" {
				ext := parseCEF(t, string(out))
				if ext["fname"] != sanitized(name) || ext["sproc"] != sanitized(comm) {
					t.Fatalf("cef: fname %q sproc %q from %q %q", ext["fname"], ext["sproc"], name, comm)
				}
			} else if !json.Valid(out) {
				t.Fatalf("%s: invalid JSON %q", fname, out)
			}
		}
	})
}

// A rename names in filePath and fname the file as it is after it, the
// old path and name in oldFilePath and oldFileName; a path longer than
// the dictionary's 1023 characters is cut, ends in "…" and is flagged.
func TestCEFRenameAndLongPaths(t *testing.T) {
	r := sample()
	r.Action, r.File.Path, r.File.Name, r.File.TargetPath = ActionRename, "/a/old é", "old é", "/b/new\u2028x"
	ext := parseCEF(t, string(CEF{Product: product}.Append(nil, r)))
	for k, want := range map[string]string{"filePath": "/b/new\u2028x", "fname": "new\u2028x", "oldFilePath": "/a/old é", "oldFileName": "old é", "outcome": "success", "cat": "file"} {
		if ext[k] != want {
			t.Errorf("%s = %q, want %q", k, ext[k], want)
		}
	}
	long := "/" + strings.Repeat("ü", 1500)
	r = sample()
	r.File.Path, r.File.Name = long, long[1:]
	ext = parseCEF(t, string(CEF{Product: product}.Append(nil, r)))
	if p := ext["filePath"]; utf8.RuneCountInString(p) != 1023 || !strings.HasSuffix(p, "…") || !strings.HasPrefix(long, strings.TrimSuffix(p, "…")) {
		t.Errorf("filePath of %d characters: %d, %q...", utf8.RuneCountInString(long), utf8.RuneCountInString(p), p[:20])
	}
	if !strings.Contains(ext["flexString1"], "path_cut") {
		t.Errorf("flags %q lack path_cut", ext["flexString1"])
	}
}

// A file type OCSF has no name for is 0 Unknown (99 Other would say it
// is one OCSF knows of and fsaudit named otherwise).
func TestOCSFUnknownFileType(t *testing.T) {
	if id, name := ocsfFileType(0o030644); id != 0 || name != "Unknown" {
		t.Errorf("unknown type: %d %s", id, name)
	}
	if id, name := ocsfFileType(0o120777); id != 7 || name != "Symbolic Link" {
		t.Errorf("symlink: %d %s", id, name)
	}
}
