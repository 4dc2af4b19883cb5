// Package syslog owns the syslog sink: records as RFC 5424 or RFC 3164
// messages over UDP, TCP or TLS (RFC 5425), and its [[sink]] keys.
package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/fsaudit/fsaudit/record"
	"github.com/fsaudit/fsaudit/sink"
)

// Options configure a syslog sink.
type Options struct {
	Name     string
	Network  string // udp, tcp or tls
	Address  string // HOST:PORT
	Protocol string // rfc5424 or rfc3164
	// Framing of a stream (tcp, tls): "octet-counting" (RFC 6587, the
	// default) or "newline". UDP sends one message per datagram.
	Framing  string
	Facility int // 0 to 23
	Severity int // 0 to 7; lost records are sent at warning (4) or more severe
	// MaxMessageBytes bounds one message; a longer record is cut and marked.
	MaxMessageBytes int
	// EnterpriseNumber is N of the SD-ID fsaudit@N (RFC 5424 7.2.2);
	// 0: DefaultEnterpriseNumber.
	EnterpriseNumber int
	TLS              *tls.Config // for tls
	Format           record.Format
	DialTimeout      time.Duration // default 5s
	WriteTimeout     time.Duration // default 10s
}

// DefaultEnterpriseNumber is the private enterprise number of the SD-ID
// fsaudit@N when the config names none: 32473, which RFC 5612 sets aside
// for documentation and examples. fsaudit has no number of its own; a site
// with one (from IANA) sets enterprise_number, so that its SD-IDs are its
// own.
const DefaultEnterpriseNumber = 32473

// bom is the byte order mark RFC 5424 (6.4) puts before a MSG in UTF-8.
const bom = "\xEF\xBB\xBF"

// Sink sends records to a syslog receiver over UDP, TCP or TLS (RFC 5425).
// A batch is acknowledged once the kernel took all of it (TCP, TLS) or every
// datagram was sent (UDP, which has no acknowledgement at all).
type Sink struct {
	opts Options
	pid  int

	mu     sync.Mutex
	conn   net.Conn
	tooBig uint64       // UDP datagrams too big to send at all
	dead   *atomic.Bool // set by the connection's reader when the receiver closed it
	frame  []byte
}

var _ sink.Sink = (*Sink)(nil)

// NewSink returns a syslog sink; it connects on the first write.
func NewSink(o Options) *Sink {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 8192
	}
	if o.EnterpriseNumber <= 0 {
		o.EnterpriseNumber = DefaultEnterpriseNumber
	}
	if o.Network == "udp" {
		o.MaxMessageBytes = min(o.MaxMessageBytes, 65507)
	}
	if o.Network != "udp" && o.Framing == "" {
		o.Framing = "octet-counting"
	}
	return &Sink{opts: o, pid: os.Getpid()}
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return s.opts.Name }

// Encode implements sink.Sink: the record in the sink's format, as the MSG of a
// syslog message whose header names the action and whose STRUCTURED-DATA
// (RFC 5424) repeats the key fields.
func (s *Sink) Encode(buf []byte, r *record.Record) ([]byte, sink.Message) {
	start := len(buf)
	buf = s.appendHeader(buf, r, -1)
	head := len(buf) - start
	buf = s.opts.Format.Append(buf, r)
	// RFC 5424: a MSG in UTF-8 begins with a BOM; one of US-ASCII alone is
	// MSG-ANY and needs none.
	utf := s.opts.Protocol != "rfc3164" && !ascii(buf[start+head:])
	if utf {
		buf = append(buf, bom...)
		copy(buf[start+head+len(bom):], buf[start+head:len(buf)-len(bom)])
		copy(buf[start+head:], bom)
	}
	if len(buf)-start <= s.opts.MaxMessageBytes {
		return buf, sink.Message{Value: buf[start:]}
	}
	// Too long: the header says so and the message is cut to fit.
	msg := append([]byte(nil), buf[start+head:]...)
	if utf {
		msg = msg[len(bom):]
	}
	buf = s.appendHeader(buf[:start], r, len(msg))
	room := s.opts.MaxMessageBytes - (len(buf) - start)
	if s.opts.Protocol == "rfc3164" {
		room -= len(truncMark)
	}
	if utf && room > len(bom) {
		buf = append(buf, bom...)
		room -= len(bom)
	}
	cut := max(room, 0)
	for cut > 0 && cut < len(msg) && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	buf = append(buf, msg[:cut]...)
	if s.opts.Protocol == "rfc3164" {
		buf = append(buf, truncMark...)
	}
	return buf, sink.Message{Value: buf[start:]}
}

const truncMark = " [fsaudit: truncated]"

// ascii tells whether b is US-ASCII alone.
func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// appendHeader writes everything before the MSG. truncated is the length
// of the whole MSG when it was cut, else -1.
func (s *Sink) appendHeader(b []byte, r *record.Record, truncated int) []byte {
	sev := s.opts.Severity
	if r.Action == record.ActionLost && sev > 4 {
		sev = 4
	}
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(s.opts.Facility*8+sev), 10)
	b = append(b, '>')
	if s.opts.Protocol == "rfc3164" {
		b = r.Time.UTC().AppendFormat(b, "Jan _2 15:04:05")
		b = append(b, ' ')
		b = appendPrintable(b, r.Host.Name, 255)
		b = append(b, " fsaudit["...)
		b = strconv.AppendInt(b, int64(s.pid), 10)
		return append(b, "]: "...)
	}
	b = append(b, "1 "...)
	b = r.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ' ')
	b = appendPrintable(b, r.Host.Name, 255)
	b = append(b, " fsaudit "...)
	b = strconv.AppendInt(b, int64(s.pid), 10)
	b = append(b, ' ')
	b = appendPrintable(b, r.Action, 32)
	b = append(b, " [fsaudit@"...)
	b = strconv.AppendInt(b, int64(s.opts.EnterpriseNumber), 10)
	param := func(name, value string) {
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, `="`...)
		b = appendSDValue(b, value)
		b = append(b, '"')
	}
	// Values of any length (paths, names) are cut in the header so that
	// the record itself keeps most of the room; the MSG has them whole.
	longParam := func(name, value string) {
		limit := max(64, s.opts.MaxMessageBytes/16)
		if len(value) > limit {
			cut := limit
			for cut > 0 && !utf8.RuneStart(value[cut]) {
				cut--
			}
			value = value[:cut] + "…"
		}
		param(name, value)
	}
	param("id", r.ID)
	param("seq", strconv.FormatUint(r.Sequence, 10))
	if rp := r.FSAudit.Replay; rp != nil {
		param("replay", rp.Topic+"/"+strconv.Itoa(rp.Partition)+"/"+strconv.FormatInt(rp.Offset, 10))
	}
	if r.Action == record.ActionLost {
		param("lost", strconv.FormatUint(r.FSAudit.Lost, 10))
	} else if r.Action == record.ActionSeal {
		if sl := r.FSAudit.Seal; sl != nil {
			param("seal", sl.Reason)
			param("chain_seq", strconv.FormatUint(sl.Sequence, 10))
		}
	} else {
		longParam("path", r.File.Path)
		param("pid", strconv.FormatUint(uint64(r.Process.PID), 10))
		param("comm", r.Process.Name)
		if r.Process.Executable != "" {
			longParam("exe", r.Process.Executable)
		}
		param("uid", strconv.FormatUint(uint64(r.User.ID), 10))
		if r.User.Name != "" {
			longParam("user", r.User.Name)
		}
		if r.User.HasAudit {
			param("auid", strconv.FormatUint(uint64(r.User.AuditID), 10))
		}
		if r.Container.ID != "" {
			param("container", r.Container.ID)
		}
		if r.Orchestrator.ResourceName != "" {
			longParam("pod", r.Orchestrator.Namespace+"/"+r.Orchestrator.ResourceName)
		}
	}
	if truncated >= 0 {
		param("truncated", strconv.Itoa(truncated))
	}
	return append(b, "] "...)
}

// appendPrintable writes a header field: printable US-ASCII only (others
// become '?'), at most max bytes, "-" when empty (RFC 5424 NILVALUE).
func appendPrintable(b []byte, s string, max int) []byte {
	if s == "" {
		return append(b, '-')
	}
	for i := 0; i < len(s) && i < max; i++ {
		c := s[i]
		if c < 33 || c > 126 {
			c = '?'
		}
		b = append(b, c)
	}
	return b
}

// appendSDValue escapes a PARAM-VALUE: '"', '\' and ']' take a backslash
// (RFC 5424 6.3.3); control characters and bytes that are not UTF-8 become
// U+FFFD, since a receiver may cut a message at them. The record in the MSG
// keeps the exact value.
func appendSDValue(b []byte, s string) []byte {
	return record.AppendSanitized(b, s, func(b []byte, c byte) ([]byte, bool) {
		switch c {
		case '"', '\\', ']':
			return append(b, '\\', c), true
		}
		return b, false
	})
}

// Write implements Sink.
func (s *Sink) Write(ctx context.Context, batch []sink.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.connect(ctx); err != nil {
		return err
	}
	deadline := time.Now().Add(s.opts.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.conn.SetWriteDeadline(deadline)
	var err error
	if s.opts.Network == "udp" {
		for _, m := range batch {
			_, err = s.conn.Write(m.Value)
			switch {
			case err == nil:
			case errors.Is(err, syscall.ECONNREFUSED):
				// An ICMP answer to an earlier datagram: nobody listened
				// then. UDP promises nothing; the datagram went out.
				err = nil
			case errors.Is(err, syscall.EMSGSIZE):
				// Too big for a datagram whatever happens: sending the
				// batch again would not help.
				s.tooBig++
				err = nil
			}
			if err != nil {
				break
			}
		}
	} else {
		s.frame = s.frame[:0]
		for _, m := range batch {
			if s.opts.Framing == "newline" {
				s.frame = append(s.frame, m.Value...)
				s.frame = append(s.frame, '\n')
				continue
			}
			s.frame = strconv.AppendInt(s.frame, int64(len(m.Value)), 10)
			s.frame = append(s.frame, ' ')
			s.frame = append(s.frame, m.Value...)
		}
		_, err = s.conn.Write(s.frame)
	}
	if err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("syslog sink %s: sending to %s://%s: %w", s.opts.Name, s.opts.Network, s.opts.Address, err)
	}
	return nil
}

// connect dials when there is no connection, or the receiver closed it:
// a reader on each stream connection marks it dead at its end (a plain or
// TLS syslog receiver sends nothing but its closing).
func (s *Sink) connect(ctx context.Context) error {
	if s.conn != nil && s.dead != nil && s.dead.Load() {
		s.conn.Close()
		s.conn = nil
	}
	if s.conn != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
	defer cancel()
	var conn net.Conn
	var err error
	switch s.opts.Network {
	case "tls":
		d := &tls.Dialer{Config: s.opts.TLS}
		conn, err = d.DialContext(ctx, "tcp", s.opts.Address)
	default:
		var d net.Dialer
		conn, err = d.DialContext(ctx, s.opts.Network, s.opts.Address)
	}
	if err != nil {
		return fmt.Errorf("syslog sink %s: connecting to %s://%s: %w", s.opts.Name, s.opts.Network, s.opts.Address, err)
	}
	s.conn = conn
	s.dead = nil
	if s.opts.Network != "udp" {
		dead := &atomic.Bool{}
		s.dead = dead
		go func() {
			// Reads what the receiver sends (TLS alerts and tickets) until
			// its end; the connection is closed by the sink either way.
			buf := make([]byte, 512)
			for {
				if _, err := conn.Read(buf); err != nil {
					dead.Store(true)
					return
				}
			}
		}()
		// Let a reader see a close that came with the handshake.
		runtime.Gosched()
	}
	return nil
}

// Check connects (for TLS, through the handshake) and says what failed.
func (s *Sink) Check(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connect(ctx)
}

// Close implements Sink.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
