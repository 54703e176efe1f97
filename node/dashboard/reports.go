package dashboard

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
	"github.com/licmesh/licmesh/mesh/usagewire"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// UtilizationFunc reads the seats' utilization (GetUtilization).
type UtilizationFunc func(ctx context.Context, req *licmeshv1.GetUtilizationRequest) (*licmeshv1.GetUtilizationResponse, error)

// utilBarWidth is the width, in SVG units, of a pool's bar.
const utilBarWidth = 240

type utilPoolRow struct {
	Pool                     string
	Seats, Peak, Idle        uint32
	Average, AtLimit, Cost   string
	AvgW, PeakX, SeatsW, BoW int // the bar's geometry
}

type utilDeptRow struct {
	Pool, Department string
	Peak             uint32
	Average, Cost    string
}

type reportsView struct {
	Month, Query string
	Months       []string
	Pools        []utilPoolRow
	Departments  []utilDeptRow
	// Trends are each pool's months, oldest first, as a line.
	Trends []utilTrend
}

// utilTrend is one pool's average held month by month, as an SVG
// polyline's points, with its seats as the top.
type utilTrend struct {
	Pool, Points, First, Last string
	Months                    int
	W, H                      int
}

func reportsQuery(r *http.Request) (*licmeshv1.GetUtilizationRequest, error) {
	month := strings.TrimSpace(r.URL.Query().Get("month"))
	if month != "" {
		if _, err := time.Parse("2006-01", month); err != nil {
			return nil, fmt.Errorf("month %q is not like 2026-12", month)
		}
	}
	return &licmeshv1.GetUtilizationRequest{Month: month, Departments: true}, nil
}

func loadReports(ctx context.Context, h *Handler, r *http.Request) (string, any, int, error) {
	req, err := reportsQuery(r)
	if err != nil {
		return "Reports", reportsView{}, http.StatusBadRequest, err
	}
	all, err := h.cfg.Utilization(ctx, &licmeshv1.GetUtilizationRequest{})
	if err != nil {
		return "Reports", reportsView{}, http.StatusServiceUnavailable, err
	}
	v := reportsView{Month: req.Month}
	for _, row := range all.GetRows() {
		if !slices.Contains(v.Months, row.GetMonth()) {
			v.Months = append(v.Months, row.GetMonth())
		}
	}
	if v.Month == "" && len(v.Months) > 0 {
		v.Month = v.Months[0] // the newest
	}
	v.Query = url.Values{"month": {v.Month}}.Encode()
	v.Trends = trends(all.GetRows())
	if v.Month == "" {
		return "Reports", v, http.StatusOK, nil
	}
	rows, err := h.cfg.Utilization(ctx, &licmeshv1.GetUtilizationRequest{Month: v.Month, Departments: true})
	if err != nil {
		return "Reports", v, http.StatusServiceUnavailable, err
	}
	for _, x := range rows.GetRows() {
		if x.GetDepartment() != "" {
			v.Departments = append(v.Departments, utilDeptRow{Pool: x.GetPool(), Department: x.GetDepartment(), Peak: x.GetPeak(),
				Average: fmt.Sprintf("%.2f", x.GetAverageHeld()), Cost: usagewire.CostText(x.GetCostMinor(), x.GetCurrency())})
			continue
		}
		p := utilPoolRow{Pool: x.GetPool(), Seats: x.GetSeats(), Peak: x.GetPeak(), Idle: x.GetIdleSeats(),
			Average: fmt.Sprintf("%.2f", x.GetAverageHeld()), AtLimit: fmt.Sprintf("%.1f%%", 100*x.GetLimitShare()), SeatsW: utilBarWidth,
			Cost: usagewire.CostText(x.GetCostMinor(), x.GetCurrency())}
		scale := float64(max(x.GetSeats(), x.GetPeak(), 1))
		p.SeatsW = int(float64(utilBarWidth) * float64(x.GetSeats()) / scale)
		p.AvgW = int(float64(utilBarWidth) * x.GetAverageHeld() / scale)
		p.PeakX = int(float64(utilBarWidth) * float64(x.GetPeak()) / scale)
		p.BoW = utilBarWidth
		v.Pools = append(v.Pools, p)
	}
	return "Reports", v, http.StatusOK, nil
}

// reportsGrid is the Reports page's month as a grid, for its downloads.
func reportsGrid(ctx context.Context, h *Handler, r *http.Request) (*usagegrid.Grid, int, error) {
	req, err := reportsQuery(r)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	rows, err := h.cfg.Utilization(ctx, req)
	if err != nil {
		return nil, http.StatusServiceUnavailable, err
	}
	return usagewire.UtilizationGrid(rows.GetRows()), http.StatusOK, nil
}

const (
	trendW = 240
	trendH = 40
)

// trends draws each pool's average held across the months kept.
func trends(rows []*licmeshv1.UtilizationRow) []utilTrend {
	byPool := map[string][]*licmeshv1.UtilizationRow{}
	for _, r := range rows {
		if r.GetDepartment() == "" {
			byPool[r.GetPool()] = append(byPool[r.GetPool()], r)
		}
	}
	var out []utilTrend
	for _, pool := range slices.Sorted(maps.Keys(byPool)) {
		rs := byPool[pool]
		slices.SortFunc(rs, func(a, b *licmeshv1.UtilizationRow) int { return strings.Compare(a.GetMonth(), b.GetMonth()) })
		top := 1.0
		for _, r := range rs {
			top = max(top, float64(r.GetSeats()), float64(r.GetPeak()))
		}
		var pts []string
		for i, r := range rs {
			x := 0
			if len(rs) > 1 {
				x = i * trendW / (len(rs) - 1)
			}
			y := trendH - int(float64(trendH)*r.GetAverageHeld()/top)
			pts = append(pts, fmt.Sprintf("%d,%d", x, y))
		}
		out = append(out, utilTrend{Pool: pool, Points: strings.Join(pts, " "), First: rs[0].GetMonth(), Last: rs[len(rs)-1].GetMonth(),
			Months: len(rs), W: trendW, H: trendH})
	}
	return out
}
