package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxPathSteps bounds a path's length in steps.
const maxPathSteps = 32

// step is one hop of a path: a key in an object or an index in an array.
type step struct {
	key   string
	index int
	isIdx bool
}

func (s step) String() string {
	if s.isIdx {
		return "[" + strconv.Itoa(s.index) + "]"
	}
	return s.key
}

// path is a parsed field path such as data.users[2].id.
type path struct {
	text  string
	steps []step
}

// parsePath parses the path syntax: keys separated by dots, each followed by
// any number of [N] indexes; a leading [N] indexes a top-level array; "."
// alone is the whole document. Keys cannot hold '.', '[' or ']'.
func parsePath(s string) (path, error) {
	if s == "." {
		return path{text: s}, nil
	}
	if s == "" {
		return path{}, errors.New(`path is empty (use "." for the whole document)`)
	}
	var steps []step
	for i, seg := range strings.Split(s, ".") {
		key, idx := seg, ""
		if j := strings.IndexByte(seg, '['); j >= 0 {
			key, idx = seg[:j], seg[j:]
		}
		switch {
		case key == "" && (i > 0 || idx == ""):
			return path{}, fmt.Errorf("path %q: empty key in segment %d", s, i+1)
		case strings.Contains(key, "]"):
			return path{}, fmt.Errorf("path %q: unexpected ']' in %q", s, seg)
		case key != "":
			steps = append(steps, step{key: key})
		}
		for idx != "" {
			end := strings.IndexByte(idx, ']')
			if idx[0] != '[' || end < 0 {
				return path{}, fmt.Errorf("path %q: %q must be a key followed by [N] indexes", s, seg)
			}
			num := idx[1:end]
			n, err := strconv.Atoi(num)
			if err != nil || n < 0 || num != strconv.Itoa(n) {
				return path{}, fmt.Errorf("path %q: index %q in %q must be a non-negative integer", s, num, seg)
			}
			steps = append(steps, step{index: n, isIdx: true})
			idx = idx[end+1:]
		}
	}
	if len(steps) > maxPathSteps {
		return path{}, fmt.Errorf("path %q has %d steps, at most %d allowed", s, len(steps), maxPathSteps)
	}
	return path{text: s, steps: steps}, nil
}

// describe renders the first n steps, for error messages.
func (p path) describe(n int) string {
	if n == 0 {
		return "the top level"
	}
	var b strings.Builder
	for i, s := range p.steps[:n] {
		if i > 0 && !s.isIdx {
			b.WriteByte('.')
		}
		b.WriteString(s.String())
	}
	return strconv.Quote(b.String())
}

// pick follows the path through a document decoded by decodeJSON. The error
// names the step that is missing.
func (p path) pick(doc any) (any, error) {
	cur := doc
	for i, s := range p.steps {
		switch v := cur.(type) {
		case map[string]any:
			if s.isIdx {
				return nil, fmt.Errorf("path %q: %s is an object, not an array", p.text, p.describe(i))
			}
			next, ok := v[s.key]
			if !ok {
				return nil, fmt.Errorf("path %q: no field %q in %s", p.text, s.key, p.describe(i))
			}
			cur = next
		case []any:
			if !s.isIdx {
				return nil, fmt.Errorf("path %q: %s is an array, not an object (no field %q)", p.text, p.describe(i), s.key)
			}
			if s.index >= len(v) {
				return nil, fmt.Errorf("path %q: index %d out of range in %s (length %d)", p.text, s.index, p.describe(i), len(v))
			}
			cur = v[s.index]
		default:
			return nil, fmt.Errorf("path %q: %s is %s, so it has no %s", p.text, p.describe(i), jsonKind(cur), s)
		}
	}
	return cur, nil
}

// jsonKind names a decoded JSON value's type.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// decodeJSON decodes exactly one JSON value, numbers kept as json.Number so
// that large integers stay exact.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("output is empty, not JSON")
		}
		return nil, fmt.Errorf("not JSON: %s", clip(err.Error()))
	}
	switch _, err := dec.Token(); {
	case err == nil:
		return nil, errors.New("more than one JSON value")
	case !errors.Is(err, io.EOF):
		return nil, errors.New("not JSON: unexpected text after the first value")
	}
	return v, nil
}
