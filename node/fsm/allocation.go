package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/licmesh/licmesh/licensing/lease"
)

// Allocation (issue 17, seed 003 "License Assignment and Allocation"):
// departments, the holders and collectors that belong to each, and seat
// reservations inside a pool: a department's guaranteed seats and its cap.
//
// Admission with reservations keeps promise P1: the seats a pool has are
// shared as
//
//	claimed = held + Σ over its reservations of max(0, reserved - held by that department)
//
// that is, every seat held plus every reserved seat not yet used. A grant
// to a department under its reservation takes one of its reserved seats
// (claimed does not grow); any other grant takes a free one (claimed grows
// by one). The pool's own rule (lease.Pool.Admit) then decides with
// claimed in place of held, so a hard pool never holds more than its
// seats, and never lends a department's reserved seats to anyone else; a
// soft pool counts the same grant as overage. A department at its cap gets
// nothing more, in any pool kind.
//
// A lease counts for the department of its holder, else of its collector.
// Moving a holder or a collector moves its leases' counts with it; nothing
// held is cut, but a department moved past its cap gets no new seat until
// it is under it again.

const (
	maxDepartments      = 1_000
	maxDeptMembers      = 10_000
	maxReservations     = 10_000
	maxAssignmentEvents = 10_000
)

// Allocation errors.
var (
	// ErrUnknownDepartment means a command named a department that does
	// not exist.
	ErrUnknownDepartment = errors.New("fsm: unknown department")
	// ErrOverReserved means reservations would promise more seats than the
	// pool has.
	ErrOverReserved = errors.New("fsm: reservations exceed the pool's seats")
)

// Department is a group of holders and collectors whose seats count
// together.
type Department struct {
	Name string
	// Holders and Collectors are its members, sorted. A holder or a
	// collector belongs to one department at most.
	Holders    []string `json:",omitempty"`
	Collectors []string `json:",omitempty"`
	CreatedAt  int64
	UpdatedAt  int64
	UpdatedBy  string
}

// Reservation is a department's share of one pool.
type Reservation struct {
	Pool       string
	Department string
	// Reserved seats are the department's whatever others hold; Cap, when
	// not 0, is the most it may hold.
	Reserved  int
	Cap       int `json:",omitempty"`
	UpdatedAt int64
	UpdatedBy string
}

// Assignment is one move of a holder or a collector between departments,
// kept so that who used which seats for whom can be traced over time.
type Assignment struct {
	At int64
	// Kind is "holder" or "collector".
	Kind    string
	Subject string
	// From and To are departments; empty is none.
	From, To string `json:",omitempty"`
	By       string
}

type allocState struct {
	depts map[string]*Department
	// byHolder and byCollector map members to their department.
	byHolder, byCollector map[string]string
	// reservations by pool, then department.
	reservations map[string]map[string]Reservation
	history      []Assignment
	// held counts, per pool, the leases of each department; derived from
	// the leases (rebuilt by recount), kept only while any department
	// exists.
	held map[string]map[string]int
}

func newAllocState() *allocState {
	return &allocState{depts: map[string]*Department{}, byHolder: map[string]string{}, byCollector: map[string]string{},
		reservations: map[string]map[string]Reservation{}, held: map[string]map[string]int{}}
}

// deptOf is the department a lease of holder through collector counts for.
func (a *allocState) deptOf(holder, collector string) string {
	if d, ok := a.byHolder[holder]; ok {
		return d
	}
	return a.byCollector[collector]
}

// countDept adds d to the count of the lease's department in its pool,
// and returns the department.
func (s *state) countDept(pool, holder string, collector uint32, d int) string {
	a := s.alloc
	if len(a.depts) == 0 {
		return ""
	}
	dept := a.deptOf(holder, s.names.names[collector])
	if dept == "" {
		return ""
	}
	m := a.held[pool]
	if m == nil {
		m = map[string]int{}
		a.held[pool] = m
	}
	m[dept] += d
	if m[dept] == 0 {
		delete(m, dept)
	}
	return dept
}

// recount rebuilds the departments' counts from the leases. Within a
// command, the use so far is integrated first, by the counts it had.
func (s *state) recount() {
	for _, p := range s.pools {
		s.utilTick(p)
	}
	a := s.alloc
	a.held = map[string]map[string]int{}
	if len(a.depts) == 0 {
		return
	}
	for name, p := range s.pools {
		for holder, id := range p.holders {
			r, _ := s.lease(id)
			s.countDept(name, holder, r.collector, 1)
		}
	}
}

// admitDept decides an acquire by holder through collector in pool p, with
// held leases, under the pool's reservations and caps: the decision of
// p's own rule over claimed seats, and the refusal, if any, says why.
func (s *state) admitDept(p *poolState, holder, collector string, held int) (lease.Decision, error) {
	a := s.alloc
	res := a.reservations[p.pool.Name]
	if len(res) == 0 {
		return p.pool.Admit(held), nil
	}
	dept := a.deptOf(holder, collector)
	counts := a.held[p.pool.Name]
	if r, ok := res[dept]; ok && r.Cap > 0 && counts[dept] >= r.Cap {
		return lease.Decision{}, fmt.Errorf("%w: department %s holds %d seats of pool %s, its cap", ErrPoolFull, dept, counts[dept], p.pool.Name)
	}
	claimed := held
	for d, r := range res {
		claimed += max(0, r.Reserved-counts[d])
	}
	if r, ok := res[dept]; ok && counts[dept] < r.Reserved {
		claimed-- // the seat comes out of the department's own reservation
	}
	dec := p.pool.Admit(claimed)
	if !dec.Grant {
		return dec, fmt.Errorf("%w: the free seats of pool %s are reserved for departments", ErrPoolFull, p.pool.Name)
	}
	return dec, nil
}

// SetDepartment creates or replaces a department and its members, or with
// Remove deletes it (and its reservations).
type SetDepartment struct {
	Department Department
	Remove     bool `json:",omitempty"`
	By         string
	Now        int64
}

// SetReservation sets a department's reservation and cap in a pool, or
// with Remove drops it.
type SetReservation struct {
	Reservation Reservation
	Remove      bool `json:",omitempty"`
	By          string
	Now         int64
}

func (SetDepartment) msgType() MsgType  { return SetDepartmentType }
func (SetReservation) msgType() MsgType { return SetReservationType }

func (c SetDepartment) now() int64  { return c.Now }
func (c SetReservation) now() int64 { return c.Now }

func (c SetDepartment) validate() error {
	d := c.Department
	if err := CheckUserName(d.Name); err != nil {
		return fmt.Errorf("%w: department: %w", ErrMalformed, err)
	}
	if len(d.Holders)+len(d.Collectors) > maxDeptMembers {
		return fmt.Errorf("%w: department %s: %d members, at most %d", ErrMalformed, d.Name, len(d.Holders)+len(d.Collectors), maxDeptMembers)
	}
	for _, h := range d.Holders {
		if err := checkText("department holder", h, lease.MaxHolderLen); err != nil {
			return err
		}
	}
	for _, col := range d.Collectors {
		if err := checkID("department collector", col); err != nil {
			return err
		}
	}
	if dup := firstDup(d.Holders); dup != "" {
		return fmt.Errorf("%w: department %s: holder %q twice", ErrMalformed, d.Name, clip(dup))
	}
	if dup := firstDup(d.Collectors); dup != "" {
		return fmt.Errorf("%w: department %s: collector %q twice", ErrMalformed, d.Name, clip(dup))
	}
	return firstErr(checkNow(c.Now), checkText("by", c.By, 128))
}

func firstDup(xs []string) string {
	seen := map[string]bool{}
	for _, x := range xs {
		if seen[x] {
			return x
		}
		seen[x] = true
	}
	return ""
}

func (c SetReservation) validate() error {
	r := c.Reservation
	if err := CheckUserName(r.Department); err != nil {
		return fmt.Errorf("%w: reservation: %w", ErrMalformed, err)
	}
	if err := checkText("reservation pool", r.Pool, 128); err != nil {
		return err
	}
	switch {
	case c.Remove:
	case r.Reserved < 0 || r.Cap < 0 || r.Reserved > 1_000_000 || r.Cap > 1_000_000:
		return fmt.Errorf("%w: reservation of %s in %s: reserved %d and cap %d must be 0 to 1000000", ErrMalformed, r.Department, clip(r.Pool), r.Reserved, r.Cap)
	case r.Cap > 0 && r.Reserved > r.Cap:
		return fmt.Errorf("%w: reservation of %s in %s: %d reserved is more than its cap of %d", ErrMalformed, r.Department, clip(r.Pool), r.Reserved, r.Cap)
	case r.Reserved == 0 && r.Cap == 0:
		return fmt.Errorf("%w: reservation of %s in %s reserves nothing and caps nothing; remove it instead", ErrMalformed, r.Department, clip(r.Pool))
	}
	return firstErr(checkNow(c.Now), checkText("by", c.By, 128))
}

func applySetDepartment(s *state, ac *applyCtx, c *SetDepartment) Response {
	a := s.alloc
	name := c.Department.Name
	old, exists := a.depts[name]
	if c.Remove {
		if !exists {
			return Response{Err: fmt.Errorf("%w: %s", ErrUnknownDepartment, name)}
		}
		for _, h := range old.Holders {
			a.move(ac.at, "holder", h, name, "", c.By)
		}
		for _, col := range old.Collectors {
			a.move(ac.at, "collector", col, name, "", c.By)
		}
		delete(a.depts, name)
		for pool, res := range a.reservations {
			delete(res, name)
			if len(res) == 0 {
				delete(a.reservations, pool)
			}
		}
		s.recount()
		return Response{}
	}
	if !exists && len(a.depts) >= maxDepartments {
		return Response{Err: fmt.Errorf("%w: at most %d departments", ErrMalformed, maxDepartments)}
	}
	d := c.Department
	d.Holders, d.Collectors = slices.Sorted(slices.Values(d.Holders)), slices.Sorted(slices.Values(d.Collectors))
	d.UpdatedAt, d.UpdatedBy, d.CreatedAt = ac.at, c.By, ac.at
	if exists {
		d.CreatedAt = old.CreatedAt
		for _, h := range old.Holders {
			if !slices.Contains(d.Holders, h) {
				a.move(ac.at, "holder", h, name, "", c.By)
			}
		}
		for _, col := range old.Collectors {
			if !slices.Contains(d.Collectors, col) {
				a.move(ac.at, "collector", col, name, "", c.By)
			}
		}
	}
	for _, h := range d.Holders {
		if from := a.byHolder[h]; from != name {
			a.move(ac.at, "holder", h, from, name, c.By)
		}
	}
	for _, col := range d.Collectors {
		if from := a.byCollector[col]; from != name {
			a.move(ac.at, "collector", col, from, name, c.By)
		}
	}
	a.depts[name] = &d
	s.recount()
	return Response{}
}

// move records that subject left from for to (either may be empty) and
// keeps the member maps and the other department's list in step.
func (a *allocState) move(at int64, kind, subject, from, to, by string) {
	members, lists := a.byHolder, func(d *Department) *[]string { return &d.Holders }
	if kind == "collector" {
		members, lists = a.byCollector, func(d *Department) *[]string { return &d.Collectors }
	}
	if from != "" {
		if d, ok := a.depts[from]; ok {
			l := lists(d)
			*l = slices.DeleteFunc(slices.Clone(*l), func(x string) bool { return x == subject })
		}
		delete(members, subject)
	}
	if to != "" {
		members[subject] = to
	}
	a.history = append(a.history, Assignment{At: at, Kind: kind, Subject: subject, From: from, To: to, By: by})
	if n := len(a.history) - maxAssignmentEvents; n > 0 {
		a.history = slices.Clone(a.history[n:])
	}
}

func applySetReservation(s *state, ac *applyCtx, c *SetReservation) Response {
	a := s.alloc
	r := c.Reservation
	if _, ok := a.depts[r.Department]; !ok {
		return Response{Err: fmt.Errorf("%w: %s", ErrUnknownDepartment, r.Department)}
	}
	if c.Remove {
		if _, ok := a.reservations[r.Pool][r.Department]; !ok {
			return Response{Err: fmt.Errorf("%w: %s has no reservation in pool %s", ErrUnknownDepartment, r.Department, clip(r.Pool))}
		}
		delete(a.reservations[r.Pool], r.Department)
		if len(a.reservations[r.Pool]) == 0 {
			delete(a.reservations, r.Pool)
		}
		return Response{}
	}
	p, ok := s.pools[r.Pool]
	if !ok || p.source == SourceNone {
		return Response{Err: fmt.Errorf("%w: %s", ErrUnknownPool, clip(r.Pool))}
	}
	total := r.Reserved
	n := 0
	for d, x := range a.reservations[r.Pool] {
		if d != r.Department {
			total += x.Reserved
		}
		n++
	}
	if total > p.pool.Seats {
		return Response{Err: fmt.Errorf("%w: pool %s has %d seats, its reservations would hold %d", ErrOverReserved, r.Pool, p.pool.Seats, total)}
	}
	if _, ok := a.reservations[r.Pool][r.Department]; !ok && n >= maxReservations {
		return Response{Err: fmt.Errorf("%w: at most %d reservations per pool", ErrMalformed, maxReservations)}
	}
	if a.reservations[r.Pool] == nil {
		a.reservations[r.Pool] = map[string]Reservation{}
	}
	r.UpdatedAt, r.UpdatedBy = ac.at, c.By
	a.reservations[r.Pool][r.Department] = r
	return Response{}
}

// DepartmentView is a department with what it holds now.
type DepartmentView struct {
	Department
	// Held is, per pool, how many seats it holds; Reservations its shares.
	Held         map[string]int
	Reservations []Reservation
}

// Departments returns every department, by name.
func (f *FSM) Departments() []DepartmentView {
	f.mu.RLock()
	defer f.mu.RUnlock()
	a := f.st.alloc
	var out []DepartmentView
	for _, name := range slices.Sorted(maps.Keys(a.depts)) {
		d := *a.depts[name]
		d.Holders, d.Collectors = slices.Clone(d.Holders), slices.Clone(d.Collectors)
		v := DepartmentView{Department: d, Held: map[string]int{}}
		for pool, m := range a.held {
			if n := m[name]; n > 0 {
				v.Held[pool] = n
			}
		}
		for _, pool := range slices.Sorted(maps.Keys(a.reservations)) {
			if r, ok := a.reservations[pool][name]; ok {
				v.Reservations = append(v.Reservations, r)
			}
		}
		out = append(out, v)
	}
	return out
}

// Assignments returns the moves of holders and collectors, oldest first.
func (f *FSM) Assignments() []Assignment {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return slices.Clone(f.st.alloc.history)
}

// Snapshot record kinds 28 to 30, after the alert reads' and counted with
// the alerts' in the end record:
//
//	28 department   one department, by name
//	29 reservation  one reservation, by pool then department
//	30 assignment   one move, oldest first
const (
	recDepartment  byte = 28
	recReservation byte = 29
	recAssignment  byte = 30
)

func (a *allocState) snapshot() ([]snapRecord, error) {
	var out []snapRecord
	add := func(kind byte, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("fsm: snapshot: allocation: %w", err)
		}
		out = append(out, snapRecord{kind, b})
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(a.depts)) {
		if err := add(recDepartment, a.depts[name]); err != nil {
			return nil, err
		}
	}
	for _, pool := range slices.Sorted(maps.Keys(a.reservations)) {
		for _, d := range slices.Sorted(maps.Keys(a.reservations[pool])) {
			if err := add(recReservation, a.reservations[pool][d]); err != nil {
				return nil, err
			}
		}
	}
	for _, h := range a.history {
		if err := add(recAssignment, h); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (rs *restorer) allocRecord(kind byte, body []byte) error {
	a := rs.st.alloc
	switch kind {
	case recDepartment:
		var d Department
		if err := strictJSON(body, &d); err != nil {
			return badSnap("department: %v", err)
		}
		if err := (SetDepartment{Department: d, By: max(d.UpdatedBy, "-"), Now: max(d.UpdatedAt, 1)}).validate(); err != nil {
			return badSnap("department: %v", err)
		}
		if err := rs.ordered("department", d.Name); err != nil {
			return err
		}
		for _, h := range d.Holders {
			if _, taken := a.byHolder[h]; taken {
				return badSnap("holder %q in two departments", clip(h))
			}
			a.byHolder[h] = d.Name
		}
		for _, c := range d.Collectors {
			if _, taken := a.byCollector[c]; taken {
				return badSnap("collector %q in two departments", clip(c))
			}
			a.byCollector[c] = d.Name
		}
		a.depts[d.Name] = &d
	case recReservation:
		var r Reservation
		if err := strictJSON(body, &r); err != nil {
			return badSnap("reservation: %v", err)
		}
		if err := (SetReservation{Reservation: r, By: max(r.UpdatedBy, "-"), Now: max(r.UpdatedAt, 1)}).validate(); err != nil {
			return badSnap("reservation: %v", err)
		}
		if _, ok := a.depts[r.Department]; !ok {
			return badSnap("reservation for unknown department %q", clip(r.Department))
		}
		if err := rs.ordered("reservation", r.Pool+"\x00"+r.Department); err != nil {
			return err
		}
		if a.reservations[r.Pool] == nil {
			a.reservations[r.Pool] = map[string]Reservation{}
		}
		a.reservations[r.Pool][r.Department] = r
	case recAssignment:
		var h Assignment
		if err := strictJSON(body, &h); err != nil {
			return badSnap("assignment: %v", err)
		}
		if len(a.history) >= maxAssignmentEvents || (h.Kind != "holder" && h.Kind != "collector") {
			return badSnap("assignment: kind %q or too many", clip(h.Kind))
		}
		a.history = append(a.history, h)
	}
	rs.counts[7]++
	return nil
}
