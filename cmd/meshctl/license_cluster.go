package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// maxLicenseBytes bounds a license read from a file or stdin: the master
// takes no larger one.
const maxLicenseBytes = 256 << 10

func licenseColumns() []column[*v1.License] {
	type l = *v1.License
	return []column[l]{
		{"ID", func(r l) string { return r.GetId() }},
		{"PRODUCT", func(r l) string { return r.GetProduct() }},
		{"TYPE", func(r l) string { return r.GetType() }},
		{"STATUS", func(r l) string { return r.GetStatus() }},
		{"POOLS", func(r l) string { return describePoolUse(r.GetPools()) }},
		{"CUSTOMER", func(r l) string { return r.GetCustomer() }},
		{"ADDED", func(r l) string { return msTime(r.GetAddedAtMs()) }},
		{"EXPIRES", func(r l) string { return msTime(r.GetExpiresAtMs()) }},
		{"DAYS LEFT", func(r l) string {
			if r.GetExpiresAtMs() == 0 {
				return ""
			}
			return strconv.Itoa(int(r.GetDaysLeft()))
		}},
	}
}

// describePoolUse renders "designer 3/5, viewer 0/10".
func describePoolUse(pools []*v1.Pool) string {
	parts := make([]string, 0, len(pools))
	for _, p := range pools {
		parts = append(parts, fmt.Sprintf("%s %d/%d", p.GetName(), p.GetHeld(), p.GetSeats()))
	}
	return strings.Join(parts, ", ")
}

func (a *app) licenseAddCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "add FILE|-",
		Short: "Put a license in force on the cluster",
		Long: `Send a license (a file, or - for standard input) to the cluster. The master
checks the vendor's signature, the cluster binding and the dates, and refuses
the license with the precise reason, changing nothing, when any is wrong. A
license for a subscription the cluster already holds replaces the older one
without dropping held leases.`,
		Args: oneArg("license file, or - for standard input"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			text, err := readInput(args[0], maxLicenseBytes)
			if err != nil {
				return usagef("%v", err)
			}
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.AddLicense, &v1.AddLicenseRequest{Text: string(text)})
			if err != nil {
				return err
			}
			if r := res.GetReplaced(); r != "" && out == formatTable {
				fmt.Fprintf(a.stderr, "replaced license %s of the same subscription\n", r)
			}
			return printOne(a.stdout, out, res, licenseColumns(), res.GetLicense())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) licenseListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the licenses in force and their use",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListLicenses, &v1.ListLicensesRequest{})
			if err != nil {
				return err
			}
			if res.GetTampered() {
				fmt.Fprintln(a.stderr, "warning: this master's clock is more than 24h behind the cluster's trusted time")
			}
			return printList(a.stdout, out, res, licenseColumns(), res.GetLicenses())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) licenseShowCommand() *cobra.Command {
	var (
		out  format
		text bool
	)
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one license (--text prints the license as the vendor signed it)",
		Args:  oneArg("license id"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.GetLicense, &v1.GetLicenseRequest{Id: args[0]})
			if err != nil {
				return err
			}
			if text {
				_, err := io.WriteString(a.stdout, res.GetLicense().GetText())
				return err
			}
			cols := append(licenseColumns(), column[*v1.License]{"FEATURES", func(r *v1.License) string { return strings.Join(r.GetFeatures(), ", ") }},
				column[*v1.License]{"SUBSCRIPTION", func(r *v1.License) string { return r.GetSubscriptionId() }},
				column[*v1.License]{"KEY", func(r *v1.License) string { return r.GetKeyId() }},
				column[*v1.License]{"CREDITS", describeCredits},
				column[*v1.License]{"COVERS", describeCoverage})
			return printOne(a.stdout, out, res, cols, res.GetLicense())
		}),
	}
	cmd.Flags().BoolVar(&text, "text", false, "print the armoured license text")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) licenseRemoveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove ID",
		Short: "Take a license out of force (its pools grant nothing new)",
		Args:  oneArg("license id"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			if _, err := call(ctx, a, admin.RemoveLicense, &v1.RemoveLicenseRequest{Id: args[0]}); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "removed license %s\n", args[0])
			return nil
		}),
	}
	return cmd
}

// describeCredits is "3 of 10 case left (low)", or "" without credits.
func describeCredits(r *v1.License) string {
	if r.GetCreditsUnit() == "" {
		return ""
	}
	s := fmt.Sprintf("%d of %d %s left", r.GetCreditsRemaining(), r.GetCreditsBought(), r.GetCreditsUnit())
	switch {
	case r.GetCreditsRemaining() == 0:
		s += " (exhausted)"
	case r.GetCreditsLow():
		s += " (low)"
	}
	return s
}

// describeCoverage is a volume license's installations and the collectors
// holding them.
func describeCoverage(r *v1.License) string {
	n := r.GetVolumeInstallations()
	if n == 0 {
		return ""
	}
	cov := r.GetCoveredCollectors()
	s := fmt.Sprintf("%d of %d installation(s)", len(cov), n)
	if len(cov) > 0 {
		s += ": " + strings.Join(cov, ", ")
	}
	return s
}
