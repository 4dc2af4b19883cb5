package record

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Strings that are not valid UTF-8 (a file name is any bytes but '/' and
// NUL) are written with U+FFFD where a byte does not decode, which two
// different names can share. Their exact bytes go beside them, under
// fsaudit.raw_bytes: the field's name, then its bytes in base64 (standard,
// padded), only for the strings that need it; a reader (ParseJSON) puts
// them back.

// rawField is a string of a record that a writer chooses.
type rawField struct {
	name string
	s    *string
}

// rawFields lists the record's strings whose bytes a writer chooses; args
// are process.args.0, .1 ...
func rawFields(r *Record, visit func(name string, s *string)) {
	for _, f := range []rawField{
		{"file.path", &r.File.Path}, {"file.name", &r.File.Name}, {"file.directory", &r.File.Directory},
		{"file.target_path", &r.File.TargetPath}, {"process.name", &r.Process.Name},
		{"process.executable", &r.Process.Executable}, {"fsaudit.host_path", &r.FSAudit.HostPath},
		{"fsaudit.target_host_path", &r.FSAudit.TargetHostPath}, {"fsaudit.xattr.name", &r.FSAudit.XattrName},
	} {
		visit(f.name, f.s)
	}
	for i := range r.Process.Args {
		visit("process.args."+strconv.Itoa(i), &r.Process.Args[i])
	}
}

// notUTF8 gives fn each of r's strings that a writer chooses and that is
// not valid UTF-8, by field name.
func notUTF8(r *Record, fn func(name, s string)) {
	rawFields(r, func(name string, s *string) {
		if !utf8.ValidString(*s) {
			fn(name, *s)
		}
	})
}

// appendRawBytes writes `,"raw_bytes":{...}` when a string of r is not
// valid UTF-8; else nothing.
func appendRawBytes(b []byte, r *Record) []byte {
	open := false
	notUTF8(r, func(name, s string) {
		if !open {
			b = append(b, `,"raw_bytes":{`...)
			open = true
		} else {
			b = append(b, ',')
		}
		b = appendString(b, name)
		b = append(b, `:"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(s))
		b = append(b, '"')
	})
	if open {
		b = append(b, '}')
	}
	return b
}

// restoreRaw puts back the exact bytes raw holds (field name to base64)
// into r's strings; a value that does not decode, or that is valid UTF-8
// (then the field itself says it), is refused.
func restoreRaw(r *Record, raw map[string]string) error {
	if len(raw) == 0 {
		return nil
	}
	used := 0
	var bad error
	rawFields(r, func(name string, s *string) {
		v, ok := raw[name]
		if !ok || bad != nil {
			return
		}
		used++
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || utf8.Valid(b) {
			bad = errorf("fsaudit.raw_bytes.%s is not base64 of bytes that are not UTF-8", name)
			return
		}
		// The field shows these bytes, each that does not decode as U+FFFD.
		if *s != displayed(b) {
			bad = errorf("fsaudit.raw_bytes.%s does not match the field it keeps the bytes of", name)
			return
		}
		*s = string(b)
	})
	if bad != nil {
		return bad
	}
	if used != len(raw) {
		return errorf("fsaudit.raw_bytes names a field the record does not have")
	}
	return nil
}

// displayed is how appendString shows b: each byte that does not decode
// as U+FFFD.
func displayed(b []byte) string {
	var out []byte
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return string(out)
}

func errorf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotARecord}, a...)...)
}

// rawPairs is appendRawBytes for formats of key=value text (CEF):
// "name:base64 name:base64", or "" when every string is valid UTF-8.
func rawPairs(r *Record) string {
	var b []byte
	notUTF8(r, func(name, s string) {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, name...)
		b = append(b, ':')
		b = base64.StdEncoding.AppendEncode(b, []byte(s))
	})
	return string(b)
}

// QuoteArgs joins a command line's arguments as a POSIX shell would read
// them back: an argument of only safe characters as it is, any other in
// single quotes (a single quote inside closed, escaped and opened again),
// an empty one as a pair of single quotes. So ["a b"] and ["a", "b"] are
// told apart, as the json format's list tells them.
func QuoteArgs(args []string) string {
	var b []byte
	for i, a := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
		}) < 0 {
			b = append(b, a...)
			continue
		}
		b = append(b, '\'')
		b = append(b, strings.ReplaceAll(a, "'", `'\''`)...)
		b = append(b, '\'')
	}
	return string(b)
}
