package hub

import (
	"encoding/xml"
	"html/template"
	"strconv"
	"strings"
)

// A line chart of monthly values, drawn on the server as inline SVG: the
// pages' Content-Security-Policy allows no script and no inline style, so
// the chart is plain elements with classes (coloured by hub.css) and
// <title> tooltips. Its text comes from customers (company and
// installation names), so every string is XML-escaped here, and the
// geometry is computed from integers, so nothing else reaches the markup.

// Chart geometry, in viewBox units: the SVG scales to its box, so these
// only set the proportions and the text size relative to the lines.
const (
	chartWidth  = 640
	chartLeft   = 56  // room for the y-axis labels
	chartRight  = 32  // room for half the last month's label
	chartPanelH = 96  // one series' plot
	chartPanelT = 32  // room above a plot for its name
	chartAxisH  = 22  // room under the last plot for the month labels
	chartMaxX   = 12  // month labels drawn at most, so they never overlap
	chartDot    = 3.0 // radius of a month's point
)

// lineSeries is one line of a lineChart.
type lineSeries struct {
	// Name heads the series' panel and starts each point's tooltip.
	Name string
	// Class colours the line; it comes from code, and is dropped if it is
	// not a plain class name.
	Class string
	// Values has one value per label of the chart.
	Values []int64
}

// lineChart is a chart of monthly series, oldest month first. Each series
// gets its own panel and scale, one above the other on the same months:
// users and cases differ by orders of magnitude, so a shared axis would
// flatten one of them.
type lineChart struct {
	// Title is the chart's accessible name.
	Title  string
	Labels []string
	Series []lineSeries
}

// SVG renders the chart, or nothing when it has no months.
func (c lineChart) SVG() template.HTML {
	n := len(c.Labels)
	if n == 0 || len(c.Series) == 0 {
		return ""
	}
	height := len(c.Series)*(chartPanelT+chartPanelH) + chartAxisH
	plotW := float64(chartWidth - chartLeft - chartRight)
	x := func(i int) float64 {
		if n == 1 {
			return chartLeft + plotW/2
		}
		return chartLeft + plotW*float64(i)/float64(n-1)
	}
	var b strings.Builder
	b.WriteString(`<svg class="chart line" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `)
	b.WriteString(strconv.Itoa(chartWidth) + " " + strconv.Itoa(height))
	b.WriteString(`" role="img" aria-label="` + svgEsc(c.Title) + `"><title>` + svgEsc(c.Title) + `</title>`)
	for si, s := range c.Series {
		top := float64(si*(chartPanelT+chartPanelH) + chartPanelT)
		base := top + chartPanelH
		var most int64
		for _, v := range s.Values {
			most = max(most, v)
		}
		y := func(v int64) float64 {
			if most <= 0 || v <= 0 {
				return base
			}
			return base - chartPanelH*float64(v)/float64(most)
		}
		class := chartClass(s.Class)
		b.WriteString(`<g class="series ` + class + `">`)
		b.WriteString(`<text class="name" x="` + svgNum(chartLeft) + `" y="` + svgNum(top-8) + `">` + svgEsc(s.Name) + `</text>`)
		b.WriteString(`<line class="axis" x1="` + svgNum(chartLeft) + `" y1="` + svgNum(base) + `" x2="` + svgNum(chartWidth-chartRight) + `" y2="` + svgNum(base) + `"/>`)
		b.WriteString(`<line class="grid" x1="` + svgNum(chartLeft) + `" y1="` + svgNum(top) + `" x2="` + svgNum(chartWidth-chartRight) + `" y2="` + svgNum(top) + `"/>`)
		b.WriteString(`<text class="tick" x="` + svgNum(chartLeft-6) + `" y="` + svgNum(top+4) + `" text-anchor="end">` + strconv.FormatInt(most, 10) + `</text>`)
		b.WriteString(`<text class="tick" x="` + svgNum(chartLeft-6) + `" y="` + svgNum(base+4) + `" text-anchor="end">0</text>`)
		var pts []string
		for i := range n {
			pts = append(pts, svgNum(x(i))+","+svgNum(y(seriesValue(s.Values, i))))
		}
		b.WriteString(`<polyline class="line" points="` + strings.Join(pts, " ") + `"/>`)
		for i := range n {
			v := seriesValue(s.Values, i)
			b.WriteString(`<circle class="dot" cx="` + svgNum(x(i)) + `" cy="` + svgNum(y(v)) + `" r="` + svgNum(chartDot) + `"><title>`)
			b.WriteString(svgEsc(c.Labels[i] + ": " + strconv.FormatInt(v, 10) + " " + strings.ToLower(s.Name)))
			b.WriteString(`</title></circle>`)
		}
		b.WriteString(`</g>`)
	}
	step := (n + chartMaxX - 1) / chartMaxX
	axisY := float64(height - 6)
	for i := 0; i < n; i += step {
		b.WriteString(`<text class="month" x="` + svgNum(x(i)) + `" y="` + svgNum(axisY) + `" text-anchor="middle">` + svgEsc(c.Labels[i]) + `</text>`)
	}
	b.WriteString(`</svg>`)
	// Every string above is escaped or made from numbers.
	return template.HTML(b.String()) //nolint:gosec // built by this function from escaped text
}

// seriesValue is vs[i], or 0 for a series shorter than the chart's months.
func seriesValue(vs []int64, i int) int64 {
	if i < len(vs) {
		return vs[i]
	}
	return 0
}

// svgEsc escapes s for XML text and attribute values alike.
func svgEsc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}

// svgNum formats a coordinate with one decimal, which is finer than a pixel
// at any size the page shows the chart.
func svgNum(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// chartClass keeps a class name only if it is lowercase letters and
// dashes, so a mistake in code cannot open an attribute.
func chartClass(s string) string {
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '-' {
			return ""
		}
	}
	return s
}
