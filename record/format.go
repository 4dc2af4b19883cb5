package record

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A Format encodes a record for a receiver. Append adds one encoded record
// to dst and never writes a raw newline (CR or LF) or NUL, so any framing a
// sink puts around it (a line, a syslog frame) stays intact.
type Format interface {
	Name() string
	Append(dst []byte, r *Record) []byte
}

// Product names the software that writes the records, for formats that
// carry it (OCSF metadata, the CEF header).
type Product struct {
	Name    string // "fsaudit"
	Version string
}

// Formats lists the format names NewFormat knows.
var Formats = []string{"json", "ocsf", "cef"}

// NewFormat returns the format called name.
func NewFormat(name string, p Product) (Format, error) {
	switch name {
	case "json":
		return JSON{}, nil
	case "ocsf":
		return OCSF{Product: p}, nil
	case "cef":
		return CEF{Product: p}, nil
	}
	return nil, fmt.Errorf("unknown format %q: want one of %s", name, strings.Join(Formats, ", "))
}

// JSON is the record as the README describes it: ECS field names, nested objects.
type JSON struct{}

// Name implements Format.
func (JSON) Name() string { return "json" }

// Append implements Format.
func (JSON) Append(dst []byte, r *Record) []byte { return AppendJSON(dst, r) }

// AppendSanitized appends s with invalid UTF-8 and the control characters
// (C0, DEL, C1, U+2028 and U+2029) that esc does not handle replaced by
// U+FFFD; esc (may be nil) may write an escape for an ASCII byte and return
// true. Formats and sinks use it for fields without escapes of their own.
func AppendSanitized(b []byte, s string, esc func([]byte, byte) ([]byte, bool)) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if esc != nil {
				var done bool
				if b, done = esc(b, c); done {
					i++
					continue
				}
			}
			if c < 0x20 || c == 0x7f {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r >= 0x80 && r < 0xa0, r == '\u2028', r == '\u2029':
			b = append(b, "\uFFFD"...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// AppendValidUTF8 appends s with each byte that is not part of valid UTF-8
// replaced by U+FFFD, as the json format does, so that a value used outside
// the record (a Kafka key) matches the record's field once that is decoded.
func AppendValidUTF8(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// The event.action values of file changes, for formats that map them.
const (
	ActionCreate    = "create"
	ActionTruncate  = "truncate"
	ActionRename    = "rename"
	ActionDelete    = "delete"
	ActionChmod     = "chmod"
	ActionChown     = "chown"
	ActionXattr     = "xattr"
	ActionMmapWrite = "mmap_write"
	ActionUtimes    = "utimes"
)
