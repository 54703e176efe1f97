package main

import (
	"context"
	"math"
	"strings"

	"github.com/licmesh/licmesh/licensing/lease"
	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/spf13/cobra"
)

func poolColumns() []column[*v1.Pool] {
	type p = *v1.Pool
	return []column[p]{
		{"NAME", func(r p) string { return r.GetName() }},
		{"SEATS", func(r p) string { return u32(r.GetSeats()) }},
		{"ENFORCE", func(r p) string { return r.GetEnforce() }},
		{"HELD", func(r p) string { return u32(r.GetHeld()) }},
		{"PEAK", func(r p) string { return u32(r.GetPeakHeld()) }},
		{"OVERAGES", func(r p) string { return u64(r.GetOverageGrants()) }},
		{"SOURCE", func(r p) string { return r.GetSource() }},
		{"LAST OVERAGE", func(r p) string { return msTime(r.GetLastOverageMs()) }},
		// A pool's offline grace is also what a dead collector's seats
		// cost: they come back TTL + GRACE after its last renewal.
		{"GRACE", func(r p) string { return termDuration(r.GetGraceMs()) }},
		{"MAX BORROW", func(r p) string { return termDuration(r.GetMaxBorrowMs()) }},
		{"BORROWED", func(r p) string { return u32(r.GetBorrowed()) }},
		{"OFFLINE", func(r p) string { return offlinePolicy(r) }},
	}
}

// offlinePolicy says what a collector that reaches no master does for a
// new holder: "open" (admits it, counted as overage later, with how many
// it did so far) or "closed" (refuses).
func offlinePolicy(r *v1.Pool) string {
	if !r.GetFailOpen() {
		return "closed"
	}
	if n := r.GetOffline(); n > 0 {
		return "open (" + u32(n) + " held)"
	}
	return "open"
}

func (a *app) poolCommand() *cobra.Command {
	return group("pool", "Create and list seat pools",
		a.poolCreateCommand(),
		a.poolListCommand(),
	)
}

func (a *app) poolCreateCommand() *cobra.Command {
	var (
		out     format
		seats   int64
		enforce string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --seats N [--enforce hard|soft]",
		Short: "Create a seat pool",
		Long: `Create a seat pool. A hard pool refuses leases past its seats; a soft pool
grants them and records the overage.`,
		Args: oneArg("pool name"),
		PreRunE: func(_ *cobra.Command, args []string) error {
			if strings.TrimSpace(args[0]) == "" {
				return usagef("the pool name is blank")
			}
			if seats < 0 || seats > math.MaxUint32 {
				return usagef("--seats must be between 0 and %d, got %d", uint32(math.MaxUint32), seats)
			}
			if _, err := lease.ParseEnforcement(enforce); err != nil {
				return usagef("--enforce must be hard or soft, got %q", enforce)
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.CreatePool, &v1.CreatePoolRequest{
				Name:    args[0],
				Seats:   uint32(seats),
				Enforce: enforce,
			})
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, poolColumns(), res.GetPool())
		}),
	}
	fs := cmd.Flags()
	fs.Int64Var(&seats, "seats", 0, "number of seats (0 or more)")
	fs.StringVar(&enforce, "enforce", "hard", "hard (refuse past the seats) or soft (grant and record the overage)")
	_ = cmd.MarkFlagRequired("seats")
	addOutputFlag(fs, &out)
	return cmd
}

func (a *app) poolListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List seat pools and their use",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListPools, &v1.ListPoolsRequest{})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, poolColumns(), res.GetPools())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
