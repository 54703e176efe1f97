package license

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
)

var (
	timeType        = reflect.TypeFor[time.Time]()
	durationType    = reflect.TypeFor[Duration]()
	enforcementType = reflect.TypeFor[lease.Enforcement]()
	payloadType     = reflect.TypeFor[Payload]()
)

// scanStrict walks the payload's JSON tokens beside the Payload type and
// refuses what encoding/json would quietly accept: keys that match a field
// only case-insensitively, unknown keys, repeated keys, trailing data. It
// also parses times, durations and enforcement modes itself, so their
// errors can name the field. Values of the wrong JSON type are left to
// encoding/json, which names the field too.
func scanStrict(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: the payload must be a JSON object", ErrInvalidPayload)
	}
	if err := scanObject(dec, payloadType, ""); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON object", ErrInvalidPayload)
	}
	return nil
}

func syntaxErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the JSON ends early", ErrInvalidPayload)
	}
	return fmt.Errorf("%w: %s", ErrInvalidPayload, describeJSONError(err))
}

// scanObject reads the members of an object whose '{' was just read,
// checking each key against t's JSON field names.
func scanObject(dec *json.Decoder, t reflect.Type, path string) error {
	fields := jsonFields(t)
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxErr(err)
		}
		key, _ := tok.(string)
		at := join(path, key)
		if seen[key] {
			return fmt.Errorf("%w: field %s appears twice", ErrInvalidPayload, at)
		}
		seen[key] = true
		ft, ok := fields[key]
		if !ok {
			where := "the payload"
			if path != "" {
				where = path
			}
			return fmt.Errorf("%w: unknown field %s in %s", ErrInvalidPayload, quote(key), where)
		}
		if err := scanValue(dec, ft, at); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return syntaxErr(err)
	}
	return nil
}

// scanValue reads one value that should be of type t.
func scanValue(dec *json.Decoder, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return syntaxErr(err)
	}
	switch v := tok.(type) {
	case json.Delim:
		switch {
		case v == '{' && t.Kind() == reflect.Struct && t != timeType:
			return scanObject(dec, t, path)
		case v == '[' && t.Kind() == reflect.Slice:
			for i := 0; dec.More(); i++ {
				if err := scanValue(dec, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
					return err
				}
			}
			_, err := dec.Token() // the closing ']'
			if err != nil {
				return syntaxErr(err)
			}
			return nil
		}
		// A composite where t wants something else: encoding/json will
		// name the mismatch; only its syntax matters here.
		return skip(dec)
	case string:
		switch t {
		case timeType:
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return fieldErr(path, fmt.Sprintf("%s is not an RFC 3339 time like 2026-01-31T00:00:00Z", quote(v)))
			}
		case durationType:
			if _, err := ParseDuration(v); err != nil {
				return fieldErr(path, err.Error())
			}
		case enforcementType:
			// "" decodes as unset: Validate reports it, or a template
			// reads it as hard.
			if _, err := lease.ParseEnforcement(v); err != nil && v != "" {
				return fieldErr(path, fmt.Sprintf("%s is neither hard nor soft", quote(v)))
			}
		}
	}
	return nil
}

// skip reads the rest of a composite value whose opening delimiter was
// just read.
func skip(dec *json.Decoder) error {
	depth := 1
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return syntaxErr(err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// jsonFields maps the exact JSON names of t's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			// An embedded struct's fields are the outer object's, as
			// encoding/json reads them (a pool's Offline terms).
			maps.Copy(m, jsonFields(f.Type))
			continue
		}
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		m[name] = f.Type
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
