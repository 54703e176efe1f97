package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/licmesh/licmesh/mesh/usagewire"
	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// minorUnits parses an amount like 1200 or 1200.50 into hundredths.
func minorUnits(s string) (int64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f > 1e10 || math.IsNaN(f) {
		return 0, fmt.Errorf("want an amount like 1200 or 1200.50")
	}
	return int64(math.Round(f * 100)), nil
}

func licenseCostColumns() []column[*v1.LicenseCost] {
	type c = *v1.LicenseCost
	return []column[c]{
		{"LICENSE", func(x c) string { return x.GetLicenseId() }},
		{"AMOUNT", func(x c) string { return usagewire.CostText(x.GetAmountMinor(), x.GetCurrency()) }},
		{"PER", func(x c) string { return x.GetPeriod() }},
		{"OWNER", func(x c) string { return x.GetOwner() }},
		{"PURCHASED", func(x c) string { return msTime(x.GetPurchasedAtMs()) }},
		{"NOTE", func(x c) string { return x.GetNote() }},
	}
}

func (a *app) licenseCostSetCommand() *cobra.Command {
	var (
		out                                  format
		amount, currency, per, owner, bought string
		note                                 string
	)
	cmd := &cobra.Command{
		Use:   "set LICENSE --amount 1200.00 --currency EUR --per month|year [--owner O] [--purchased YYYY-MM-DD] [--note N]",
		Short: "Record what a license cost and who owns it",
		Long: `Record a license's cost, per month or per year, in one currency for the whole
site, and who owns it (a person, a cost center). 'meshctl report
utilization' then gives each pool's monthly cost and each department's
share of it, by the seat-time it used.`,
		Args: oneArg("license ID"),
		PreRunE: func(*cobra.Command, []string) error {
			if _, err := minorUnits(amount); err != nil {
				return usagef("--amount %q: %v", amount, err)
			}
			if per != "month" && per != "year" {
				return usagef("--per %q: month or year", per)
			}
			if bought != "" {
				if _, err := time.Parse(time.DateOnly, bought); err != nil {
					return usagef("--purchased %q: want YYYY-MM-DD", bought)
				}
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			minor, _ := minorUnits(amount)
			c := &v1.LicenseCost{LicenseId: args[0], AmountMinor: minor, Currency: strings.ToUpper(strings.TrimSpace(currency)),
				Period: per, Owner: owner, Note: note}
			if bought != "" {
				t, _ := time.Parse(time.DateOnly, bought)
				c.PurchasedAtMs = t.UnixMilli()
			}
			res, err := call(ctx, a, admin.SetLicenseCost, &v1.SetLicenseCostRequest{Cost: c})
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, licenseCostColumns(), res.GetCost())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&amount, "amount", "", "the amount, like 1200.50")
	fs.StringVar(&currency, "currency", "", "ISO 4217 code, like EUR (one for the whole site)")
	fs.StringVar(&per, "per", "year", "month or year")
	fs.StringVar(&owner, "owner", "", "who owns and pays for it")
	fs.StringVar(&bought, "purchased", "", "when it was bought, YYYY-MM-DD")
	fs.StringVar(&note, "note", "", "a note, like the order number")
	addOutputFlag(fs, &out)
	return cmd
}

func (a *app) licenseCostListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the licenses' recorded costs",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListLicenseCosts, &v1.ListLicenseCostsRequest{})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, licenseCostColumns(), res.GetCosts())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) licenseCostRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove LICENSE",
		Short: "Drop a license's recorded cost",
		Args:  oneArg("license ID"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			if _, err := call(ctx, a, admin.SetLicenseCost, &v1.SetLicenseCostRequest{Cost: &v1.LicenseCost{LicenseId: args[0]}, Remove: true}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "removed the cost of %s\n", args[0])
			return err
		}),
	}
}
