package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/spf13/pflag"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
)

// format is how a list or show verb prints: the value of -o.
type format string

// Output formats.
const (
	formatTable format = "table"
	formatJSON  format = "json"
	formatCSV   format = "csv"
	formatXLSX  format = "xlsx"
)

var _ pflag.Value = (*format)(nil)

func (f *format) String() string { return string(*f) }

// Set accepts one of the output formats; pflag names the flag in the error.
func (f *format) Set(s string) error {
	switch v := format(strings.ToLower(strings.TrimSpace(s))); v {
	case formatTable, formatJSON, formatCSV:
		*f = v
		return nil
	}
	return fmt.Errorf("must be table, json or csv")
}

func (f *format) Type() string { return "table|json|csv" }

// gridFormat is -o for the usage grids, which can also be written as an
// Excel workbook.
type gridFormat struct{ format }

var _ pflag.Value = (*gridFormat)(nil)

// Set accepts the output formats and xlsx.
func (f *gridFormat) Set(s string) error {
	if v := format(strings.ToLower(strings.TrimSpace(s))); v == formatXLSX {
		f.format = v
		return nil
	}
	if err := f.format.Set(s); err != nil {
		return fmt.Errorf("must be table, json, csv or xlsx")
	}
	return nil
}

func (f *gridFormat) Type() string { return "table|json|csv|xlsx" }

// addOutputFlag registers -o on a list or show verb.
func addOutputFlag(fs *pflag.FlagSet, f *format) {
	*f = formatTable
	fs.VarP(f, "output", "o", "output format: table, json or csv")
}

// column is one field of a listed item: its header and its text. An empty
// value means "not set" and is shown as "-" in a table.
type column[T any] struct {
	header string
	value  func(T) string
}

// printList prints items as rows, or msg, the whole response, as JSON.
func printList[T any](w io.Writer, f format, msg proto.Message, cols []column[T], items []T) error {
	switch f {
	case formatJSON:
		return writeJSON(w, msg)
	case formatCSV:
		return usagegrid.WriteCSV(w, headers(cols), rows(cols, items))
	default:
		return writeTable(w, headers(cols), rows(cols, items))
	}
}

// printOne prints one item: as key/value lines in a table, as a one-row CSV,
// or msg, the whole response, as JSON.
func printOne[T any](w io.Writer, f format, msg proto.Message, cols []column[T], item T) error {
	switch f {
	case formatJSON:
		return writeJSON(w, msg)
	case formatCSV:
		return usagegrid.WriteCSV(w, headers(cols), rows(cols, []T{item}))
	default:
		row := rows(cols, []T{item})[0]
		kv := make([][]string, len(cols))
		for i, h := range headers(cols) {
			kv[i] = []string{h, row[i]}
		}
		return writeRows(w, kv)
	}
}

func headers[T any](cols []column[T]) []string {
	h := make([]string, len(cols))
	for i, c := range cols {
		h[i] = c.header
	}
	return h
}

func rows[T any](cols []column[T], items []T) [][]string {
	out := make([][]string, len(items))
	for i, item := range items {
		row := make([]string, len(cols))
		for j, c := range cols {
			row[j] = c.value(item)
		}
		out[i] = row
	}
	return out
}

// writeJSON keeps JSON output faithful to the API: every field present,
// named as in the .proto, so scripts can rely on the shape.
func writeJSON(w io.Writer, msg proto.Message) error {
	opts := protojson.MarshalOptions{
		Multiline:       true,
		Indent:          "  ",
		EmitUnpopulated: true,
		UseProtoNames:   true,
	}
	b, err := opts.Marshal(msg)
	if err != nil {
		return fmt.Errorf("meshctl: encoding JSON: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

func writeTable(w io.Writer, header []string, body [][]string) error {
	return writeRows(w, append([][]string{header}, body...))
}

// writeRows aligns rows in columns. Cells come from the server, so control
// and bidi characters are escaped: a hostname must not move the cursor or
// reorder what the operator reads.
func writeRows(w io.Writer, all [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range all {
		for i, cell := range row {
			if i > 0 {
				if _, err := io.WriteString(tw, "\t"); err != nil {
					return err
				}
			}
			if _, err := io.WriteString(tw, tableCell(cell)); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(tw, "\n"); err != nil {
			return err
		}
	}
	return tw.Flush()
}

func tableCell(s string) string {
	if s == "" {
		return "-"
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == unicode.ReplacementChar:
			b.WriteString(`\ufffd`)
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
