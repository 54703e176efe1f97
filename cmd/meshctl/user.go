package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// userRoles is the help text's list of the masters' roles (docs/accounts.md).
const userRoles = "admin, license_manager, it, auditor or viewer"

func userColumns() []column[*v1.User] {
	type u = *v1.User
	return []column[u]{
		{"NAME", func(x u) string { return x.GetName() }},
		{"ROLE", func(x u) string { return x.GetRole() }},
		{"ENABLED", func(x u) string { return yesNo(!x.GetDisabled()) }},
		{"API TOKENS", func(x u) string { return u32(x.GetApiTokens()) }},
		{"PASSWORD SET", func(x u) string { return msTime(x.GetPasswordSetAtMs()) }},
		{"CREATED", func(x u) string { return msTime(x.GetCreatedAtMs()) }},
		{"CREATED BY", func(x u) string { return x.GetCreatedBy() }},
	}
}

func (a *app) userCommand() *cobra.Command {
	return group("user", "Create, list and change the people who sign in to the masters",
		a.userCreateCommand(),
		a.userListCommand(),
		a.userSetCommand(),
		a.userPasswdCommand(),
	)
}

// password reads a new password for what: from file when one is given
// (its first line), else from the terminal without echo (twice) or the
// next line of standard input.
func (a *app) password(ctx context.Context, file, what string) (string, error) {
	var pw string
	if file != "" {
		b, err := readSmallFile(file)
		if err != nil {
			return "", usagef("--password-file: %v", err)
		}
		pw, _, _ = strings.Cut(string(b), "\n")
		pw = strings.TrimSuffix(pw, "\r")
		if pw == "" {
			return "", usagef("--password-file %s: the first line is empty", file)
		}
	} else {
		var err error
		if pw, err = readSecret(ctx, a.stderr, "Password for "+what+": ", "password"); err != nil {
			return "", err
		}
		if isTerminal(os.Stdin) {
			again, err := readSecret(ctx, a.stderr, "Password again: ", "password")
			if err != nil {
				return "", err
			}
			if again != pw {
				return "", usagef("the passwords differ; nothing changed")
			}
		}
	}
	a.secrets = append(a.secrets, pw)
	return pw, nil
}

func (a *app) userCreateCommand() *cobra.Command {
	var (
		out          format
		role, pwFile string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --role ROLE [--password-file FILE]",
		Short: "Create a user who signs in to the dashboard with a password",
		Long: `Create a user. Roles: ` + userRoles + ` (docs/accounts.md says what
each may do). A name is 1 to 64 characters of lower-case letters, digits and
. _ @ -, so an e-mail address will do.

The password (at least 12 characters) is read from --password-file, or from
the terminal without echo, twice, or as the first line of standard input
when that is not a terminal. The masters keep only an argon2id hash of it.`,
		Args: oneArg("user name"),
		PreRunE: func(*cobra.Command, []string) error {
			if strings.TrimSpace(role) == "" {
				return usagef("--role is required: one of %s", userRoles)
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			pw, err := a.password(ctx, pwFile, args[0])
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.CreateUser, &v1.CreateUserRequest{Name: args[0], Role: role, Password: pw})
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, userColumns(), res.GetUser())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&role, "role", "", "what the user may do: "+userRoles)
	fs.StringVar(&pwFile, "password-file", "", "read the password from the first line of this file")
	addOutputFlag(fs, &out)
	return cmd
}

func (a *app) userListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the users (never their passwords)",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListUsers, &v1.ListUsersRequest{})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, userColumns(), res.GetUsers())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) userSetCommand() *cobra.Command {
	var (
		out                               format
		role, pwFile                      string
		disable, enable, end, setPassword bool
	)
	cmd := &cobra.Command{
		Use:   "set NAME [--role ROLE] [--disable | --enable] [--password] [--end-sessions]",
		Short: "Change a user's role or password, disable or enable the account, end its sessions",
		Long: `Change a user. Every change but --enable signs the user out everywhere:
their dashboard sessions end on every master at once. A disabled user's API
tokens stop working until the account is enabled again.

--password sets a new password, read as for 'meshctl user create'.`,
		Args: oneArg("user name"),
		PreRunE: func(*cobra.Command, []string) error {
			switch {
			case disable && enable:
				return usagef("--disable and --enable together")
			case role == "" && !disable && !enable && !end && !setPassword && pwFile == "":
				return usagef("nothing to change: give --role, --password, --disable, --enable or --end-sessions")
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			req := &v1.UpdateUserRequest{Name: args[0], Role: role, Disable: disable, Enable: enable, EndSessions: end}
			if setPassword || pwFile != "" {
				if req.Password, err = a.password(ctx, pwFile, args[0]); err != nil {
					return err
				}
			}
			res, err := call(ctx, a, admin.UpdateUser, req)
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, userColumns(), res.GetUser())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&role, "role", "", "a new role: "+userRoles)
	fs.BoolVar(&setPassword, "password", false, "set a new password")
	fs.StringVar(&pwFile, "password-file", "", "set a new password, read from the first line of this file")
	fs.BoolVar(&disable, "disable", false, "disable the account: no sign-in, no API token")
	fs.BoolVar(&enable, "enable", false, "enable a disabled account")
	fs.BoolVar(&end, "end-sessions", false, "sign the user out everywhere")
	addOutputFlag(fs, &out)
	return cmd
}

func (a *app) userPasswdCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "passwd",
		Aliases: []string{"password"},
		Short:   "Change your own password (the user the API token belongs to)",
		Long: `Change the password of the user the API token acts for. The current and the
new password are read from the terminal without echo (the new one twice) or,
when standard input is not a terminal, as its first two lines. Your other
dashboard sessions end; API tokens stay valid.`,
		Args: noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			old, err := readSecret(ctx, a.stderr, "Current password: ", "current password")
			if err != nil {
				return err
			}
			a.secrets = append(a.secrets, old)
			pw, err := a.password(ctx, "", "the new password")
			if err != nil {
				return err
			}
			if _, err := call(ctx, a, admin.ChangeOwnPassword, &v1.ChangeOwnPasswordRequest{OldPassword: old, NewPassword: pw}); err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stderr, "password changed; other dashboard sessions ended, API tokens stay valid")
			return err
		}),
	}
}

func (a *app) whoamiCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Say who the API token acts for, its role and what it may do",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.GetCaller, &v1.GetCallerRequest{})
			if err != nil {
				return err
			}
			type c = *v1.GetCallerResponse
			return printOne(a.stdout, out, res, []column[c]{
				{"PRINCIPAL", func(r c) string { return r.GetPrincipal() }},
				{"ROLE", func(r c) string { return r.GetRole() }},
				{"TOKEN", func(r c) string { return r.GetTokenId() }},
				{"PERMISSIONS", func(r c) string { return strings.Join(r.GetPermissions(), ",") }},
			}, res)
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
