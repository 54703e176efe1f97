package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func departmentColumns() []column[*v1.Department] {
	type d = *v1.Department
	return []column[d]{
		{"NAME", func(x d) string { return x.GetName() }},
		{"HOLDERS", func(x d) string { return strings.Join(x.GetHolders(), ",") }},
		{"COLLECTORS", func(x d) string { return strings.Join(x.GetCollectors(), ",") }},
		{"HELD", func(x d) string {
			var parts []string
			for _, pool := range slices.Sorted(maps.Keys(x.GetHeld())) {
				parts = append(parts, fmt.Sprintf("%s %d", pool, x.GetHeld()[pool]))
			}
			return strings.Join(parts, ", ")
		}},
		{"RESERVATIONS", func(x d) string {
			var parts []string
			for _, r := range x.GetReservations() {
				s := fmt.Sprintf("%s %d", r.GetPool(), r.GetReserved())
				if r.GetCap() > 0 {
					s += fmt.Sprintf(" (cap %d)", r.GetCap())
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, ", ")
		}},
		{"UPDATED", func(x d) string { return msTime(x.GetUpdatedAtMs()) }},
	}
}

func (a *app) deptCommand() *cobra.Command {
	return group("dept", "Departments: who counts together, and their reserved seats and caps in pools",
		a.deptListCommand(), a.deptSetCommand(), a.deptRemoveCommand(), a.deptReserveCommand(), a.deptHistoryCommand())
}

func (a *app) deptListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the departments, their members, seats held and reservations",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListDepartments, &v1.ListDepartmentsRequest{})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, departmentColumns(), res.GetDepartments())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) deptSetCommand() *cobra.Command {
	var (
		out                 format
		holders, collectors string
	)
	cmd := &cobra.Command{
		Use:   "set NAME [--holders a,b] [--collectors c1,c2]",
		Short: "Create a department or replace its members",
		Long: `Create a department or replace its members. A lease counts for the
department of its holder, else of its collector. A holder or a collector
in another department moves here; each move is kept ('meshctl dept
history'). Seats already held are never cut by a move.`,
		Args: oneArg("department name"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.SetDepartment, &v1.SetDepartmentRequest{Name: args[0], Holders: splitList(holders), Collectors: splitList(collectors)})
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, departmentColumns(), res.GetDepartment())
		}),
	}
	cmd.Flags().StringVar(&holders, "holders", "", "the holders (users, sessions) in it, comma-separated")
	cmd.Flags().StringVar(&collectors, "collectors", "", "the collectors in it, comma-separated")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) deptRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a department and its reservations",
		Args:  oneArg("department name"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			if _, err := call(ctx, a, admin.SetDepartment, &v1.SetDepartmentRequest{Name: args[0], Remove: true}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "removed department %s\n", args[0])
			return err
		}),
	}
}

func (a *app) deptReserveCommand() *cobra.Command {
	var (
		out            format
		pool           string
		reserved, capN int64
		remove         bool
	)
	cmd := &cobra.Command{
		Use:   "reserve NAME --pool P [--reserved N] [--cap M] | --remove",
		Short: "Reserve seats for a department in a pool, and cap what it may hold",
		Long: `Reserve seats for a department in a pool: they are the department's
whatever others hold, and no one else gets them. --cap is the most the
department may hold in the pool (0: no cap). A pool's reservations never
add up to more than its seats.`,
		Args: oneArg("department name"),
		PreRunE: func(*cobra.Command, []string) error {
			switch {
			case pool == "":
				return usagef("--pool is required")
			case reserved < 0 || capN < 0 || reserved > 1_000_000 || capN > 1_000_000:
				return usagef("--reserved and --cap must be 0 to 1000000")
			case !remove && reserved == 0 && capN == 0:
				return usagef("give --reserved, --cap, or --remove")
			case remove && (reserved > 0 || capN > 0):
				return usagef("--remove takes no --reserved or --cap")
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.SetReservation, &v1.SetReservationRequest{Pool: pool, Department: args[0],
				Reserved: uint32(reserved), Cap: uint32(capN), Remove: remove})
			if err != nil {
				return err
			}
			if remove {
				_, err = fmt.Fprintf(a.stdout, "removed the reservation of %s in %s\n", args[0], pool)
				return err
			}
			type r = *v1.Reservation
			return printOne(a.stdout, out, res, []column[r]{
				{"POOL", func(x r) string { return x.GetPool() }},
				{"DEPARTMENT", func(x r) string { return x.GetDepartment() }},
				{"RESERVED", func(x r) string { return u32(x.GetReserved()) }},
				{"CAP", func(x r) string { return u32(x.GetCap()) }},
			}, res.GetReservation())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&pool, "pool", "", "the pool")
	fs.Int64Var(&reserved, "reserved", 0, "seats kept for the department")
	fs.Int64Var(&capN, "cap", 0, "the most the department may hold (0: no cap)")
	fs.BoolVar(&remove, "remove", false, "drop the reservation")
	addOutputFlag(fs, &out)
	return cmd
}

func (a *app) deptHistoryCommand() *cobra.Command {
	var (
		out     format
		subject string
	)
	cmd := &cobra.Command{
		Use:   "history [--subject HOLDER|COLLECTOR]",
		Short: "List the moves of holders and collectors between departments, newest first",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListAssignments, &v1.ListAssignmentsRequest{Subject: subject})
			if err != nil {
				return err
			}
			type x = *v1.Assignment
			return printList(a.stdout, out, res, []column[x]{
				{"AT", func(r x) string { return msTime(r.GetAtMs()) }},
				{"KIND", func(r x) string { return r.GetKind() }},
				{"SUBJECT", func(r x) string { return r.GetSubject() }},
				{"FROM", func(r x) string { return r.GetFrom() }},
				{"TO", func(r x) string { return r.GetTo() }},
				{"BY", func(r x) string { return r.GetBy() }},
			}, res.GetAssignments())
		}),
	}
	cmd.Flags().StringVar(&subject, "subject", "", "one holder's or collector's moves")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
