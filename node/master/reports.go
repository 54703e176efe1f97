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
	for _, u := range h.s.fsm.Utilization(fsm.UtilizationFilter{Month: m.Month, Pool: m.Pool, Departments: m.Departments}) {
		out.Rows = append(out.Rows, utilizationRow(u))
	}
	return connect.NewResponse(out), nil
}
