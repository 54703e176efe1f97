package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
)

// Result is one row of the benchmark table: a single number with its unit,
// the goal it is judged against (if any) and whether it met that goal.
type Result struct {
	// ID is the measurement that produced the row ("B0", "G1").
	ID string `json:"id"`
	// Name says what was measured, unique within one ID ("fsync 4 KiB p99").
	Name string `json:"name"`
	// Value is the measured number, in Unit. It is never NaN or infinite,
	// because JSON cannot carry those.
	Value float64 `json:"value"`
	// Unit is the unit of Value ("ms", "entries/s", "x").
	Unit string `json:"unit"`
	// Goal states the target in words ("≥ 0.5x B1"); empty for a plain record.
	Goal string `json:"goal,omitempty"`
	// Met is nil when there is no goal, else whether Value met it.
	Met *bool `json:"met,omitempty"`
	// Note carries context: sample counts, a companion percentile, an error.
	Note string `json:"note,omitempty"`
}

// Verdict returns a pointer to ok, for filling Result.Met.
func Verdict(ok bool) *bool { return &ok }

// VerdictText is the verdict column: "-" without a goal, else "met" or "MISSED".
func (r Result) VerdictText() string {
	switch {
	case r.Met == nil:
		return "-"
	case *r.Met:
		return "met"
	default:
		return "MISSED"
	}
}

// Table is the ordered set of rows a run prints.
type Table []Result

// Missed reports whether any row has a goal it did not meet.
func (t Table) Missed() bool {
	for _, r := range t {
		if r.Met != nil && !*r.Met {
			return true
		}
	}
	return false
}

// WriteText prints the table as aligned columns: id, measure, value, unit,
// goal, verdict, and a trailing note.
func (t Table) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMEASURE\tVALUE\tUNIT\tGOAL\tVERDICT\tNOTE")
	for _, r := range t {
		goal := r.Goal
		if goal == "" {
			goal = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.ID, r.Name, FormatValue(r.Value), r.Unit, goal, r.VerdictText(), r.Note)
	}
	return tw.Flush()
}

// WriteJSON prints the table as an indented JSON array of Result objects.
func (t Table) WriteJSON(w io.Writer) error {
	rows := t
	if rows == nil {
		rows = Table{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rows); err != nil {
		return fmt.Errorf("bench: encode table: %w", err)
	}
	return nil
}

// FormatValue renders v with about four significant digits, without
// exponents for the magnitudes a benchmark produces.
func FormatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a == 0:
		return "0"
	case a >= 0.001:
		return strconv.FormatFloat(v, 'f', 4, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}
