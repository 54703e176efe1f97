package main

import (
	"context"
	"math"

	"github.com/licmesh/licmesh/mesh/wire"
	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/spf13/cobra"
)

func leaseColumns() []column[*v1.Lease] {
	type l = *v1.Lease
	return []column[l]{
		{"ID", func(r l) string { return u64(r.GetId()) }},
		{"POOL", func(r l) string { return r.GetPool() }},
		{"HOLDER", func(r l) string { return r.GetHolder() }},
		{"COLLECTOR", func(r l) string { return r.GetCollectorId() }},
		{"FENCE", func(r l) string { return u64(r.GetFence()) }},
		{"GRANTED", func(r l) string { return msTime(r.GetGrantedAtMs()) }},
		{"EXPIRES", func(r l) string { return msTime(r.GetExpiresAtMs()) }},
		{"GRACE", func(r l) string { return termDuration(r.GetGraceMs()) }},
		{"KIND", wire.LeaseKind},
	}
}

func (a *app) leaseCommand() *cobra.Command {
	return group("lease", "Inspect seat leases, borrow a seat", a.leaseListCommand(), a.leaseBorrowCommand())
}

func (a *app) leaseListCommand() *cobra.Command {
	var (
		out   format
		req   v1.ListLeasesRequest
		limit int64
	)
	cmd := &cobra.Command{
		Use:   "list [--pool P] [--holder H] [--collector C] [--borrowed] [--limit N]",
		Short: "List seat leases, optionally filtered",
		Args:  noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if limit < 0 || limit > math.MaxUint32 {
				return usagef("--limit must be between 0 and %d, got %d", uint32(math.MaxUint32), limit)
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			req.Limit = uint32(limit)
			res, err := call(ctx, a, admin.ListLeases, &req)
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, leaseColumns(), res.GetLeases())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&req.Pool, "pool", "", "only leases of this pool")
	fs.StringVar(&req.Holder, "holder", "", "only leases held by this holder")
	fs.StringVar(&req.CollectorId, "collector", "", "only leases granted to this collector ID")
	fs.BoolVar(&req.Borrowed, "borrowed", false, "only borrowed leases (lent until EXPIRES)")
	fs.Int64Var(&limit, "limit", 0, "at most this many leases (0: the master's default)")
	addOutputFlag(fs, &out)
	return cmd
}
