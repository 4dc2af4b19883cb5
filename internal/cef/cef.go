// Package cef parses ArcSight CEF lines the way a receiver does; fsaudit's
// tests use it to prove that what the cef format writes reads back intact.
package cef

import (
	"fmt"
	"strings"
)

// Parse splits a CEF line into its seven header fields (unescaped) and its
// extension (key to unescaped value). A value runs until the space before
// the next key, a key being the word before an unescaped '='.
func Parse(line string) (header []string, ext map[string]string, err error) {
	var cur strings.Builder
	i := 0
	for ; i < len(line) && len(header) < 7; i++ {
		switch c := line[i]; {
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '|':
			header = append(header, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if len(header) != 7 || !strings.HasPrefix(header[0], "CEF:") {
		return nil, nil, fmt.Errorf("not a CEF line: %q", line)
	}
	rest := line[i:]
	type eq struct{ keyStart, pos int }
	var eqs []eq
	for j := 0; j < len(rest); j++ {
		if rest[j] == '\\' {
			j++
			continue
		}
		if rest[j] == '=' {
			eqs = append(eqs, eq{strings.LastIndexByte(rest[:j], ' ') + 1, j})
		}
	}
	ext = map[string]string{}
	for n, e := range eqs {
		end := len(rest)
		if n+1 < len(eqs) {
			end = eqs[n+1].keyStart - 1
		}
		if end < e.pos+1 {
			return nil, nil, fmt.Errorf("empty key before '=' at %d in %q", e.pos, rest)
		}
		key := rest[e.keyStart:e.pos]
		if _, dup := ext[key]; dup {
			return nil, nil, fmt.Errorf("key %s twice in %q", key, line)
		}
		ext[key] = unescape(rest[e.pos+1 : end])
	}
	return header, ext, nil
}

func unescape(raw string) string {
	var v strings.Builder
	for j := 0; j < len(raw); j++ {
		if raw[j] == '\\' && j+1 < len(raw) {
			j++
			switch raw[j] {
			case 'n':
				v.WriteByte('\n')
			case 'r':
				v.WriteByte('\r')
			default:
				v.WriteByte(raw[j])
			}
			continue
		}
		v.WriteByte(raw[j])
	}
	return v.String()
}
