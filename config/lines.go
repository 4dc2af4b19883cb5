package config

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/BurntSushi/toml"
)

// lineIndex remembers on which line each key was set, so that errors found
// after decoding (unknown keys, bad values) can name the line.
type lineIndex struct {
	keys  map[string]int   // "agent.hook" -> line
	sinks []map[string]int // per [[sink]]: key -> line; "" is the header
}

// indexLines scans TOML text for table headers and "key =" lines. It is
// deliberately simple: it serves error messages, the decoder does the rest.
func indexLines(data []byte) lineIndex {
	idx := lineIndex{keys: map[string]int{}}
	table := ""
	inSink := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#':
			continue
		case strings.HasPrefix(line, "[["):
			table = strings.TrimSpace(strings.Trim(cutComment(line), "[] \t"))
			inSink = table == "sink"
			if inSink {
				idx.sinks = append(idx.sinks, map[string]int{"": n})
			}
			if _, ok := idx.keys[table]; !ok {
				idx.keys[table] = n
			}
			continue
		case line[0] == '[':
			table = strings.TrimSpace(strings.Trim(cutComment(line), "[] \t"))
			inSink = false
			if _, ok := idx.keys[table]; !ok {
				idx.keys[table] = n
			}
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq <= 0 {
			continue
		}
		key := strings.Trim(strings.TrimSpace(line[:eq]), `"'`)
		if strings.ContainsAny(key, " \t\"'[]{}") {
			continue
		}
		full := key
		if table != "" {
			full = table + "." + key
		}
		if _, ok := idx.keys[full]; !ok {
			idx.keys[full] = n
		}
		if inSink {
			s := idx.sinks[len(idx.sinks)-1]
			// A dotted key (a.b = 1) is found by its first part too.
			first, _, _ := strings.Cut(key, ".")
			for _, k := range []string{key, strings.TrimSpace(first)} {
				if _, ok := s[k]; !ok {
					s[k] = n
				}
			}
		}
	}
	return idx
}

func cutComment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		return s[:i]
	}
	return s
}

// line finds the line of a key, or of its nearest enclosing table.
func (x lineIndex) line(k toml.Key) int {
	for n := len(k); n > 0; n-- {
		if l, ok := x.keys[strings.Join(k[:n], ".")]; ok {
			return l
		}
	}
	return 0
}

// sinkLine finds the line of key in the i-th [[sink]], or its header.
func (x lineIndex) sinkLine(i int, key string) int {
	if i < 0 || i >= len(x.sinks) {
		return 0
	}
	if l, ok := x.sinks[i][key]; ok {
		return l
	}
	return x.sinks[i][""]
}
