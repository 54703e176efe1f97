package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/licmesh/licmesh/mesh/usagewire"
	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func (a *app) reportCommand() *cobra.Command {
	return group("report", "Reports on the use of the seats", a.reportUtilizationCommand())
}

func (a *app) reportUtilizationCommand() *cobra.Command {
	var (
		o           gridOutput
		month, pool string
		departments bool
	)
	cmd := &cobra.Command{
		Use:   "utilization [--month YYYY-MM] [--pool P] [--departments] [-o table|json|csv|xlsx] [--file F]",
		Short: "Seats held on average, the peak, time at the limit and idle seats, per month and pool",
		Long: `Report, per month (UTC) and pool, the seats held on average over the time
observed, the most held at once, the share of the time the pool was at its
seats, and the seats never used at once; with --departments, each
department's average and peak in each pool too. The masters integrate the
use on trusted time at every change, so nothing is sampled.`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if month != "" {
				if _, err := time.Parse("2006-01", month); err != nil {
					return usagef("--month %q: want YYYY-MM", month)
				}
			}
			return o.check(a.stdout)
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.GetUtilization, &v1.GetUtilizationRequest{Month: month, Pool: pool, Departments: departments})
			if err != nil {
				return err
			}
			return a.printGrid(o, res, usagewire.UtilizationGrid(res.GetRows()))
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&month, "month", "", "one month, YYYY-MM (default: the last 24)")
	fs.StringVar(&pool, "pool", "", "one pool")
	fs.BoolVar(&departments, "departments", false, "each department's rows too")
	o.bind(fs)
	return cmd
}
