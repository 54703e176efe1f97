package usagewire

import (
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/usage/usagegrid"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// UtilizationGrid lays utilization rows out as a grid, so the usage
// grids' table, CSV and Excel writers serve them too (meshctl report
// utilization, the dashboard's Reports page).
func UtilizationGrid(rows []*licmeshv1.UtilizationRow) *usagegrid.Grid {
	g := &usagegrid.Grid{Title: "Utilization", Subject: "seats", Zone: time.UTC, Columns: []usagegrid.Column{
		{Key: "month", Header: "MONTH"}, {Key: "pool", Header: "POOL"}, {Key: "department", Header: "DEPARTMENT"},
		{Key: "seats", Header: "SEATS", Kind: usagegrid.Number}, {Key: "peak", Header: "PEAK", Kind: usagegrid.Number},
		{Key: "average", Header: "AVERAGE HELD"}, {Key: "limit", Header: "AT LIMIT"},
		{Key: "idle", Header: "IDLE SEATS", Kind: usagegrid.Number},
		{Key: "cost", Header: "COST"},
	}}
	for _, r := range rows {
		num := func(n uint32) usagegrid.Cell { return usagegrid.Cell{Text: fmt.Sprint(n), Number: int64(n)} }
		limit := ""
		if r.GetDepartment() == "" {
			limit = fmt.Sprintf("%.1f%%", 100*r.GetLimitShare())
		}
		seats, idle := num(r.GetSeats()), num(r.GetIdleSeats())
		if r.GetDepartment() != "" {
			seats, idle = usagegrid.Cell{}, usagegrid.Cell{}
		}
		g.Rows = append(g.Rows, usagegrid.Row{Cells: []usagegrid.Cell{
			{Text: r.GetMonth()}, {Text: r.GetPool()}, {Text: r.GetDepartment()}, seats, num(r.GetPeak()),
			{Text: fmt.Sprintf("%.2f", r.GetAverageHeld())}, {Text: limit}, idle, {Text: CostText(r.GetCostMinor(), r.GetCurrency())},
		}})
	}
	return g
}

// CostText shows minor units of currency as "1200.50 EUR"; empty without
// a currency.
func CostText(minor int64, currency string) string {
	if currency == "" {
		return ""
	}
	return fmt.Sprintf("%d.%02d %s", minor/100, minor%100, currency)
}
