package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fsaudit/fsaudit/internal/cef"
)

// PKI is a test certificate authority and one server certificate for
// 127.0.0.1 and localhost, as PEM files.
type PKI struct {
	CA, Cert, Key string
}

func writePKI(t testing.TB, dir string) PKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fsaudit test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := PKI{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server.key")}
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{p.CA, "CERTIFICATE", caDER}, {p.Cert, "CERTIFICATE", der}, {p.Key, "PRIVATE KEY", keyDER}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// freePorts reserves n loopback TCP ports (and, for the first, its UDP
// twin is assumed free too) for a server started right after.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// hostileNames are file names that try to end a record, start a forged
// one, or break a field, in every format and framing.
var hostileNames = []string{
	"plain.txt",
	"new\nline.txt",
	"cr\rreturn.txt",
	`quo"te.txt`,
	`brack]et.txt`,
	`back\slash.txt`,
	`pi|pe.txt`,
	`eq=ual.txt`,
	"bad\xff\xfeutf8.txt",
	"tab\tand\x1bescape.txt",
	"x\n<13>1 2026-01-01T00:00:00Z forged fsaudit 1 write - forged.txt",
	"61 <13>1 2026-01-01T00:00:00Z forged fsaudit 1 write - x.txt",
	`x] [fsaudit@32473 path="forged"].txt`,
	"CEF:0|evil|evil|1|delete|x|10|act=delete filePath=%2Fetc%2Fshadow.txt",
	`{"event":{"action":"delete"}}.txt`,
	"café ünïcode.txt",
}

// rsyslogdReceiver runs rsyslogd on loopback with one input per sink under
// test; each input writes what it parsed (and the raw message) as JSON
// lines to its own file.
type rsyslogdReceiver struct {
	dir   string
	ports map[string]int // input name -> port
	start func()         // (re)starts rsyslogd on the same config
	stop  func()
}

func startRsyslogd(t *testing.T, pki PKI) *rsyslogdReceiver {
	t.Helper()
	bin := requireTool(t, "rsyslogd")
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("rsyslog's TLS driver is missing (Debian package rsyslog-gnutls); scripts/test installs it")
		}
		t.Skip("rsyslog's TLS driver is missing (Debian package rsyslog-gnutls)")
	}
	dir, err := os.MkdirTemp("", "fsaudit-rsyslog-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.MkdirAll(filepath.Join(dir, "work"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t, 4)
	r := &rsyslogdReceiver{dir: dir, ports: map[string]int{"udp": p[0], "tcp": p[1], "tls": p[2], "tcp3164": p[3]}}
	var conf strings.Builder
	fmt.Fprintf(&conf, `global(workDirectory=%q maxMessageSize="64k"
  defaultNetstreamDriverCAFile=%q defaultNetstreamDriverCertFile=%q defaultNetstreamDriverKeyFile=%q)
module(load="imudp")
module(load="imtcp" maxSessions="100")
template(name="parsed" type="list") {
  constant(value="{")
  property(outname="pri" name="pri" format="jsonf") constant(value=",")
  property(outname="hostname" name="hostname" format="jsonf") constant(value=",")
  property(outname="app" name="app-name" format="jsonf") constant(value=",")
  property(outname="procid" name="procid" format="jsonf") constant(value=",")
  property(outname="msgid" name="msgid" format="jsonf") constant(value=",")
  property(outname="sd" name="structured-data" format="jsonf") constant(value=",")
  property(outname="msg" name="msg" format="jsonf") constant(value=",")
  property(outname="raw" name="rawmsg" format="jsonf")
  constant(value="}\n")
}
input(type="imudp" address="127.0.0.1" port="%d" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="tls" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="tcp3164")
`, filepath.Join(dir, "work"), pki.CA, pki.Cert, pki.Key, p[0], p[1], p[2], p[3])
	for name := range r.ports {
		fmt.Fprintf(&conf, "ruleset(name=%q) { action(type=\"omfile\" file=%q template=\"parsed\") }\n", name, r.out(name))
	}
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start = func() {
		r.stop = daemonTCP(t, "127.0.0.1:"+strconv.Itoa(p[1]), bin, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	}
	r.start()
	return r
}

func (r *rsyslogdReceiver) out(input string) string { return filepath.Join(r.dir, input+".json") }

// received is one message as rsyslog parsed it.
type received struct {
	Pri, Hostname, App, Procid, Msgid, SD, Msg, Raw string
}

// body is the message's MSG: without the space after the header, and
// without the byte order mark RFC 5424 puts before a MSG in UTF-8 (which
// rsyslog keeps).
func (m received) body() string {
	return strings.TrimPrefix(strings.TrimPrefix(m.Msg, " "), "\uFEFF")
}

// waitReceived waits until input's file holds n messages (seal records
// left out) and returns them.
func (r *rsyslogdReceiver) waitReceived(t *testing.T, input string, n int) []received {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(r.out(input))
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(data) == 0 {
			lines = nil
		}
		var out []received
		for i, l := range lines {
			var m received
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				if len(lines) >= n || time.Now().After(deadline) {
					t.Fatalf("%s line %d: rsyslog wrote no JSON: %v: %q", input, i+1, err, l)
				}
				break // a line still being written
			}
			if !isSeal(m.Msg) { // the sink's chain, not a file change
				out = append(out, m)
			}
		}
		if len(out) >= n || time.Now().After(deadline) {
			if len(out) != n {
				t.Fatalf("%s: rsyslog received %d messages, want %d:\n%s", input, len(out), n, data)
			}
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSyslogSinks runs the agent with a file sink and four syslog sinks
// to a real rsyslogd (UDP, TCP with octet counting, TLS with newline
// framing, and RFC 3164 over TCP), in the json, ocsf and cef formats, on a
// workload of hostile file names. Every receiver gets exactly the file
// sink's records, in order, each parsed by rsyslog into the right header
// fields and a message that decodes to the same record: no name can split
// a message or forge another.
func TestSyslogSinks(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	pki := writePKI(t, dir)
	rs := startRsyslogd(t, pki)

	work := tmpDir(t, "fsaudit-syslog-", 0)
	sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
	extra := fmt.Sprintf(`
[[sink]]
name = "udp"
type = "syslog"
address = "udp://127.0.0.1:%d"

[[sink]]
name = "tcp"
type = "syslog"
address = "tcp://127.0.0.1:%d"
enterprise_number = 4711

[[sink]]
name = "tls"
type = "syslog"
address = "tls://127.0.0.1:%d"
framing = "newline"
format = "ocsf"
tls_ca_file = %q

[[sink]]
name = "tcp3164"
type = "syslog"
address = "tcp://127.0.0.1:%d"
protocol = "rfc3164"
format = "cef"
facility = "audit"
severity = "info"
`, rs.ports["udp"], rs.ports["tcp"], rs.ports["tls"], pki.CA, rs.ports["tcp3164"])
	agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath, Extra: extra})
	for _, name := range hostileNames {
		sh(t, nil, `printf 'x' > "$1"`, filepath.Join(work, name))
	}
	records := agent.Stop()
	if len(records) != len(hostileNames) {
		t.Fatalf("file sink: %d records, want %d", len(records), len(hostileNames))
	}
	host, _ := os.Hostname()
	// The SD-ID's enterprise number: the tcp sink's own, else the default.
	sdPEN := func(input string) int {
		if input == "tcp" {
			return 4711
		}
		return 32473
	}

	for _, input := range []string{"udp", "tcp"} {
		got := rs.waitReceived(t, input, len(records))
		for i, m := range got {
			r := records[i]
			// RFC 5424 6.4: a MSG with bytes past US-ASCII is UTF-8, and
			// begins with a BOM (which rsyslog may keep in msg).
			msg := m.body()
			if unchained(msg) != unchained(r.Raw) {
				t.Errorf("%s message %d: rsyslog's msg\n%q\nis not the file sink's record\n%q", input, i, m.Msg, r.Raw)
			}
			if utf, bom := strings.ContainsFunc(r.Raw, func(c rune) bool { return c >= 0x80 }), strings.Contains(m.Raw, "] \uFEFF{"); utf != bom {
				t.Errorf("%s message %d: BOM %v, record in UTF-8 past ASCII %v: %q", input, i, bom, utf, m.Raw)
			}
			if m.Msgid != "write" || m.App != "fsaudit" || m.Hostname != host || m.Pri != "133" {
				t.Errorf("%s message %d: pri %s host %q app %q msgid %q; want 133 %q fsaudit write", input, i, m.Pri, m.Hostname, m.App, m.Msgid, host)
			}
			wantSD := fmt.Sprintf(`[fsaudit@%d id="%s" seq="%d" path="`, sdPEN(input), r.Event.ID, r.Event.Sequence)
			if !strings.HasPrefix(m.SD, wantSD) {
				t.Errorf("%s message %d: structured data %q, want it to start %q", input, i, m.SD, wantSD)
			}
		}
	}

	got := rs.waitReceived(t, "tls", len(records))
	for i, m := range got {
		var o struct {
			Metadata struct {
				UID      string `json:"uid"`
				Sequence uint64 `json:"sequence"`
			} `json:"metadata"`
			File struct {
				Path string `json:"path"`
				Name string `json:"name"`
			} `json:"file"`
			ClassUID int `json:"class_uid"`
		}
		if err := json.Unmarshal([]byte(m.body()), &o); err != nil {
			t.Errorf("tls message %d: not OCSF JSON: %v: %q", i, err, m.Msg)
			continue
		}
		r := records[i]
		if o.Metadata.UID != r.Event.ID || o.File.Path != r.File.Path || o.File.Name != r.File.Name || o.ClassUID != 1001 {
			t.Errorf("tls message %d: OCSF uid %s path %q name %q class %d; want %s %q %q 1001", i, o.Metadata.UID, o.File.Path, o.File.Name, o.ClassUID, r.Event.ID, r.File.Path, r.File.Name)
		}
	}

	got = rs.waitReceived(t, "tcp3164", len(records))
	for i, m := range got {
		r := records[i]
		if m.Pri != "110" || m.Hostname != host {
			t.Errorf("tcp3164 message %d: pri %s host %q; want 110 (audit.info) and %q", i, m.Pri, m.Hostname, host)
		}
		header, ext, err := cef.Parse(m.body())
		if err != nil {
			t.Errorf("tcp3164 message %d: %v", i, err)
			continue
		}
		if header[4] != "write" || ext["externalId"] != r.Event.ID || ext["filePath"] != cefView(r.File.Path) || ext["fname"] != cefView(r.File.Name) || ext["act"] != "write" {
			t.Errorf("tcp3164 message %d: header %q, externalId %q filePath %q fname %q act %q; want %s %q %q",
				i, header, ext["externalId"], ext["filePath"], ext["fname"], ext["act"], r.Event.ID, cefView(r.File.Path), cefView(r.File.Name))
		}
	}
}

// cefView is what CEF can carry of a string that JSON carried exactly:
// CR and LF survive as escapes, other control characters and U+FFFD stay
// U+FFFD.
func cefView(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029':
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestSyslogReceiverRestart: rsyslogd stops while the agent runs and comes
// back later on the same port; the TCP and the TLS sink notice the closed
// connection (TLS receivers close with an alert first), retry with growing
// pauses while nothing listens, reconnect, and every record arrives.
func TestSyslogReceiverRestart(t *testing.T) {
	requireRoot(t)
	for _, input := range []string{"tcp", "tls"} {
		t.Run(input, func(t *testing.T) {
			pki := writePKI(t, t.TempDir())
			rs := startRsyslogd(t, pki)
			work := tmpDir(t, "fsaudit-syslog-restart-", 0)
			sinkPath := filepath.Join(t.TempDir(), "audit.jsonl")
			extra := fmt.Sprintf("\n[[sink]]\nname = \"s\"\ntype = \"syslog\"\naddress = \"%s://127.0.0.1:%d\"\n", input, rs.ports[input])
			if input == "tls" {
				extra += fmt.Sprintf("tls_ca_file = %q\n", pki.CA)
			}
			agent := StartAgent(t, AgentConfig{Include: []string{work}, Sink: sinkPath, Extra: extra})
			write := func(from, to int) {
				for i := from; i < to; i++ {
					sh(t, nil, `printf x > "$1"`, filepath.Join(work, fmt.Sprint(i)))
				}
			}
			write(0, 10)
			rs.waitReceived(t, input, 10)
			rs.stop()
			write(10, 20) // nothing listens: the sink retries
			time.Sleep(time.Second)
			rs.start()
			write(20, 30)
			records := agent.Stop()
			if len(records) != 30 {
				t.Fatalf("file sink: %d records, want 30", len(records))
			}
			got := rs.waitReceived(t, input, 30)
			missing := 0
			for i, m := range got {
				if unchained(m.body()) != unchained(records[i].Raw) {
					t.Errorf("message %d is not the file sink's record %d:\n%s\n%s", i, i, m.Msg, records[i].Raw)
					missing++
				}
			}
			faultf(t, "rsyslogd restarted during a %s workload: %d records written, %d received, %d missing", input, len(records), len(got), missing)
			if log := agent.Log(); !strings.Contains(log, "sink write failed: trying again") || !strings.Contains(log, "sink took the batch after failures") {
				t.Errorf("the agent did not log the failure and the recovery:\n%s", log)
			}
		})
	}
}
