package master

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// Reports (issue 17, seed 003 "Usage Analytics and Reporting"): the
// utilization the FSM integrates on trusted time (fsm/utilization.go),
// as averages, peaks, time at the limit and idle seats.

func utilizationRow(u fsm.Utilization) *licmeshv1.UtilizationRow {
	r := &licmeshv1.UtilizationRow{Month: u.Month, Pool: u.Pool, Department: u.Department, Seats: uint32(u.Seats),
		Peak: uint32(u.Peak), ObservedMs: u.ObservedMs}
	if u.ObservedMs > 0 {
		r.AverageHeld = float64(u.SeatMs) / float64(u.ObservedMs)
		r.LimitShare = float64(u.LimitMs) / float64(u.ObservedMs)
	}
	if u.Department == "" && u.Seats > u.Peak {
		r.IdleSeats = uint32(u.Seats - u.Peak)
	}
	if u.Department != "" {
		r.Seats = 0
	}
	return r
}

func (h adminHandler) GetUtilization(ctx context.Context, req *connect.Request[licmeshv1.GetUtilizationRequest]) (*connect.Response[licmeshv1.GetUtilizationResponse], error) {
	m := req.Msg
	if m.Month != "" {
		if _, err := time.Parse("2006-01", m.Month); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: month %q: want YYYY-MM", ErrBadRequest, clipText(m.Month)))
		}
	}
	out := &licmeshv1.GetUtilizationResponse{}
	rows := h.s.fsm.Utilization(fsm.UtilizationFilter{Month: m.Month, Pool: m.Pool, Departments: m.Departments})
	costs, currency := h.s.fsm.PoolCosts()
	poolSeatMs := map[string]int64{}
	for _, u := range rows {
		if u.Department == "" {
			poolSeatMs[u.Month+"\x00"+u.Pool] = u.SeatMs
		}
	}
	for _, u := range rows {
		r := utilizationRow(u)
		if cost, ok := costs[u.Pool]; ok {
			r.Currency, r.CostMinor = currency, cost
			if u.Department != "" {
				// A department's share of the pool's month, by seat-time.
				r.CostMinor = 0
				if total := poolSeatMs[u.Month+"\x00"+u.Pool]; total > 0 {
					r.CostMinor = int64(float64(cost) * float64(u.SeatMs) / float64(total))
				}
			}
		}
		out.Rows = append(out.Rows, r)
	}
	return connect.NewResponse(out), nil
}

func costToWire(c fsm.LicenseCost) *licmeshv1.LicenseCost {
	return &licmeshv1.LicenseCost{LicenseId: c.License, AmountMinor: c.Amount, Currency: c.Currency, Period: c.Period, Owner: c.Owner,
		PurchasedAtMs: c.PurchasedAt, Note: c.Note, UpdatedAtMs: c.UpdatedAt, UpdatedBy: c.UpdatedBy}
}

func (h adminHandler) SetLicenseCost(ctx context.Context, req *connect.Request[licmeshv1.SetLicenseCostRequest]) (*connect.Response[licmeshv1.SetLicenseCostResponse], error) {
	w := req.Msg.GetCost()
	c := fsm.LicenseCost{License: w.GetLicenseId(), Amount: w.GetAmountMinor(), Currency: w.GetCurrency(), Period: w.GetPeriod(),
		Owner: w.GetOwner(), PurchasedAt: w.GetPurchasedAtMs(), Note: w.GetNote()}
	cmd := fsm.SetLicenseCost{Cost: c, Remove: req.Msg.Remove, By: adminCaller(ctx), Now: h.s.now().UnixMilli()}
	if _, err := h.s.apply(ctx, fsm.SetLicenseCostType, cmd); err != nil {
		return nil, toConnect(err)
	}
	out := &licmeshv1.SetLicenseCostResponse{}
	for _, x := range h.s.fsm.Costs() {
		if x.License == c.License {
			out.Cost = costToWire(x)
		}
	}
	return connect.NewResponse(out), nil
}

func (h adminHandler) ListLicenseCosts(ctx context.Context, _ *connect.Request[licmeshv1.ListLicenseCostsRequest]) (*connect.Response[licmeshv1.ListLicenseCostsResponse], error) {
	out := &licmeshv1.ListLicenseCostsResponse{}
	for _, c := range h.s.fsm.Costs() {
		out.Costs = append(out.Costs, costToWire(c))
	}
	return connect.NewResponse(out), nil
}
