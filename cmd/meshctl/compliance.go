package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func inventoryColumns() []column[*v1.InventoryRow] {
	type r = *v1.InventoryRow
	return []column[r]{
		{"COLLECTOR", func(x r) string { return x.GetCollectorId() }},
		{"HOST", func(x r) string { return x.GetHostname() }},
		{"VERSION", func(x r) string { return x.GetVersion() }},
		{"LAST SEEN", func(x r) string { return msTime(x.GetLastSeenMs()) }},
		{"LEASES", func(x r) string { return u32(x.GetLeases()) }},
		{"LICENSES", func(x r) string { return strings.Join(x.GetLicenses(), ",") }},
		{"STATUS", func(x r) string { return x.GetStatus() }},
	}
}

func mismatchColumns() []column[*v1.Mismatch] {
	type m = *v1.Mismatch
	return []column[m]{
		{"KIND", func(x m) string { return x.GetKind() }},
		{"SUBJECT", func(x m) string { return x.GetSubject() }},
		{"DETAIL", func(x m) string { return x.GetDetail() }},
	}
}

func productComplianceColumns() []column[*v1.ProductCompliance] {
	type p = *v1.ProductCompliance
	return []column[p]{
		{"SKU", func(x p) string { return x.GetSku() }},
		{"PRODUCT", func(x p) string { return x.GetName() }},
		{"LICENSES", func(x p) string { return u32(x.GetLicenses()) }},
		{"SEATS", func(x p) string { return u32(x.GetSeats()) }},
		{"HELD", func(x p) string { return u32(x.GetHeld()) }},
		{"STATUS", func(x p) string { return x.GetStatus() }},
		{"DETAIL", func(x p) string { return x.GetDetail() }},
	}
}

func (a *app) complianceCommand() *cobra.Command {
	var (
		out            format
		section, month string
	)
	cmd := &cobra.Command{
		Use:   "compliance [--month YYYY-MM] [--section products|mismatches|inventory]",
		Short: "Set the installations against the licenses: what does not match, and each product's standing",
		Long: `Reconcile the site: every installation (collector) against the licenses in
force that cover it, the mismatches (an installation no license covers, a
license no installation uses, pools past their seats, soft-pool overage in
the last 30 days, licenses in their grace still in use), and each product's
compliance status. The table shows all three; -o csv one --section
(products by default); -o json everything.

--month gives the month's compliance report: the pools judged by that
month's peak against their seats, from the use the masters keep (24
months).`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if month != "" {
				if _, err := time.Parse("2006-01", month); err != nil {
					return usagef("--month %q: want YYYY-MM", month)
				}
			}
			switch section {
			case "", "products", "mismatches", "inventory":
				return nil
			}
			return usagef("--section %q: products, mismatches or inventory", section)
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.GetReconciliation, &v1.GetReconciliationRequest{Month: month})
			if err != nil {
				return err
			}
			if out != formatTable || section != "" {
				switch section {
				case "mismatches":
					return printList(a.stdout, out, res, mismatchColumns(), res.GetMismatches())
				case "inventory":
					return printList(a.stdout, out, res, inventoryColumns(), res.GetInventory())
				}
				return printList(a.stdout, out, res, productComplianceColumns(), res.GetProducts())
			}
			verdict := "compliant"
			if !res.GetCompliant() {
				verdict = "NOT compliant"
			}
			when := "judged at " + msTime(res.GetJudgedAtMs())
			if month != "" {
				when = "in " + month + " (by that month's use; the inventory is now's)"
			}
			fmt.Fprintf(a.stdout, "The site is %s, %s.\n\nPRODUCTS\n", verdict, when)
			if err := printList(a.stdout, out, res, productComplianceColumns(), res.GetProducts()); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "\nMISMATCHES")
			if err := printList(a.stdout, out, res, mismatchColumns(), res.GetMismatches()); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "\nINVENTORY")
			return printList(a.stdout, out, res, inventoryColumns(), res.GetInventory())
		}),
	}
	cmd.Flags().StringVar(&section, "section", "", "one part: products, mismatches or inventory")
	cmd.Flags().StringVar(&month, "month", "", "the month's report, YYYY-MM")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
