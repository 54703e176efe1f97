package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

func resellerColumns() []column[*v1.Reseller] {
	type r = *v1.Reseller
	return []column[r]{
		{"ID", func(x r) string { return x.GetId() }},
		{"NAME", func(x r) string { return x.GetName() }},
		{"CREATED", func(x r) string { return msTime(x.GetCreatedAtMs()) }},
	}
}

func companyColumns() []column[*v1.Company] {
	type c = *v1.Company
	return []column[c]{
		{"ID", func(x c) string { return x.GetId() }},
		{"NAME", func(x c) string { return x.GetName() }},
		{"EMAIL", func(x c) string { return x.GetEmail() }},
		{"RESELLER", func(x c) string { return x.GetResellerId() }},
		{"CREATED", func(x c) string { return msTime(x.GetCreatedAtMs()) }},
		{"ERASED", func(x c) string { return msTime(x.GetErasedAtMs()) }},
	}
}

func historyColumns() []column[*v1.HistoryEvent] {
	type e = *v1.HistoryEvent
	return []column[e]{
		{"AT", func(x e) string { return msTime(x.GetAtMs()) }},
		{"EVENT", func(x e) string { return x.GetKind() }},
		{"LICENSE", func(x e) string { return x.GetLicenseId() }},
		{"DETAIL", func(x e) string { return x.GetDetail() }},
	}
}

func (h *hubApp) resellerCommand() *cobra.Command {
	return group("reseller", "Create and list resellers",
		h.resellerCreateCommand(),
		h.resellerListCommand(),
	)
}

func (h *hubApp) resellerCreateCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a reseller (then give it an account: hub account create --role reseller)",
		Args:  oneArg("reseller name"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			res, err := hubCall(ctx, h, hub.CreateReseller, &v1.CreateResellerRequest{Name: args[0]})
			if err != nil {
				return err
			}
			return printOne(h.a.stdout, out, res, resellerColumns(), res.GetReseller())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) resellerListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List resellers",
		Args:  noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.ListResellers, &v1.ListResellersRequest{})
			if err != nil {
				return err
			}
			return printList(h.a.stdout, out, res, resellerColumns(), res.GetResellers())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) companyCommand() *cobra.Command {
	return group("company", "Create, list and show customer companies; export or erase their personal data",
		h.companyCreateCommand(),
		h.companyListCommand(),
		h.companyShowCommand(),
		h.companyExportCommand(),
		h.companyEraseCommand(),
	)
}

func (h *hubApp) companyCreateCommand() *cobra.Command {
	var (
		out             format
		email, reseller string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --email E [--reseller ID]",
		Short: "Create a customer company",
		Args:  oneArg("company name"),
		PreRunE: func(*cobra.Command, []string) error {
			if strings.TrimSpace(email) == "" {
				return usagef("--email is needed: the company's contact email")
			}
			return nil
		},
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			res, err := hubCall(ctx, h, hub.CreateCompany, &v1.CreateCompanyRequest{Name: args[0], Email: email, ResellerId: reseller})
			if err != nil {
				return err
			}
			return printOne(h.a.stdout, out, res, companyColumns(), res.GetCompany())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&email, "email", "", "the company's contact email")
	fs.StringVar(&reseller, "reseller", "", "the reseller who sold to it (admins; a reseller's own call makes its own customer)")
	_ = cmd.MarkFlagRequired("email")
	addOutputFlag(fs, &out)
	return cmd
}

func (h *hubApp) companyListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List customer companies (a reseller sees its own)",
		Args:  noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.ListCompanies, &v1.ListCompaniesRequest{})
			if err != nil {
				return err
			}
			return printList(h.a.stdout, out, res, companyColumns(), res.GetCompanies())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) companyShowCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a company, its licenses, users and history",
		Long: `Show a company, then its licenses, its users and its history (trials started,
extended, converted, packs added, licenses revoked). -o json prints all of
it; -o csv the company's own row (its licenses as CSV: hub license list
--company ID -o csv).`,
		Args: oneArg("company ID"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			res, err := hubCall(ctx, h, hub.GetCompany, &v1.GetCompanyRequest{Id: args[0]})
			if err != nil {
				return err
			}
			if err := printOne(h.a.stdout, out, res, companyColumns(), res.GetCompany()); err != nil || out != formatTable {
				return err
			}
			w := h.a.stdout
			fmt.Fprintln(w, "\nLICENSES")
			if err := printList(w, out, res, hubLicenseColumns(), res.GetLicenses()); err != nil {
				return err
			}
			fmt.Fprintln(w, "\nUSERS")
			if err := printList(w, out, res, accountColumns(), res.GetUsers()); err != nil {
				return err
			}
			fmt.Fprintln(w, "\nHISTORY")
			return printList(w, out, res, historyColumns(), res.GetHistory())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) companyExportCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "export ID [-f FILE]",
		Short: "Export the personal data the hub holds on a company's people (JSON)",
		Long: `Export, for an access request (GDPR, CCPA), everything the hub holds about a
company's people, as JSON: to stdout, or to FILE (mode 0600: it is personal
data). The export is audited.`,
		Args: oneArg("company ID"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			res, err := hubCall(ctx, h, hub.ExportCompanyData, &v1.ExportCompanyDataRequest{Id: args[0]})
			if err != nil {
				return err
			}
			data := res.GetJson()
			if !strings.HasSuffix(data, "\n") {
				data += "\n"
			}
			if file == "" || file == "-" {
				_, err := fmt.Fprint(h.a.stdout, data)
				return err
			}
			if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
				return fmt.Errorf("meshctl: %w", err)
			}
			fmt.Fprintf(h.a.stderr, "wrote the personal data of company %s to %s\n", tableCell(args[0]), file)
			return nil
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "write the JSON here instead of stdout")
	return cmd
}

func (h *hubApp) companyEraseCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "erase ID [--yes]",
		Short: "Erase the personal data of a company and its people (cannot be undone)",
		Long: `Erase, for an erasure request, the personal data the hub holds on a company
and its people: names and emails become pseudonyms. Licenses and their
history stay. This cannot be undone, so meshctl shows the company and asks
you to type its ID; --yes skips the question (needed when standard input is
not a terminal).`,
		Args: oneArg("company ID"),
		PreRunE: func(*cobra.Command, []string) error {
			if !yes && !isTerminal(os.Stdin) {
				return usagef("erasing cannot be undone and standard input is not a terminal to confirm on: give --yes")
			}
			return nil
		},
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			id := args[0]
			if !yes {
				got, err := hubCall(ctx, h, hub.GetCompany, &v1.GetCompanyRequest{Id: id})
				if err != nil {
					return err
				}
				c := got.GetCompany()
				fmt.Fprintf(h.a.stderr, "Erase the personal data of %s <%s> (%s) and its %s? This cannot be undone.\nType the company ID to confirm: ",
					tableCell(c.GetName()), tableCell(c.GetEmail()), tableCell(c.GetId()), count(len(got.GetUsers()), "user"))
				answer, err := readLine(os.Stdin)
				if err != nil || strings.TrimSpace(answer) != id {
					return errors.New("meshctl: not confirmed; nothing erased")
				}
			}
			if _, err := hubCall(ctx, h, hub.EraseCompany, &v1.EraseCompanyRequest{Id: id}); err != nil {
				return err
			}
			_, err := fmt.Fprintf(h.a.stdout, "erased the personal data of company %s\n", tableCell(id))
			return err
		}),
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "erase without asking")
	return cmd
}
