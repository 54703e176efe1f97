package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

func accountColumns() []column[*v1.Account] {
	type a = *v1.Account
	return []column[a]{
		{"ID", func(x a) string { return x.GetId() }},
		{"EMAIL", func(x a) string { return x.GetEmail() }},
		{"NAME", func(x a) string { return x.GetName() }},
		{"ROLE", func(x a) string { return x.GetRole() }},
		{"COMPANY", func(x a) string { return x.GetCompanyId() }},
		{"RESELLER", func(x a) string { return x.GetResellerId() }},
		{"CREATED", func(x a) string { return msTime(x.GetCreatedAtMs()) }},
		{"DISABLED", func(x a) string { return msTime(x.GetDisabledAtMs()) }},
	}
}

// createdAccountColumns describe a new account for CSV, the password
// included: whoever asks for CSV is capturing it.
func createdAccountColumns() []column[*v1.CreateAccountResponse] {
	type c = *v1.CreateAccountResponse
	cols := []column[c]{}
	for _, col := range accountColumns() {
		cols = append(cols, column[c]{col.header, func(r c) string { return col.value(r.GetAccount()) }})
	}
	return append(cols, column[c]{"PASSWORD", func(r c) string { return r.GetPassword() }})
}

func apiKeyColumns() []column[*v1.APIKey] {
	type k = *v1.APIKey
	return []column[k]{
		{"ID", func(x k) string { return x.GetId() }},
		{"NAME", func(x k) string { return x.GetName() }},
		{"CREATED", func(x k) string { return msTime(x.GetCreatedAtMs()) }},
		{"LAST USED", func(x k) string { return msTime(x.GetLastUsedAtMs()) }},
		{"REVOKED", func(x k) string { return msTime(x.GetRevokedAtMs()) }},
	}
}

func createdKeyColumns() []column[*v1.CreateAPIKeyResponse] {
	type c = *v1.CreateAPIKeyResponse
	return []column[c]{
		{"ID", func(r c) string { return r.GetKey().GetId() }},
		{"NAME", func(r c) string { return r.GetKey().GetName() }},
		{"CREATED", func(r c) string { return msTime(r.GetKey().GetCreatedAtMs()) }},
		{"KEY", func(r c) string { return r.GetSecret() }},
	}
}

func (h *hubApp) accountCommand() *cobra.Command {
	return group("account", "Create, list and disable the accounts of staff, resellers and customers",
		h.accountCreateCommand(),
		h.accountListCommand(),
		h.accountDisableCommand(),
	)
}

func (h *hubApp) accountCreateCommand() *cobra.Command {
	var (
		out                                  format
		email, name, role, company, reseller string
	)
	cmd := &cobra.Command{
		Use:   "create --email E --name N --role R [--company ID] [--reseller ID]",
		Short: "Create an account; its password is printed once",
		Long: `Create an account. Roles: admin, license_manager, release_manager, sales,
reseller (give --reseller) and customer (give --company). Admins create any
account; license managers and resellers customers' accounts only.

The password the hub made is printed once, alone on stdout; what the
account is goes to stderr. With -o json or csv the whole response, the
password included, goes to stdout.`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			for _, f := range []struct{ flag, v string }{{"--email", email}, {"--name", name}, {"--role", role}} {
				if strings.TrimSpace(f.v) == "" {
					return usagef("%s is needed", f.flag)
				}
			}
			return nil
		},
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.CreateAccount, &v1.CreateAccountRequest{
				Email: email, Name: name, Role: role, CompanyId: company, ResellerId: reseller,
			})
			if err != nil {
				return err
			}
			h.secrets = append(h.secrets, res.GetPassword())
			if out != formatTable {
				return printOne(h.a.stdout, out, res, createdAccountColumns(), res)
			}
			acc := res.GetAccount()
			fmt.Fprintf(h.a.stderr, "created %s account %s for %s; the password is shown once:\n",
				tableCell(acc.GetRole()), tableCell(acc.GetId()), tableCell(acc.GetEmail()))
			_, err = fmt.Fprintln(h.a.stdout, res.GetPassword())
			return err
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&email, "email", "", "the person's email, to sign in with")
	fs.StringVar(&name, "name", "", "the person's name")
	fs.StringVar(&role, "role", "", "admin, license_manager, release_manager, sales, reseller or customer")
	fs.StringVar(&company, "company", "", "the company of a customer account")
	fs.StringVar(&reseller, "reseller", "", "the reseller of a reseller account")
	for _, f := range []string{"email", "name", "role"} {
		_ = cmd.MarkFlagRequired(f)
	}
	addOutputFlag(fs, &out)
	return cmd
}

func (h *hubApp) accountListCommand() *cobra.Command {
	var (
		out           format
		role, company string
	)
	cmd := &cobra.Command{
		Use:   "list [--role R] [--company ID]",
		Short: "List accounts (license managers see customers' accounts only)",
		Args:  noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.ListAccounts, &v1.ListAccountsRequest{Role: role, CompanyId: company})
			if err != nil {
				return err
			}
			return printList(h.a.stdout, out, res, accountColumns(), res.GetAccounts())
		}),
	}
	cmd.Flags().StringVar(&role, "role", "", "only accounts of this role")
	cmd.Flags().StringVar(&company, "company", "", "only the accounts of this company")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) accountDisableCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "disable ID",
		Short: "Disable an account: it can no longer sign in, and its API keys stop working",
		Args:  oneArg("account ID"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			if _, err := hubCall(ctx, h, hub.DisableAccount, &v1.DisableAccountRequest{Id: args[0]}); err != nil {
				return err
			}
			_, err := fmt.Fprintf(h.a.stdout, "disabled account %s\n", tableCell(args[0]))
			return err
		}),
	}
}

func (h *hubApp) keyCommand() *cobra.Command {
	return group("key", "Create, list and revoke your own hub API keys",
		h.keyCreateCommand(),
		h.keyListCommand(),
		h.keyRevokeCommand(),
	)
}

func (h *hubApp) keyCreateCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API key for your account; it is printed once",
		Long: `Create an API key for the account of the key in use, e.g. for a CI job. The
key is printed once, alone on stdout:

    KEY=$(meshctl hub key create ci-release)

What the key is goes to stderr. With -o json or csv the whole response, the
key included, goes to stdout.`,
		Args: oneArg("key name"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			res, err := hubCall(ctx, h, hub.CreateAPIKey, &v1.CreateAPIKeyRequest{Name: args[0]})
			if err != nil {
				return err
			}
			h.secrets = append(h.secrets, res.GetSecret())
			if out != formatTable {
				return printOne(h.a.stdout, out, res, createdKeyColumns(), res)
			}
			fmt.Fprintf(h.a.stderr, "created API key %s %q; the key is shown once:\n", res.GetKey().GetId(), tableCell(res.GetKey().GetName()))
			_, err = fmt.Fprintln(h.a.stdout, res.GetSecret())
			return err
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) keyListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List your API keys (never their secrets)",
		Args:  noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.ListAPIKeys, &v1.ListAPIKeysRequest{})
			if err != nil {
				return err
			}
			return printList(h.a.stdout, out, res, apiKeyColumns(), res.GetKeys())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) keyRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke one of your API keys",
		Args:  oneArg("key ID"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			if _, err := hubCall(ctx, h, hub.RevokeAPIKey, &v1.RevokeAPIKeyRequest{Id: args[0]}); err != nil {
				return err
			}
			msg := fmt.Sprintf("revoked API key %s\n", tableCell(args[0]))
			if args[0] == hubKeyID(h.key) {
				msg += "that was the key in use: sign in again with meshctl hub login\n"
			}
			_, err := fmt.Fprint(h.a.stdout, msg)
			return err
		}),
	}
}
