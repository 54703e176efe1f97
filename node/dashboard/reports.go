package dashboard

import (
	"context"
	"fmt"
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
