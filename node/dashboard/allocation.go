package dashboard

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// PermUsers is the permission to decide purchase requests (admins).
const PermUsers = "users"

// AllocationFuncs are the dashboard's way to departments and purchases;
// a nil List leaves the Allocation page out.
type AllocationFuncs struct {
	Departments func(ctx context.Context) ([]*licmeshv1.Department, error)
	Purchases   func(ctx context.Context) ([]*licmeshv1.Purchase, error)
	// Request files a purchase request; Decide approves or declines one.
	Request func(ctx context.Context, req *licmeshv1.RequestPurchaseRequest) error
	Decide  func(ctx context.Context, id string, approve bool, note string) error
	// SetDepartment creates or replaces a department's members;
	// Reserve sets its reservation in a pool.
	SetDepartment func(ctx context.Context, req *licmeshv1.SetDepartmentRequest) error
	Reserve       func(ctx context.Context, req *licmeshv1.SetReservationRequest) error
}

type deptRow struct {
	Name, Members, Held, Reservations string
}

type purchaseRow struct {
	ID, SKU, Asks, State, By, DecidedBy, Answer, Reason string
	Requested                                           timeView
	Pending                                             bool
}

type allocationView struct {
	Departments []deptRow
	Purchases   []purchaseRow
	CanRequest  bool
	CanDecide   bool
	// CanEdit shows the department and reservation forms.
	CanEdit bool
}

func loadAllocation(ctx context.Context, h *Handler, _ *http.Request) (string, any, int, error) {
	f := h.cfg.Allocation
	v := allocationView{CanRequest: f.Request != nil && can(ctx, PermLicenses), CanDecide: f.Decide != nil && can(ctx, PermUsers),
		CanEdit: f.SetDepartment != nil && f.Reserve != nil && can(ctx, PermLicenses)}
	ds, err := f.Departments(ctx)
	if err != nil {
		return "Allocation", v, http.StatusServiceUnavailable, err
	}
	for _, d := range ds {
		var members []string
		members = append(members, d.GetHolders()...)
		for _, c := range d.GetCollectors() {
			members = append(members, "collector "+c)
		}
		var held []string
		for _, p := range slices.Sorted(maps.Keys(d.GetHeld())) {
			held = append(held, fmt.Sprintf("%s %d", p, d.GetHeld()[p]))
		}
		var res []string
		for _, r := range d.GetReservations() {
			s := fmt.Sprintf("%s: %d reserved", r.GetPool(), r.GetReserved())
			if r.GetCap() > 0 {
				s += fmt.Sprintf(", cap %d", r.GetCap())
			}
			res = append(res, s)
		}
		v.Departments = append(v.Departments, deptRow{Name: d.GetName(), Members: strings.Join(members, ", "),
			Held: strings.Join(held, ", "), Reservations: strings.Join(res, "; ")})
	}
	if f.Purchases != nil {
		ps, err := f.Purchases(ctx)
		if err != nil {
			return "Allocation", v, http.StatusServiceUnavailable, err
		}
		for _, p := range ps {
			asks := fmt.Sprintf("%d seats of %s", p.GetQuantity(), p.GetPool())
			if p.GetModule() != "" {
				asks = "module " + p.GetModule()
			}
			v.Purchases = append(v.Purchases, purchaseRow{ID: p.GetId(), SKU: p.GetSku(), Asks: asks, State: p.GetState(),
				By: p.GetRequestedBy(), DecidedBy: p.GetDecidedBy(), Answer: p.GetAnswer(), Reason: p.GetReason(),
				Requested: h.timeAt(p.GetRequestedAtMs()), Pending: p.GetState() == "requested"})
		}
	}
	return "Allocation", v, http.StatusOK, nil
}

func (h *Handler) requestPurchase(ctx context.Context, r *http.Request) error {
	f := r.PostForm
	q, err := strconv.ParseUint(strings.TrimSpace(f.Get("quantity")), 10, 32)
	if f.Get("module") == "" && (err != nil || q == 0) {
		return fmt.Errorf("give a number of seats, or a module")
	}
	return h.cfg.Allocation.Request(ctx, &licmeshv1.RequestPurchaseRequest{Sku: strings.TrimSpace(f.Get("sku")), Pool: strings.TrimSpace(f.Get("pool")),
		Quantity: uint32(q), Module: strings.TrimSpace(f.Get("module")), Reason: strings.TrimSpace(f.Get("reason"))})
}

func (h *Handler) decidePurchase(ctx context.Context, r *http.Request) error {
	f := r.PostForm
	return h.cfg.Allocation.Decide(ctx, f.Get("id"), f.Get("decision") == "approve", strings.TrimSpace(f.Get("note")))
}

func (h *Handler) setDepartment(ctx context.Context, r *http.Request) error {
	f := r.PostForm
	return h.cfg.Allocation.SetDepartment(ctx, &licmeshv1.SetDepartmentRequest{Name: strings.TrimSpace(f.Get("name")),
		Holders: splitComma(f.Get("holders")), Collectors: splitComma(f.Get("collectors"))})
}

func (h *Handler) reserve(ctx context.Context, r *http.Request) error {
	f := r.PostForm
	num := func(name string) (uint32, error) {
		s := strings.TrimSpace(f.Get(name))
		if s == "" {
			return 0, nil
		}
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%s %q is not a number of seats", name, s)
		}
		return uint32(n), nil
	}
	reserved, err := num("reserved")
	if err != nil {
		return err
	}
	capN, err := num("cap")
	if err != nil {
		return err
	}
	return h.cfg.Allocation.Reserve(ctx, &licmeshv1.SetReservationRequest{Department: strings.TrimSpace(f.Get("department")),
		Pool: strings.TrimSpace(f.Get("pool")), Reserved: reserved, Cap: capN, Remove: reserved == 0 && capN == 0})
}
