// Package specs checks records against the published specifications of
// the formats fsaudit writes, read from their data files (the extracts in
// ../shared/spec-ref beside the repository), never from expectations
// written by hand: tests call it on real output.
package specs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Dir finds the specifications' data: ../shared/spec-ref beside the
// repository that holds the working directory.
func Dir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			ref := filepath.Join(dir, "..", "shared", "spec-ref")
			if _, err := os.Stat(ref); err != nil {
				return "", fmt.Errorf("the specifications' data: %w", err)
			}
			return ref, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// ECS is the Elastic Common Schema of one version: each field's type, the
// allowed values of the categorization fields, the required fields.
type ECS struct {
	Version string `json:"ecs_version"`
	Fields  map[string]struct {
		Type          string              `json:"type"`
		Normalize     []string            `json:"normalize"`
		AllowedValues []string            `json:"allowed_values"`
		Expected      map[string][]string `json:"expected_event_types"`
	} `json:"fields"`
	Required map[string]string `json:"required"`
}

// LoadECS reads ecs-VERSION.json from dir.
func LoadECS(dir, version string) (*ECS, error) {
	data, err := os.ReadFile(filepath.Join(dir, "ecs-"+version+".json"))
	if err != nil {
		return nil, err
	}
	var e ECS
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("ecs-%s.json: %w", version, err)
	}
	if e.Version != version || len(e.Fields) == 0 {
		return nil, fmt.Errorf("ecs-%s.json holds version %q, %d fields", version, e.Version, len(e.Fields))
	}
	return &e, nil
}

// Outside lists the fields of a record that ECS does not define, beside
// fsaudit's own (under fsaudit.), with the reason each is there.
var Outside = map[string]string{
	"user.audit.id":   "the login uid, named as Auditbeat names it; the outside contract (SPEC) fixes the name",
	"user.audit.name": "the login uid's user name, as user.audit.id",
}

// Check returns what in one json record ECS refuses: a field it does not
// define (outside fsaudit. and Outside), a value of the wrong type, a
// categorization value it does not allow or whose event types the
// category does not expect, a required field missing, and a record that
// claims another ECS version.
func (e *ECS) Check(line []byte) []error {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber() // a long past 2^53 stays exact
	if err := dec.Decode(&doc); err != nil {
		return []error{fmt.Errorf("not JSON: %v", err)}
	}
	flat := map[string]any{}
	flatten("", doc, flat)
	var errs []error
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := flat[k]
		if strings.HasPrefix(k, "fsaudit.") {
			continue
		}
		if _, ok := Outside[k]; ok {
			continue
		}
		f, ok := e.Fields[k]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not an ECS %s field (fsaudit's own go under fsaudit.)", k, e.Version))
			continue
		}
		values, isList := v.([]any)
		if !isList {
			values = []any{v}
		} else if len(values) == 0 {
			errs = append(errs, fmt.Errorf("%s: an empty array", k))
		}
		for _, x := range values {
			if err := checkType(f.Type, x); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", k, err))
			}
			if s, ok := x.(string); ok && len(f.AllowedValues) > 0 && !slices.Contains(f.AllowedValues, s) {
				errs = append(errs, fmt.Errorf("%s: %q is none of ECS's values %v", k, s, f.AllowedValues))
			}
		}
		if slices.Contains(f.Normalize, "array") && !isList {
			errs = append(errs, fmt.Errorf("%s: ECS wants an array", k))
		}
	}
	for k := range e.Required {
		if _, ok := flat[k]; !ok {
			errs = append(errs, fmt.Errorf("%s: required in every event, missing", k))
		}
	}
	if v, ok := flat["ecs.version"]; ok && v != e.Version {
		errs = append(errs, fmt.Errorf("ecs.version %v, checked against %s", v, e.Version))
	}
	// Each category expects some event types.
	cats, _ := flat["event.category"].([]any)
	types, _ := flat["event.type"].([]any)
	for _, c := range cats {
		want := e.Fields["event.category"].Expected[fmt.Sprint(c)]
		for _, ty := range types {
			if len(want) > 0 && !slices.Contains(want, fmt.Sprint(ty)) {
				errs = append(errs, fmt.Errorf("event.type %v: category %v expects one of %v", ty, c, want))
			}
		}
	}
	return errs
}

// flatten writes the leaves of an object under their dotted names; an
// array is a leaf.
func flatten(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	for k, x := range m {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		flatten(name, x, out)
	}
}

// checkType tells whether a JSON value fits an ECS field type.
func checkType(typ string, v any) error {
	switch typ {
	case "keyword", "wildcard", "match_only_text", "constant_keyword":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%v (%T) is not a string, which %s wants", v, v, typ)
		}
	case "ip":
		if s, ok := v.(string); !ok || net.ParseIP(s) == nil {
			return fmt.Errorf("%v (%T) is not an IP address", v, v)
		}
	case "long", "integer", "short", "byte", "unsigned_long":
		n, ok := v.(json.Number)
		_, errI := strconv.ParseInt(string(n), 10, 64)
		_, errU := strconv.ParseUint(string(n), 10, 64)
		if !ok || errI != nil && (typ != "unsigned_long" || errU != nil) {
			return fmt.Errorf("%v (%T) is not an integer %s takes", v, v, typ)
		}
	case "float", "double", "scaled_float", "half_float":
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%v (%T) is not a number, which %s wants", v, v, typ)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%v (%T) is not a boolean", v, v)
		}
	case "date":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%v (%T) is not a date string", v, v)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("%q is not an RFC 3339 date", s)
		}
	case "object", "flattened", "nested":
		// A leaf where ECS has an object: its own fields are unknown.
		return fmt.Errorf("%v is a value where ECS has an object (%s)", v, typ)
	}
	return nil
}
