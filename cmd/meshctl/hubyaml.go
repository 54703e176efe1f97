package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// decodeStrict fills m from one YAML document (JSON is YAML too), strictly:
// a field m does not have, a field given twice or a value of the wrong
// kind is an error naming the field and its line. Fields go by their
// .proto name (license_template) or their JSON name (licenseTemplate), as
// in the seeds. Scalars are read from their text, so an unquoted version
// like 2.10 stays "2.10" in a string field.
func decodeStrict(data []byte, m proto.Message) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the file is empty")
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return err
		}
		return fmt.Errorf("line %d: a second document; give one %s per file", extra.Line, m.ProtoReflect().Descriptor().Name())
	}
	if len(doc.Content) == 0 {
		return errors.New("the file is empty")
	}
	return fillMessage(m.ProtoReflect(), doc.Content[0], "")
}

// fillMessage sets m's fields from the mapping n; path names m in errors.
func fillMessage(m protoreflect.Message, n *yaml.Node, path string) error {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: want a mapping of %s fields, got %s", n.Line, orTop(path), m.Descriptor().Name(), describeNode(n))
	}
	fields := m.Descriptor().Fields()
	seen := map[protoreflect.FieldNumber]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		fd := fields.ByName(protoreflect.Name(k.Value))
		if fd == nil {
			fd = fields.ByJSONName(k.Value)
		}
		if fd == nil {
			return fmt.Errorf("line %d: unknown field %q in %s (a %s has: %s)",
				k.Line, k.Value, orTop(path), m.Descriptor().Name(), fieldNames(fields))
		}
		name := join(path, k.Value) // as the file spells it
		if line, dup := seen[fd.Number()]; dup {
			return fmt.Errorf("line %d: %s is given twice (first on line %d)", k.Line, name, line)
		}
		seen[fd.Number()] = k.Line
		if isNull(v) {
			continue
		}
		if err := fillField(m, fd, v, name); err != nil {
			return err
		}
	}
	return nil
}

func fillField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v *yaml.Node, name string) error {
	switch {
	case fd.IsMap():
		return fmt.Errorf("line %d: %s: map fields are not supported", v.Line, name)
	case fd.IsList():
		if v.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: %s: want a list, got %s", v.Line, name, describeNode(v))
		}
		list := m.Mutable(fd).List()
		for i, e := range v.Content {
			e = deref(e)
			at := fmt.Sprintf("%s[%d]", name, i)
			if fd.Message() != nil {
				el := list.NewElement()
				if err := fillMessage(el.Message(), e, at); err != nil {
					return err
				}
				list.Append(el)
				continue
			}
			val, err := scalar(fd, e, at)
			if err != nil {
				return err
			}
			list.Append(val)
		}
		return nil
	case fd.Message() != nil:
		return fillMessage(m.Mutable(fd).Message(), v, name)
	default:
		val, err := scalar(fd, v, name)
		if err != nil {
			return err
		}
		m.Set(fd, val)
		return nil
	}
}

// scalar reads a singular non-message value of fd's kind from n.
func scalar(fd protoreflect.FieldDescriptor, n *yaml.Node, name string) (protoreflect.Value, error) {
	if n.Kind != yaml.ScalarNode {
		return protoreflect.Value{}, fmt.Errorf("line %d: %s: want %s, got %s", n.Line, name, kindName(fd), describeNode(n))
	}
	bad := func() (protoreflect.Value, error) {
		return protoreflect.Value{}, fmt.Errorf("line %d: %s: want %s, got %q", n.Line, name, kindName(fd), n.Value)
	}
	s := n.Value
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BoolKind:
		if n.ShortTag() != "!!bool" {
			return bad()
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad()
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return bad()
		}
		return protoreflect.ValueOfInt32(int32(v)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return bad()
		}
		return protoreflect.ValueOfInt64(v), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return bad()
		}
		return protoreflect.ValueOfUint32(uint32(v)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return bad()
		}
		return protoreflect.ValueOfUint64(v), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return bad()
		}
		if fd.Kind() == protoreflect.FloatKind {
			return protoreflect.ValueOfFloat32(float32(v)), nil
		}
		return protoreflect.ValueOfFloat64(v), nil
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByName(protoreflect.Name(s)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		return bad()
	case protoreflect.BytesKind:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return bad()
		}
		return protoreflect.ValueOfBytes(b), nil
	}
	return protoreflect.Value{}, fmt.Errorf("line %d: %s: %s fields are not supported", n.Line, name, fd.Kind())
}

// deref follows a YAML alias to what it names.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

func kindName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number"
	case protoreflect.EnumKind:
		return "a name of " + string(fd.Enum().Name())
	case protoreflect.BytesKind:
		return "a base64 string"
	}
	return "a whole number"
}

func fieldNames(fields protoreflect.FieldDescriptors) string {
	names := make([]string, fields.Len())
	for i := range names {
		names[i] = string(fields.Get(i).Name())
	}
	return strings.Join(names, ", ")
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}
