package config

import (
	"reflect"
	"slices"
	"strings"
)

// SinkSettings are the keys a type of sink adds to its [[sink]] tables:
// the type's own struct, into which Parse decodes the table (by the
// fields' toml tags), with the type's defaults and checks. A type is
// made known by RegisterSinkType.
type SinkSettings interface {
	// Defaults fills the keys the table left out; set names the keys it
	// gave, for a default that an explicit 0 must not replace.
	Defaults(s *Sink, set []string)
	// Validate checks the values after Defaults; at ties a one-line
	// message to a key of the table.
	Validate(s *Sink, set []string, at func(msg, key string) error) error
}

// OffHost is the SinkSettings of a type that sends records off the host:
// only such a sink may anchor another's seals.
type OffHost interface {
	OffHost() bool
}

type sinkTypeEntry struct {
	name string
	new  func() SinkSettings
}

var sinkTypes []sinkTypeEntry

// RegisterSinkType makes a type of sink known to Parse; newSettings returns its
// settings with no key set. The sink registry calls it once for each
// type fsaudit is built with; a name given twice replaces the first.
func RegisterSinkType(name string, newSettings func() SinkSettings) {
	sinkTypes = slices.DeleteFunc(sinkTypes, func(e sinkTypeEntry) bool { return e.name == name })
	sinkTypes = append(sinkTypes, sinkTypeEntry{name, newSettings})
}

// SinkTypes lists the registered types of sink, in the order registered.
func SinkTypes() []string {
	out := make([]string, len(sinkTypes))
	for i, e := range sinkTypes {
		out[i] = e.name
	}
	return out
}

func sinkType(name string) *sinkTypeEntry {
	for i := range sinkTypes {
		if sinkTypes[i].name == name {
			return &sinkTypes[i]
		}
	}
	return nil
}

// sinkKeys are the keys every [[sink]] has.
var sinkKeys = tomlKeys(&Sink{})

// typesWithKey lists the types of sink that have key.
func typesWithKey(key string) []string {
	var out []string
	for _, e := range sinkTypes {
		if slices.Contains(tomlKeys(e.new()), key) {
			out = append(out, e.name)
		}
	}
	return out
}

func offHost(s SinkSettings) bool {
	o, ok := s.(OffHost)
	return ok && o.OffHost()
}

// offHostTypes lists the types of sink that send records off the host.
func offHostTypes() []string {
	var out []string
	for _, e := range sinkTypes {
		if offHost(e.new()) {
			out = append(out, e.name)
		}
	}
	return out
}

// tomlKeys lists the keys of a struct (or pointer to one) by its fields'
// toml tags, those of embedded structs included. A field without a tag is
// none: the settings of a sink tag every key.
func tomlKeys(v any) []string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" || !f.IsExported() && !f.Anonymous:
		case f.Anonymous && name == "":
			out = append(out, tomlKeys(reflect.New(f.Type).Interface())...)
		case name != "":
			out = append(out, name)
		}
	}
	return out
}
