package usagegrid

import (
	"encoding/csv"
	"io"
	"strings"
)

// CSVCell keeps a spreadsheet from reading a cell as a formula (CSV
// injection): a cell starting with = + - @ tab or CR gets a leading quote,
// which makes it text.
func CSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteCSV writes a header row and rows as CSV, every cell guarded by
// CSVCell: cells may come from collectors and installations, which are not
// trusted to be harmless in a spreadsheet.
func WriteCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	guarded := func(row []string) []string {
		out := make([]string, len(row))
		for i, c := range row {
			out[i] = CSVCell(c)
		}
		return out
	}
	if err := cw.Write(guarded(header)); err != nil {
		return err
	}
	for _, row := range rows {
		if err := cw.Write(guarded(row)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteCSV writes the grid as CSV with a header row.
func (g *Grid) WriteCSV(w io.Writer) error { return WriteCSV(w, g.Header(), g.Strings()) }
