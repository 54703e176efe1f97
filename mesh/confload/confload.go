// Package confload loads a typed configuration struct the same way for every
// licmesh program: defaults, then a strict YAML file, then LICMESH_*
// environment variables, leaving flags to the caller. Unknown YAML fields,
// type mismatches and bad environment values are errors that name the field.
package confload

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a configuration file; anything larger is refused
// before it is parsed.
const MaxFileSize = 1 << 20

// File decodes the YAML file at path into dst (a pointer to a struct that
// already holds the defaults). Fields not in the file keep their values.
func File(path string, dst any) error {
	data, err := ReadFile(path, MaxFileSize)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return Bytes(path, data, dst)
}

// ReadFile reads a file of at most limit bytes; a larger one is refused
// without being read whole.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// Bytes decodes YAML data (named name in errors) strictly into dst.
func Bytes(name string, data []byte, dst any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file keeps the defaults
		}
		return fmt.Errorf("config: %s: %s", name, yamlText(err))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: holds more than one YAML document", name)
	}
	return nil
}

// Env overrides fields of dst (a pointer to a struct) from environment
// variables named prefix + the field's YAML key in upper case, for example
// LICMESH_DATA_DIR for `data_dir`. Supported kinds: string, bool, integers,
// time.Duration and []string (comma separated).
func Env(prefix string, dst any, lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	var errs []error
	for i := 0; i < t.NumField(); i++ {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		name := prefix + strings.ToUpper(key)
		raw, ok := lookup(name)
		if !ok {
			continue
		}
		if err := set(v.Field(i), raw); err != nil {
			errs = append(errs, fmt.Errorf("config: %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

var (
	unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)
	wrongType    = regexp.MustCompile(`cannot unmarshal (\S+)(?: ` + "`[^`]*`" + `)? into (\S+)`)
)

// yamlText rewrites the YAML library's messages into the file's terms
// ("unknown field" rather than a Go type name) and drops quoted values,
// which might be a secret such as a token.
func yamlText(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		m = unknownField.ReplaceAllString(m, `unknown field "$1"`)
		m = wrongType.ReplaceAllString(m, `wrong type: a $1 where a $2 is expected`)
		msgs = append(msgs, m)
	}
	return strings.Join(msgs, "; ")
}

var durationType = reflect.TypeOf(time.Duration(0))

func set(f reflect.Value, raw string) error {
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return errors.New("not a duration like 30s or 5m")
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(raw)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("not true or false")
		}
		f.SetBool(b)
	case f.Kind() >= reflect.Int && f.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || f.OverflowInt(n) {
			return errors.New("not a whole number")
		}
		f.SetInt(n)
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		var parts []string
		for _, p := range strings.Split(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// Flags copies into dst, from src, every field whose YAML key matches the
// name of a flag the user set ("data-dir" for `data_dir`). Bind flags to src
// (a struct of the same type as dst) and pass the names cobra/pflag report
// as changed: the result is file, then environment, then flags.
func Flags(dst, src any, changed []string) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	t := d.Type()
	for _, name := range changed {
		key := strings.ReplaceAll(name, "-", "_")
		for i := 0; i < t.NumField(); i++ {
			if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k == key {
				d.Field(i).Set(s.Field(i))
			}
		}
	}
}
