package master

import (
	"context"
	"fmt"
	"slices"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// Allocation (fsm/allocation.go): departments, their members, and seat
// reservations and caps inside pools, which the FSM enforces on every
// acquire.

func reservationToWire(r fsm.Reservation) *licmeshv1.Reservation {
	return &licmeshv1.Reservation{Pool: r.Pool, Department: r.Department, Reserved: uint32(r.Reserved), Cap: uint32(r.Cap),
		UpdatedAtMs: r.UpdatedAt, UpdatedBy: r.UpdatedBy}
}

func departmentToWire(d fsm.DepartmentView) *licmeshv1.Department {
	w := &licmeshv1.Department{Name: d.Name, Holders: d.Holders, Collectors: d.Collectors, CreatedAtMs: d.CreatedAt,
		UpdatedAtMs: d.UpdatedAt, UpdatedBy: d.UpdatedBy, Held: map[string]uint32{}}
	for pool, n := range d.Held {
		w.Held[pool] = uint32(n)
	}
	for _, r := range d.Reservations {
		w.Reservations = append(w.Reservations, reservationToWire(r))
	}
	return w
}

func (s *Server) department(name string) *licmeshv1.Department {
	for _, d := range s.fsm.Departments() {
		if d.Name == name {
			return departmentToWire(d)
		}
	}
	return nil
}

func (h adminHandler) ListDepartments(ctx context.Context, _ *connect.Request[licmeshv1.ListDepartmentsRequest]) (*connect.Response[licmeshv1.ListDepartmentsResponse], error) {
	out := &licmeshv1.ListDepartmentsResponse{}
	for _, d := range h.s.fsm.Departments() {
		out.Departments = append(out.Departments, departmentToWire(d))
	}
	return connect.NewResponse(out), nil
}

func (h adminHandler) SetDepartment(ctx context.Context, req *connect.Request[licmeshv1.SetDepartmentRequest]) (*connect.Response[licmeshv1.SetDepartmentResponse], error) {
	m := req.Msg
	cmd := fsm.SetDepartment{Department: fsm.Department{Name: m.Name, Holders: m.Holders, Collectors: m.Collectors},
		Remove: m.Remove, By: adminCaller(ctx), Now: h.s.now().UnixMilli()}
	if m.Remove && (len(m.Holders) > 0 || len(m.Collectors) > 0) {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: remove names the department only", ErrBadRequest))
	}
	for _, c := range m.Collectors {
		if _, ok := h.s.fsm.Collector(c); !ok {
			return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("%w: collector %q is not enrolled", fsm.ErrUnknownCollector, clipText(c)))
		}
	}
	if _, err := h.s.apply(ctx, fsm.SetDepartmentType, cmd); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("department set", "department", m.Name, "holders", len(m.Holders), "collectors", len(m.Collectors), "remove", m.Remove, "by", cmd.By)
	return connect.NewResponse(&licmeshv1.SetDepartmentResponse{Department: h.s.department(m.Name)}), nil
}

func (h adminHandler) SetReservation(ctx context.Context, req *connect.Request[licmeshv1.SetReservationRequest]) (*connect.Response[licmeshv1.SetReservationResponse], error) {
	m := req.Msg
	r := fsm.Reservation{Pool: m.Pool, Department: m.Department, Reserved: int(m.Reserved), Cap: int(m.Cap)}
	cmd := fsm.SetReservation{Reservation: r, Remove: m.Remove, By: adminCaller(ctx), Now: h.s.now().UnixMilli()}
	if _, err := h.s.apply(ctx, fsm.SetReservationType, cmd); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("reservation set", "pool", m.Pool, "department", m.Department, "reserved", m.Reserved, "cap", m.Cap, "remove", m.Remove, "by", cmd.By)
	out := &licmeshv1.SetReservationResponse{}
	if d := h.s.department(m.Department); d != nil {
		for _, x := range d.Reservations {
			if x.Pool == m.Pool {
				out.Reservation = x
			}
		}
	}
	return connect.NewResponse(out), nil
}

func (h adminHandler) ListAssignments(ctx context.Context, req *connect.Request[licmeshv1.ListAssignmentsRequest]) (*connect.Response[licmeshv1.ListAssignmentsResponse], error) {
	out := &licmeshv1.ListAssignmentsResponse{}
	for _, a := range slices.Backward(h.s.fsm.Assignments()) {
		if req.Msg.Subject != "" && a.Subject != req.Msg.Subject {
			continue
		}
		out.Assignments = append(out.Assignments, &licmeshv1.Assignment{AtMs: a.At, Kind: a.Kind, Subject: a.Subject, From: a.From, To: a.To, By: a.By})
	}
	return connect.NewResponse(out), nil
}
