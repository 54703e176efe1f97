package hub

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
)

// Every list page is filtered, sorted and paged on the server, from its
// query (sort=<column>&dir=asc|desc&page=N&q=<text>, plus the page's own
// filters), and exports what it shows, every page of it, as CSV
// (format=csv), so a link to a list is a link to the same rows.

// pageSize is how many rows a list shows at once.
const pageSize = 50

// column is one column of a list: its key in the query, its heading, its
// text (shown, searched and exported) and, for numbers and times, the
// value it sorts by.
type column[T any] struct {
	Key, Label string
	Text       func(T) string
	// Num sorts by a number (a count, a time in ms) instead of the text.
	Num func(T) int64
	// Right aligns a numeric column.
	Right bool
	// CSVOnly columns are exported and searched but not shown (the page
	// shows them inside another column).
	CSVOnly bool
}

// heading is a column heading as the templates draw it: a link that
// sorts by it (and reverses the order when it already does).
type heading struct {
	Label string
	Href  string
	Dir   string // "asc", "desc" or "" when not sorted by it
	Right bool
}

// listView is a list's chrome: headings, position and links.
type listView struct {
	Headings   []heading
	Total      int
	Page       int
	Pages      int
	First      int // 1-based index of the first row shown
	Last       int
	Prev, Next string
	CSV        string
	Query      url.Values
}

// list sorts, filters by q and pages rows by the request's query; it
// returns the rows to show and the chrome. base is the page's path.
func list[T any](r *http.Request, base string, cols []column[T], rows []T, defSort string, defDesc bool) ([]T, listView) {
	q := r.URL.Query()
	rows, key, desc := arrange(q, cols, rows, defSort, defDesc)
	v := listView{Total: len(rows), Query: q, Pages: max(1, (len(rows)+pageSize-1)/pageSize)}
	v.Page, _ = strconv.Atoi(q.Get("page"))
	v.Page = min(max(v.Page, 1), v.Pages)
	link := func(set map[string]string) string {
		u := url.Values{}
		for k, vs := range q {
			u[k] = vs
		}
		for k, val := range set {
			if val == "" {
				u.Del(k)
			} else {
				u.Set(k, val)
			}
		}
		if s := u.Encode(); s != "" {
			return base + "?" + s
		}
		return base
	}
	for _, c := range cols {
		if c.CSVOnly {
			continue
		}
		h := heading{Label: c.Label, Right: c.Right}
		next := "asc"
		if c.Key == key {
			h.Dir = map[bool]string{true: "desc", false: "asc"}[desc]
			if !desc {
				next = "desc"
			}
		} else if c.Num != nil {
			next = "desc" // numbers and times: biggest or newest first
		}
		h.Href = link(map[string]string{"sort": c.Key, "dir": next, "page": ""})
		v.Headings = append(v.Headings, h)
	}
	if v.Page > 1 {
		v.Prev = link(map[string]string{"page": strconv.Itoa(v.Page - 1)})
	}
	if v.Page < v.Pages {
		v.Next = link(map[string]string{"page": strconv.Itoa(v.Page + 1)})
	}
	v.CSV = link(map[string]string{"format": "csv", "page": ""})
	from := (v.Page - 1) * pageSize
	to := min(from+pageSize, len(rows))
	if len(rows) > 0 {
		v.First, v.Last = from+1, to
	}
	return rows[from:to], v
}

// arrange filters rows by the query's q and sorts them by its sort and
// dir (the default when it names no column); it returns the sort used.
func arrange[T any](q url.Values, cols []column[T], rows []T, defSort string, defDesc bool) ([]T, string, bool) {
	rows = searchRows(cols, rows, q.Get("q"))
	key, desc := q.Get("sort"), q.Get("dir") == "desc"
	if !slices.ContainsFunc(cols, func(c column[T]) bool { return c.Key == key }) {
		key, desc = defSort, defDesc
	}
	sortRows(cols, rows, key, desc)
	return rows, key, desc
}

// searchRows keeps the rows with q in any column's text, ignoring case.
func searchRows[T any](cols []column[T], rows []T, q string) []T {
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" {
		return rows
	}
	return slices.DeleteFunc(rows, func(row T) bool {
		return !slices.ContainsFunc(cols, func(c column[T]) bool { return strings.Contains(strings.ToLower(c.Text(row)), q) })
	})
}

// sortRows sorts rows by column key, stably, ties kept in their order.
func sortRows[T any](cols []column[T], rows []T, key string, desc bool) {
	i := slices.IndexFunc(cols, func(c column[T]) bool { return c.Key == key })
	if i < 0 {
		return
	}
	c := cols[i]
	slices.SortStableFunc(rows, func(a, b T) int {
		var n int
		if c.Num != nil {
			n = cmp.Compare(c.Num(a), c.Num(b))
		} else {
			n = cmp.Compare(strings.ToLower(c.Text(a)), strings.ToLower(c.Text(b)))
		}
		if desc {
			return -n
		}
		return n
	})
}

// wantsCSV reports whether the list is asked for as CSV.
func wantsCSV(r *http.Request) bool { return r.URL.Query().Get("format") == "csv" }

// writeCSV answers with every row (already filtered and sorted) as CSV,
// each cell guarded against formula injection by usagegrid's one guard.
func writeCSV[T any](w http.ResponseWriter, name string, now time.Time, cols []column[T], rows []T) {
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.Label
	}
	out := make([][]string, len(rows))
	for i, row := range rows {
		out[i] = make([]string, len(cols))
		for j, c := range cols {
			out[i][j] = c.Text(row)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.csv"`, name, now.UTC().Format("20060102")))
	h.Set("Cache-Control", "no-store")
	_ = usagegrid.WriteCSV(w, header, out)
}

// csvOrList answers a list request: every row as CSV, or the page of rows
// to show and the list's chrome.
func csvOrList[T any](w http.ResponseWriter, r *http.Request, name string, now time.Time, base string, cols []column[T], rows []T, defSort string, defDesc bool) ([]T, listView, bool) {
	if wantsCSV(r) {
		rows, _, _ = arrange(r.URL.Query(), cols, rows, defSort, defDesc)
		writeCSV(w, name, now, cols, rows)
		return nil, listView{}, true
	}
	shown, v := list(r, base, cols, rows, defSort, defDesc)
	return shown, v, false
}

// Times on the pages are UTC, said once per page.

func fmtDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func msText(ms int64) string { return fmtTime(fromMS(ms)) }

// daysLeft is how many days, started ones counted, remain until end; 0 once
// it has passed.
func daysLeft(end, now time.Time) int64 {
	if end.IsZero() || !now.Before(end) {
		return 0
	}
	return int64((end.Sub(now) + 24*time.Hour - time.Nanosecond) / (24 * time.Hour))
}
